package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"sync"

	"github.com/dogrun/dogrun/gradcam"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

// trialCAMs is how many test photos the trial page explains, as the report.
const trialCAMs = 6

// trial finds a trial by its hash or a unique prefix of it.
func (s *Server) trial(c context.Context, id string) (results.Experiment, results.Trial, error) {
	type found struct {
		e results.Experiment
		t results.Trial
	}
	if id == "" {
		return results.Experiment{}, results.Trial{}, badRequest("which trial? (id=HASH)")
	}
	v, err := s.versions.get(c, 0)
	if err != nil {
		return results.Experiment{}, results.Trial{}, err
	}
	f, err := cached(s.memo, "trial\x00"+v.Results+"\x00"+id, func() (found, error) {
		e, t, err := s.st.FindTrial(c, id, "")
		switch {
		case errors.Is(err, results.ErrBadHashPrefix):
			err = badRequest("%v", err)
		case err != nil && c.Err() == nil:
			err = notFound("%v", err) // none, or several: the message says which
		}
		return found{e, t}, err
	})
	return f.e, f.t, err
}

func describeTrial(t results.Trial) string { return runner.Describe(t.VariantKey, t.Seed, t.Fold) }

// trialView is the trial page.
type trialView struct {
	Exp          results.Experiment
	ExpLink      string
	Trial        results.Trial
	Number       int
	Label        string
	Running      []runningRow
	Metrics      *results.TrialMetrics
	Classes      []classRow
	Env          [][2]string
	OpenSet      *results.OpenSet
	OpenSetTest  *results.OpenSetResult
	Charts       map[string]string
	Parts        map[string]string
	Live         string // the kinds of change the page follows
	IdentifyLink string
	Config       string
	ErrorText    string
	versions     results.Versions
}

// classRow is one dog's test scores, with one of its test photos.
type classRow struct {
	Name                  string
	Precision, Recall, F1 float64
	Support               int
	Photo                 string // its URL; "" when the photo is not on disk
}

func (s *Server) trialPage(w http.ResponseWriter, r *http.Request) error {
	return s.trialHTML(w, r, func(v *trialView) ([]byte, error) {
		return s.pages.html("trial.html", "layout", view{Title: fmt.Sprintf("Trial %d of %s", v.Number, v.Exp.Name),
			Events: link("/events", "e", v.Exp.Name), Versions: v.versions, Path: r.URL.RequestURI(), D: v})
	})
}

func (s *Server) trialPart(w http.ResponseWriter, r *http.Request) error {
	switch r.PathValue("part") {
	case "main":
		return s.trialHTML(w, r, func(v *trialView) ([]byte, error) {
			return s.pages.html("trial.html", "part-main", view{D: v})
		})
	case "gradcam":
		return s.gradcamPart(w, r)
	}
	return notFound("no part %q", r.PathValue("part"))
}

// trialHTML writes the trial page or its part, rendered by render once per
// versions of its experiment.
func (s *Server) trialHTML(w http.ResponseWriter, r *http.Request, render func(*trialView) ([]byte, error)) error {
	id := func(c context.Context) (int64, error) {
		e, _, err := s.trial(c, r.URL.Query().Get("id"))
		return e.ID, err
	}
	return cachedPage(s, w, r, id, s.trialView, render)
}

func (s *Server) trialView(r *http.Request) (*trialView, error) {
	c, cancel := ctx(r)
	defer cancel()
	id := r.URL.Query().Get("id")
	e, t, err := s.trial(c, id)
	if err != nil {
		return nil, err
	}
	vers, err := s.versions.get(c, e.ID)
	if err != nil {
		return nil, err
	}
	v := &trialView{versions: vers, Exp: e, ExpLink: link("/experiment", "e", e.Name), Trial: t, Number: t.Index + 1, Label: describeTrial(t),
		IdentifyLink: link("/identify", "trial", t.Hash), ErrorText: t.Error,
		Parts: map[string]string{"main": link("/part/trial/main", "id", t.Hash), "gradcam": link("/part/trial/gradcam", "id", t.Hash)}}
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(t.ConfigJSON), "", "  ") == nil {
		v.Config = pretty.String()
	}
	switch t.Status {
	case results.StatusRunning:
		v.Live = "progress results"
		running, err := s.st.RunningTrials(c, e.ID)
		if err != nil {
			return nil, err
		}
		for _, rt := range running {
			if rt.ID == t.ID {
				v.Running = runningRows([]results.RunningTrial{rt}, 0)
			}
		}
	case results.StatusDone:
		if err := s.doneTrial(c, v); err != nil {
			return nil, err
		}
	default:
		v.Live = "results"
	}
	return v, nil
}

