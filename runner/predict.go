package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/openset"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/train"
)

// Predictor names the dogs in new photos with a done trial: its backbone,
// preprocessing and best checkpoint as it trained, and its open-set rule
// when it has one. It lives beside the training path so that the two
// compute features the same way.
type Predictor struct {
	Classes []string
	Rule    *openset.Rule // nil: the trial held no dogs out, so it never answers "unknown"
	// Calibration is whose photos the rule was calibrated on, Measured how
	// many photos of each set of unknown dogs it let through besides.
	Calibration results.Calibration
	Measured    []results.UnknownCount

	head     *train.Head
	scorer   openset.Scorer
	spec     backbone.Spec
	cut      backbone.Cut
	cacheDir string
	threads  int

	mu    sync.Mutex
	model *backbone.Model // PredictImage's, opened on first use
}

// Prediction is the answer for one photo.
type Prediction struct {
	Image   string
	Err     error     // why the photo has no answer (unreadable, not an image); the rest is unset
	Probs   []float32 // per class, as the head gave them
	Top     int       // the most probable class
	Score   float64   // the rule's score of the photo; 0 without a rule
	Unknown bool      // the rule rejected the photo
}

// NewPredictor loads trial t of experiment exp from the store and its checkpoint.
func NewPredictor(ctx context.Context, st *results.Store, exp results.Experiment, t results.Trial, cacheDir string, threads int) (*Predictor, error) {
	if t.Status != results.StatusDone {
		return nil, fmt.Errorf("trial %s of %s is %s; only a done trial has a checkpoint", t.Hash[:12], exp.Name, t.Status)
	}
	var cfg schemas.Experiment
	if err := json.Unmarshal([]byte(t.ConfigJSON), &cfg); err != nil {
		return nil, fmt.Errorf("trial %s: stored config: %w", t.Hash[:12], err)
	}
	// The stored config leaves out the backbone file (its content is the
	// identity); the experiment file names it, relative to itself.
	file := &schemas.Experiment{File: exp.File}
	if e, err := schemas.Decode(exp.File, []byte(exp.ConfigYAML)); err == nil {
		file = e
		cfg.Backbone.File = e.Backbone.File
	}
	if cfg.Features.Whiten.PCA > 0 {
		return nil, fmt.Errorf("trial %s whitens its features (features.whiten); predicting with such a trial is not supported yet", t.Hash[:12])
	}
	parts, err := ResolveBackbones(file, cfg)
	if err != nil {
		return nil, err
	}
	if len(parts) > 1 {
		return nil, fmt.Errorf("trial %s concatenates %s (backbone.names); predict runs a trial of one backbone", t.Hash[:12], strings.Join(cfg.Backbone.Names, " and "))
	}
	spec, cut := parts[0].Spec, parts[0].Cut
	if spec.SHA256() != t.BackboneSHA256 {
		return nil, fmt.Errorf("trial %s ran on backbone %s with sha256 %s, but %s now has %s",
			t.Hash[:12], spec.Name, short(t.BackboneSHA256), spec.Name, short(spec.SHA256()))
	}
	// backbone.freeze: the head (its trunk included) reads the frozen prefix's output.
	frozen, err := ResolveFreeze(ctx, cacheDir, file, cfg)
	if err != nil {
		return nil, err
	}
	if frozen != nil {
		spec, cut = frozen.Prefix, frozen.Cut
	}
	if t.CheckpointPath == "" {
		return nil, fmt.Errorf("trial %s of %s trained no head (an evaluation experiment measures features alone), so it names no dog", t.Hash[:12], exp.Name)
	}
	head, err := train.Load(t.CheckpointPath)
	if err != nil {
		return nil, fmt.Errorf("trial %s: checkpoint: %w", t.Hash[:12], err)
	}
	_, classes, err := st.TrialReport(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	p := &Predictor{Classes: classes, head: head, spec: spec, cut: cut, cacheDir: cacheDir, threads: threads}
	switch o, err := st.OpenSet(ctx, t.ID); {
	case err == nil:
		p.Rule, p.scorer = &o.Rule, openset.Scorer{Centroids: o.Centroids, Cohort: o.Cohort}
		var counts []results.UnknownCount
		p.Calibration, counts = o.Chosen()
		for _, u := range counts {
			if u.Set != results.UnknownsCalibration {
				p.Measured = append(p.Measured, u)
			}
		}
	case !errors.Is(err, results.ErrNotFound):
		return nil, err
	}
	return p, nil
}

func short(sha string) string { return sha[:min(12, len(sha))] }

// Predict scores each image. Features go through the trial's feature cache,
// so a photo the trial saw, or one asked about before, needs no backbone run.
// A photo that cannot be read gets its Err and the others are still scored.
func (p *Predictor) Predict(ctx context.Context, images []string) ([]Prediction, error) {
	cache, err := backbone.OpenCache(p.cacheDir, p.spec, p.cut)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, len(images))
	var reqs []backbone.Request
	var good []int // the images with a request, in order
	for i, path := range images {
		out[i].Image = path
		req, err := request(cache, path)
		if err != nil {
			out[i].Err = err
			continue
		}
		reqs = append(reqs, req)
		good = append(good, i)
	}
	if missing := backbone.Missing(cache, reqs); len(missing) > 0 {
		model, err := backbone.Open(ctx, p.cacheDir, p.spec, p.cut.Name, p.threads)
		if err != nil {
			return nil, err
		}
		_, err = backbone.Extract(ctx, model, cache, missing, 8, nil)
		model.Close()
		if err != nil {
			return nil, err
		}
	}
	if len(reqs) == 0 {
		return out, nil
	}
	var x train.Data
	for _, r := range reqs {
		f, _ := cache.Get(r.Key)
		x.Dim = len(f)
		x.X = append(x.X, f...)
	}
	if x.Dim != p.head.Dim {
		return nil, fmt.Errorf("features have %d values, the head takes %d", x.Dim, p.head.Dim)
	}
	probs, err := p.head.Predict(x)
	if err != nil {
		return nil, err
	}
	var logits [][]float32
	if p.Rule != nil && openset.NeedsLogits(p.Rule.Kind) {
		if logits, err = p.head.Logits(x); err != nil {
			return nil, err
		}
	}
	for k, pr := range probs {
		var lg []float32
		if logits != nil {
			lg = logits[k]
		}
		p.answer(&out[good[k]], pr, lg, x.X[k*x.Dim:(k+1)*x.Dim])
	}
	return out, nil
}

