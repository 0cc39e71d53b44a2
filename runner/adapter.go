package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dogrun/dogrun/internal/english"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/schemas"
)

// planAdapter returns the metric-learned adapter a trial's backbone names
// ("<base>+arcface"), nil for a plain backbone. Its pool is the experiment
// folder's dogs below dataset.min_images_per_class, loaded once per plan.
func (p *Plan) planAdapter(exp *schemas.Experiment, b schemas.Backbone, parts []Part) (*adapter.Spec, error) {
	if _, ok := adapter.Base(b.Name); !ok {
		return nil, nil
	}
	switch {
	case len(b.Names) > 0:
		return nil, exp.ErrorAt("backbone.name", "an adapter backbone is for backbone.name alone, not with backbone.names")
	case exp.OpenSet.UnknownDogs > 0:
		return nil, exp.ErrorAt("backbone.name", "an adapter backbone does not work with open_set yet")
	}
	pool, err := p.otherDogs(exp)
	if err != nil {
		return nil, exp.ErrorAt("backbone.name", err.Error())
	}
	return adapter.NewSpec(adapter.ArcFace, parts[0].Spec, parts[0].Cut, pool)
}

// adapterID folds a trial's adapter into the backbone part of its identity.
func adapterID(backboneID string, a *adapter.Spec) string {
	if a == nil {
		return backboneID
	}
	return backboneID + " adapter " + a.Key
}

// adapt replaces a trial's base features by its adapter's embedding, after
// checking that none of the trial's dogs or photos trained the adapter. The
// adapter is trained on first use (extracting its pool's base features) and
// then read from the cache.
func (r *run) adapt(ctx context.Context, t Trial, s sets, units dataset.UnitSplit, label string) (sets, error) {
	a, err := r.obtainAdapter(ctx, t.Adapter, label)
	if err != nil {
		return s, err
	}
	var photos []dataset.Photo
	for _, part := range [][]dataset.Unit{units.Train, units.Val, units.Test} {
		for _, x := range part {
			photos = append(photos, r.plan.Data.Photos[x.Photo])
		}
	}
	if err := a.CheckDisjoint(s.classes, photos); err != nil {
		return s, err
	}
	fmt.Fprintf(r.opt.Log, "  %s adapter %s: its %s and this trial's %d are disjoint (folder names and photo sha256)\n",
		label, a.Key[:12], english.Count(len(a.TrainDogs)+len(a.ValDogs), "dog"), len(s.classes))
	for _, d := range []*struct {
		X   *[]float32
		Dim *int
	}{{&s.train.X, &s.train.Dim}, {&s.val.X, &s.val.Dim}, {&s.test.X, &s.test.Dim}} {
		if *d.Dim == 0 {
			continue // an empty part (no validation photos)
		}
		*d.X, *d.Dim = a.Project(*d.X, *d.Dim), a.Dim()
	}
	return s, nil
}

func (r *run) obtainAdapter(ctx context.Context, sp *adapter.Spec, label string) (*adapter.Adapter, error) {
	if a, ok := r.adapters[sp.Key]; ok {
		return a, nil
	}
	a, err := sp.Load(r.opt.CacheDir)
	if err != nil {
		return nil, err
	}
	if a == nil {
		feats, err := r.cached(ctx, sp.Base, sp.Cut, sp.Requests(), label+" adapter")
		if err != nil {
			return nil, err
		}
		if a, err = sp.Train(ctx, r.opt.CacheDir, feats, r.opt.Log); err != nil {
			return nil, err
		}
		fmt.Fprintf(r.opt.Log, "  %s adapter %s trained: best epoch %d of %d, held-out dogs 1-NN %.3f (base features %.3f), stored in %s\n",
			label, a.Key[:12], a.BestEpoch, a.Epochs, a.ValNN, a.ValNNBase, sp.Path(r.opt.CacheDir))
	}
	if err := r.writeAdapterCard(a); err != nil {
		return nil, err
	}
	if r.adapters == nil {
		r.adapters = map[string]*adapter.Adapter{}
	}
	r.adapters[sp.Key] = a
	return a, nil
}

// writeAdapterCard states, beside the experiment's trials, which dogs trained
// the adapter and that its trials' dogs were checked to be others.
func (r *run) writeAdapterCard(a *adapter.Adapter) error {
	dir := filepath.Join(r.opt.RunsDir, r.plan.Experiment.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Adapter %s\n\n", a.Key[:12])
	fmt.Fprintf(&b, "Recipe %s on %s (base sha256 %s): layers", a.Recipe.Version, a.Base, a.BaseSHA256[:12])
	for _, l := range a.Layers {
		fmt.Fprintf(&b, " %d->%d", l.In, l.Out)
	}
	fmt.Fprintf(&b, ", ArcFace s=%g m=%g, %s per training photo.\n\n", a.Recipe.Scale, a.Recipe.Margin, english.Count(a.Recipe.Views, "augmented view"))
	fmt.Fprintf(&b, "Trained on %s and early-stopped on %s (%s in all), every one with fewer than %d photos, "+
		"so none can be an experiment dog (dataset.min_images_per_class = %d). "+
		"Every trial using it was checked before training: none of its dogs (folder names) or photos (sha256) is among these; a trial that shared one would fail.\n\n",
		english.Count(len(a.TrainDogs), "dog"), english.Count(len(a.ValDogs), "other"), english.Count(len(a.PhotoSHA256), "photo"), a.BelowPhotos, a.BelowPhotos)
	fmt.Fprintf(&b, "Held-out dogs, leave-one-out nearest neighbour: %.3f on the base features, %.3f on the adapter's (epoch %d of %d).\n\n",
		a.ValNNBase, a.ValNN, a.BestEpoch, a.Epochs)
	fmt.Fprintf(&b, "Training dogs: %s\n\nHeld-out dogs: %s\n", strings.Join(a.TrainDogs, ", "), strings.Join(a.ValDogs, ", "))
	return os.WriteFile(filepath.Join(dir, "adapter-"+a.Key[:12]+".md"), []byte(b.String()), 0o644)
}

// baseName is the backbone that computes a name's features: the base of an
// adapter backbone, else the name itself.
func baseName(name string) string {
	base, _ := adapter.Base(name)
	return base
}
