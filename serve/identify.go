package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/gradcam"
	"github.com/dogrun/dogrun/openset"
	"github.com/dogrun/dogrun/report"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

// shownPx is the longest side of the overlay the identify page shows: the
// backbone sees far fewer pixels, and a 12-megapixel overlay would make a
// page of many megabytes.
const shownPx = 448

// shownScores is how many dogs the identify page lists.
const shownScores = 10

// models keeps the backbones identify and Grad-CAM opened, for the most
// recently used trials, and lets one such job run at a time: they use the
// CPU a running sweep needs.
type models struct {
	mu    sync.Mutex
	open  []*model // most recently used first
	max   int
	job   chan struct{}
	tiles *memTiles
}

// model is a done trial's predictor and Grad-CAM explainer.
type model struct {
	key  string // the trial's hash and when it finished
	pred *runner.Predictor
	expl *gradcam.Explainer
}

func newModels(max int) *models {
	return &models{max: max, job: make(chan struct{}, 1), tiles: &memTiles{tiles: map[gradcam.TileKey]gradcam.Tile{}, max: 256}}
}

// busy waits for the turn of a backbone job; release ends it.
func (m *models) busy() (release func()) {
	m.job <- struct{}{}
	return func() { <-m.job }
}

// get returns trial t's model, opening it when it is not open. Call it
// between busy and release: a model closed to make room is in nobody's use.
func (m *models) get(c context.Context, st *results.Store, exp results.Experiment, t results.Trial, cacheDir string, threads int) (*model, error) {
	key := t.Hash
	if t.FinishedAt != nil {
		key += t.FinishedAt.String()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, o := range m.open {
		if o.key == key {
			copy(m.open[1:i+1], m.open[:i])
			m.open[0] = o
			return o, nil
		}
	}
	pred, err := runner.NewPredictor(c, st, exp, t, cacheDir, threads)
	if err != nil {
		return nil, err
	}
	expl, err := runner.NewExplainer(c, st, exp, t, cacheDir, threads)
	if err != nil {
		pred.Close()
		return nil, err
	}
	o := &model{key: key, pred: pred, expl: expl}
	m.open = append([]*model{o}, m.open...)
	for len(m.open) > m.max {
		m.open[len(m.open)-1].close()
		m.open = m.open[:len(m.open)-1]
	}
	return o, nil
}

func (o *model) close() error { return errors.Join(o.pred.Close(), o.expl.Close()) }

func (m *models) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, o := range m.open {
		errs = append(errs, o.close())
	}
	m.open = nil
	return errors.Join(errs...)
}

// identifyView is the identify page: the form and, after an upload, the answer.
type identifyView struct {
	Trials []trialChoice
	Chosen string
	Answer *answerView
	Error  string
	MaxMB  int
}

// trialChoice is a trial the form offers.
type trialChoice struct {
	Hash, Label string
}

// answerView is what a trial says about an uploaded photo.
type answerView struct {
	Photo, Trial, TrialLink string
	Decision                string
	Unknown                 bool
	Rule                    *openset.Rule
	Score                   float64
	Scores                  []scoreView
	Overlay                 camView
	Dogs                    int
}

type scoreView struct {
	Dog   string
	Score float64
}

func (s *Server) identifyPage(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	v, err := s.identifyForm(c, r.URL.Query().Get("trial"))
	if err != nil {
		return err
	}
	return s.pages.render(w, "identify.html", "layout", view{Title: "Identify a dog", Path: "/identify", D: v})
}

// identifyForm offers each experiment's best trial, and the chosen one.
func (s *Server) identifyForm(c context.Context, chosen string) (*identifyView, error) {
	v := &identifyView{Chosen: chosen, MaxMB: MaxUpload >> 20}
	best, err := s.st.BestTrials(c)
	if err != nil {
		return nil, err
	}
	exps, err := s.st.ExperimentOverviews(c)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, e := range exps {
		names[e.ID] = e.Name
	}
	if chosen != "" {
		e, t, err := s.trial(c, chosen)
		if err != nil {
			return nil, err
		}
		v.Chosen = t.Hash
		v.Trials = append(v.Trials, trialChoice{t.Hash, fmt.Sprintf("%s: trial %d (%s)", e.Name, t.Index+1, describeTrial(t))})
	}
	for _, b := range best {
		if b.Hash != v.Chosen {
			v.Trials = append(v.Trials, trialChoice{b.Hash, fmt.Sprintf("%s: best trial (%s seed=%d, test accuracy %.3f)",
				names[b.ExperimentID], b.VariantKey, b.Seed, b.Accuracy)})
		}
	}
	return v, nil
}