// answer fills o from the head's probabilities, its logits (nil unless
// the rule scores them) and the photo's features.
func (p *Predictor) answer(o *Prediction, probs, logits, features []float32) {
	o.Probs, o.Top = probs, metrics.Argmax(probs)
	if p.Rule != nil {
		o.Score = p.scorer.Score(p.Rule.Kind, probs, logits, features)
		o.Unknown = !p.Rule.Accept(o.Score)
	}
}

// PredictImage scores a decoded photo by running the trial's backbone on
// it directly: unlike Predict, it neither reads nor fills the feature
// cache, so nothing of the photo is kept anywhere (the dashboard's
// uploads). The backbone opens on the first call and stays open until
// Close; calls wait for each other.
func (p *Predictor) PredictImage(ctx context.Context, name string, img image.Image) (Prediction, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.model == nil {
		m, err := backbone.Open(ctx, p.cacheDir, p.spec, p.cut.Name, p.threads)
		if err != nil {
			return Prediction{}, err
		}
		p.model = m
	}
	in := make([]float32, p.model.InputLen())
	p.model.Fill(in, dataset.Render(img, dataset.ViewParams{}, p.spec.InputSize))
	feats, err := p.model.Forward(in, 1)
	if err != nil {
		return Prediction{}, err
	}
	if len(feats) != p.head.Dim {
		return Prediction{}, fmt.Errorf("features have %d values, the head takes %d", len(feats), p.head.Dim)
	}
	x := train.Data{X: feats, Dim: len(feats)}
	probs, err := p.head.Predict(x)
	if err != nil {
		return Prediction{}, err
	}
	var logits []float32
	if p.Rule != nil && openset.NeedsLogits(p.Rule.Kind) {
		lg, err := p.head.Logits(x)
		if err != nil {
			return Prediction{}, err
		}
		logits = lg[0]
	}
	o := Prediction{Image: name}
	p.answer(&o, probs[0], logits, feats)
	return o, nil
}

// Close frees the backbone PredictImage opened.
func (p *Predictor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.model == nil {
		return nil
	}
	err := p.model.Close()
	p.model = nil
	return err
}

// request is the feature request of the photo at path. A photo not cached
// yet is decoded first, so that one bad file fails alone, not the batch
// the backbone would meet it in.
func request(cache *backbone.Cache, path string) (backbone.Request, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return backbone.Request{}, err
	}
	sum := sha256.Sum256(b)
	abs, err := filepath.Abs(path)
	if err != nil {
		return backbone.Request{}, err
	}
	req := backbone.Request{Path: abs, Key: backbone.ViewKey(hex.EncodeToString(sum[:]), "", 0)}
	if _, ok := cache.Get(req.Key); !ok {
		if _, err := dataset.Decode(path); err != nil {
			return backbone.Request{}, err
		}
	}
	return req, nil
}