// doneTrial adds a done trial's outcome to its page.
func (s *Server) doneTrial(c context.Context, v *trialView) error {
	t := v.Trial
	rep, names, err := s.st.TrialReport(c, t.ID)
	if err != nil {
		return err
	}
	v.Metrics = &results.TrialMetrics{TrialID: t.ID, Accuracy: rep.Accuracy, Top5: rep.Top5, LogLoss: rep.LogLoss,
		MacroF1: rep.Macro.F1, WeightedF1: rep.Weighted.F1, N: rep.N}
	preds, err := s.st.Predictions(c, t.ID)
	if err != nil {
		return err
	}
	d, err := s.expData(c, v.Exp)
	if err != nil {
		return err
	}
	photo := map[int]string{}
	for _, p := range preds {
		if _, ok := photo[p.True]; !ok && !runner.IsCopy(p.Photo) {
			photo[p.True] = photoURL(d, p.Photo)
		}
	}
	for i, pc := range rep.PerClass {
		v.Classes = append(v.Classes, classRow{Name: names[i], Precision: pc.Precision, Recall: pc.Recall, F1: pc.F1,
			Support: pc.Support, Photo: photo[i]})
	}
	// Hardest first: what a reader looks for.
	sort.SliceStable(v.Classes, func(i, j int) bool { return less(v.Classes[i].F1, v.Classes[j].F1) })
	commit := "unknown (the run was not built in a git checkout)"
	switch {
	case t.GitCommit != "" && t.GitDirty:
		commit = t.GitCommit + " with uncommitted changes: the commit alone does not identify the code"
	case t.GitCommit != "":
		commit = t.GitCommit + " (clean working tree)"
	}
	v.Env = [][2]string{{"Go", t.GoVersion}, {"Git commit", commit},
		{"Backbone sha256", t.BackboneSHA256}, {"Checkpoint", t.CheckpointPath}, {"Worker", t.Worker},
		{"Took", seconds(t.DurationSeconds)}, {"Epochs", fmt.Sprintf("best %d, stopped at %d", t.BestEpoch, t.StoppedEpoch)}}
	switch o, err := s.st.OpenSet(c, t.ID); {
	case err == nil:
		v.OpenSet = o
		if res, ok := o.Result(o.Rule.Kind, results.PartTest); ok {
			v.OpenSetTest = &res
		}
	case !errors.Is(err, results.ErrNotFound):
		return err
	}
	fin := ""
	if t.FinishedAt != nil {
		fin = t.FinishedAt.String()
	}
	v.Charts = map[string]string{
		"learning":  link("/chart/learning.svg", "id", t.Hash, "v", fin),
		"confusion": link("/chart/confusion.svg", "id", t.Hash, "v", fin),
	}
	return nil
}

// less orders numbers with NaN last.
func less(a, b float64) bool {
	if math.IsNaN(b) {
		return !math.IsNaN(a)
	}
	return a < b
}

// camView is a Grad-CAM tile on the trial page.
type camView struct {
	Photo, True, Pred string
	Prob              float64
	Right             bool
	Method            string
	Empty             bool
	PNG               template.URL
}

type gradcamView struct {
	CAMs []camView
	Note string // why there are none
}

// gradcamPart draws the trial's Grad-CAM tiles, as the report chooses its
// photos; drawn tiles are kept in memory, never on disk.
func (s *Server) gradcamPart(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	e, t, err := s.trial(c, r.URL.Query().Get("id"))
	if err != nil {
		return err
	}
	if t.Status != results.StatusDone {
		return s.pages.render(w, "trial.html", "part-gradcam", view{D: gradcamView{Note: "The trial is " + string(t.Status) + ": Grad-CAM needs its trained head."}})
	}
	d, err := s.expData(c, e)
	if err != nil {
		return err
	}
	fin := ""
	if t.FinishedAt != nil {
		fin = t.FinishedAt.String()
	}
	v, err := cached(s.memo, "gradcam\x00"+t.Hash+"\x00"+fin, func() (gradcamView, error) {
		names, err := s.st.ClassNames(c, t.ID)
		if err != nil {
			return gradcamView{}, err
		}
		release := s.models.busy()
		defer release()
		cams, _, err := runner.ExplainTests(c, s.st, e, t, d.DatasetDir, s.opt.CacheDir, s.models.tiles, trialCAMs, s.opt.Threads)
		if err != nil {
			return gradcamView{Note: "No Grad-CAM tiles: " + err.Error()}, nil
		}
		var out gradcamView
		for _, cam := range cams {
			p := cam.Prediction
			out.CAMs = append(out.CAMs, camView{Photo: p.Photo, True: names[p.True], Pred: names[cam.Tile.Pred], Prob: cam.Tile.Prob,
				Right: p.True == cam.Tile.Pred, Method: cam.Tile.Method, Empty: cam.Tile.Empty, PNG: pngURL(cam.Tile.PNG)})
		}
		if len(out.CAMs) == 0 {
			out.Note = "The trial has no test photo to explain."
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	return s.pages.render(w, "trial.html", "part-gradcam", view{D: v})
}

// pngURL is a PNG the dashboard drew, as a data: URL.
func pngURL(b []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b)) // #nosec: our own PNG bytes
}

// memTiles keeps drawn Grad-CAM tiles in memory (gradcam.TileStore): the
// dashboard writes nothing to disk, and the report's folder is the report's.
type memTiles struct {
	mu    sync.Mutex
	tiles map[gradcam.TileKey]gradcam.Tile
	order []gradcam.TileKey
	max   int
}

func (m *memTiles) Get(k gradcam.TileKey) (gradcam.Tile, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tiles[k]
	return t, ok
}

func (m *memTiles) Put(k gradcam.TileKey, t gradcam.Tile) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tiles[k]; !ok {
		m.order = append(m.order, k)
	}
	m.tiles[k] = t
	for len(m.order) > m.max {
		delete(m.tiles, m.order[0])
		m.order = m.order[1:]
	}
	return nil
}