// identify answers an uploaded photo: the chosen trial's scores, its
// decision ("unknown" when its open-set rule rejects the photo) and the
// Grad-CAM overlay of the dog it names. The photo is read into memory,
// never onto disk, and forgotten with the answer.
func (s *Server) identify(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	fail := func(status int, format string, args ...any) error {
		v, err := s.identifyForm(c, r.URL.Query().Get("trial"))
		if err != nil {
			return err
		}
		v.Error = fmt.Sprintf(format, args...)
		return s.pages.renderStatus(w, status, "identify.html", "layout", view{Title: "Identify a dog", Path: "/identify", D: v})
	}
	form, err := readUpload(w, r)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			return fail(he.status, "%s", he.msg)
		}
		return err
	}
	if form.trial == "" {
		return fail(http.StatusBadRequest, "Choose a trial to identify the photo with.")
	}
	if len(form.photo) == 0 {
		return fail(http.StatusBadRequest, "Choose a photo to upload (JPEG or PNG, at most %d MB).", MaxUpload>>20)
	}
	img, err := dataset.DecodeUpload(form.name, form.photo)
	if err != nil {
		return fail(http.StatusUnsupportedMediaType, "%v. Upload a JPEG or PNG photo.", err)
	}
	e, t, err := s.trial(c, form.trial)
	if err != nil {
		return err
	}
	if t.Status != results.StatusDone {
		return fail(http.StatusBadRequest, "Trial %s is %s: only a done trial has a trained head.", t.Hash[:12], t.Status)
	}
	release := s.models.busy()
	defer release()
	m, err := s.models.get(c, s.st, e, t, s.opt.CacheDir, s.opt.Threads)
	if err != nil {
		return err
	}
	pred, err := m.pred.PredictImage(c, form.name, img)
	if err != nil {
		return err
	}
	shown := report.ScaleDown(img, shownPx)
	cam, err := m.expl.Explain(shown, pred.Top)
	if err != nil {
		return err
	}
	overlay, err := gradcam.OverlayPNG(shown, cam)
	if err != nil {
		return err
	}
	classes := m.pred.Classes
	a := &answerView{Photo: form.name, Trial: fmt.Sprintf("trial %d of %s (%s)", t.Index+1, e.Name, describeTrial(t)),
		TrialLink: link("/trial", "id", t.Hash), Decision: classes[pred.Top], Unknown: pred.Unknown, Rule: m.pred.Rule, Score: pred.Score,
		Dogs:    len(classes),
		Overlay: camView{Photo: form.name, Pred: classes[cam.Class], Prob: float64(cam.Probs[cam.Class]), Method: cam.Method, Empty: cam.Empty(), PNG: pngURL(overlay)}}
	order := make([]int, len(pred.Probs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return pred.Probs[order[i]] > pred.Probs[order[j]] })
	for _, k := range order[:min(shownScores, len(order))] {
		a.Scores = append(a.Scores, scoreView{classes[k], float64(pred.Probs[k])})
	}
	v, err := s.identifyForm(c, t.Hash)
	if err != nil {
		return err
	}
	v.Answer = a
	return s.pages.render(w, "identify.html", "layout", view{Title: "Identify a dog", Path: "/identify", D: v})
}

// upload is the identify form as posted.
type upload struct {
	trial string
	name  string // the photo's file name, for messages only
	photo []byte
}

// readUpload reads the multipart form into memory: the photo up to
// MaxUpload bytes (more is refused, not cut), the other fields up to a few
// hundred bytes. Nothing goes through a temporary file, as
// http.Request.ParseMultipartForm would do with a large part.
func readUpload(w http.ResponseWriter, r *http.Request) (upload, error) {
	tooBig := &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("The photo is larger than %d MB.", MaxUpload>>20)}
	const slack = 64 << 10 // the form's other fields and boundaries
	if r.ContentLength > MaxUpload+slack {
		return upload{}, tooBig
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxUpload+slack)
	mr, err := r.MultipartReader()
	if err != nil {
		return upload{}, badRequest("The request is not a form upload: %v.", err)
	}
	var u upload
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return u, nil
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return upload{}, tooBig
		}
		if err != nil {
			return upload{}, badRequest("The upload broke off: %v.", err)
		}
		limit := int64(512)
		if part.FormName() == "photo" {
			limit = MaxUpload
		}
		b, err := io.ReadAll(io.LimitReader(part, limit+1))
		switch {
		case errors.As(err, &mbe):
			return upload{}, tooBig
		case err != nil:
			return upload{}, badRequest("The upload broke off: %v.", err)
		case int64(len(b)) > limit && part.FormName() == "photo":
			return upload{}, tooBig
		case int64(len(b)) > limit:
			return upload{}, badRequest("Form field %q is too long.", part.FormName())
		}
		switch part.FormName() {
		case "trial":
			u.trial = string(bytes.TrimSpace(b))
		case "photo":
			u.name, u.photo = part.FileName(), b
			if u.name == "" {
				u.name = "the photo"
			}
		}
	}
}
