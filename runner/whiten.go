package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/train"
	"github.com/dogrun/dogrun/verify"
	"github.com/dogrun/dogrun/whiten"
)

// otherDogs are the experiment folder's dogs below
// dataset.min_images_per_class, which the experiment never trains or tests
// on: adapters train on them and whitenings are fitted on them. Loaded once
// per plan.
func (p *Plan) otherDogs(exp *schemas.Experiment) (*adapter.Pool, error) {
	if p.pool == nil {
		pool, err := adapter.LoadPool(p.photos, exp.Dataset.MinImagesPerClass)
		if err != nil {
			return nil, err
		}
		p.pool = pool
	}
	return p.pool, nil
}

// checkWhiten refuses features.whiten where it does not work yet, and loads
// the dogs it is fitted on, so that a plan fails before any trial runs.
func (p *Plan) checkWhiten(exp *schemas.Experiment, cfg schemas.Experiment) error {
	if cfg.Features.Whiten.PCA == 0 {
		return nil
	}
	field := "features.whiten"
	switch _, isAdapter := adapter.Base(cfg.Backbone.Name); {
	case exp.OpenSet.UnknownDogs > 0:
		return exp.ErrorAt(field, "does not work with open_set yet: its rules would score unwhitened features")
	case isAdapter:
		return exp.ErrorAt(field, "does not work with an adapter backbone: both are fitted on the same other dogs")
	case cfg.Backbone.Freeze != "" && cfg.Backbone.Freeze != "all":
		return exp.ErrorAt(field, "does not work with backbone.freeze: the head reads a frozen layer's map, not features")
	}
	if _, err := p.otherDogs(exp); err != nil {
		return exp.ErrorAt(field, err.Error())
	}
	return nil
}

// whiten replaces a trial's rows by their whitening (features.whiten):
// each part's vector at unit length, concatenated, projected on the
// principal axes fitted on the other dogs' photos and divided by their
// standard deviations. It first checks that no dog (folder name) and no
// photo (sha256) of the trial is among those the whitening is fitted on.
func (r *run) whiten(ctx context.Context, t Trial, s sets, units dataset.UnitSplit, label string) (sets, error) {
	pool := r.plan.pool // loaded by NewPlan (checkWhiten)
	var photos []dataset.Photo
	for _, part := range [][]dataset.Unit{units.Train, units.Val, units.Test} {
		for _, x := range part {
			photos = append(photos, r.plan.Data.Photos[x.Photo])
		}
	}
	if err := verify.CheckDisjoint(verify.PartOf("the whitening's dogs", pool.Data), verify.Part{Name: "this trial's dogs", Dogs: s.classes, Photos: photos}); err != nil {
		return s, fmt.Errorf("features.whiten: %w", err)
	}
	pca, err := r.whitening(ctx, t, pool, label)
	if err != nil {
		return s, fmt.Errorf("features.whiten: %w", err)
	}
	fmt.Fprintf(r.opt.Log, "  %s whitening: %d of %d axes fitted on %s of %s, disjoint from this trial's %d (folder names and photo sha256)\n",
		label, pca.Keep(), pca.Dim, english.Count(len(pool.Data.Photos), "photo"), english.Count(len(pool.Data.Classes), "other dog"), len(s.classes))
	for _, d := range []*train.Data{&s.train, &s.val, &s.test} {
		if d.Dim == 0 {
			continue // an empty part (no validation photos)
		}
		x := unitBlocks(d.X, d.Dim, d.Blocks)
		if d.X, err = pca.Apply(x); err != nil {
			return s, err
		}
		d.Dim, d.Blocks = pca.Keep(), nil
	}
	return s, nil
}

// whitening is the PCA whitening of trial t's features fitted on the other
// dogs' photos, each photo's vector made as the trial's rows are (TTA
// included), keeping whiten.pca axes or those there are. The fit keeps every
// axis and is made once for every trial with the same parts and TTA,
// whatever number of axes each keeps (whiten.PCA.First): in this run's
// memory, and in the cache folder for the next runs, under a key of
// everything it is computed from.
func (r *run) whitening(ctx context.Context, t Trial, pool *adapter.Pool, label string) (*whiten.PCA, error) {
	cfg := t.Config.Features
	tta := ttaSet(cfg.TTA)
	h := sha256.New()
	fmt.Fprintf(h, "whitening v1 (FitPCAUpTo, every axis)\ntta %v %s\n", tta, ttaKey)
	for _, p := range t.featureParts() {
		fmt.Fprintf(h, "part %s %s\n", p.Spec.SHA256(), p.Spec.PreprocessKey(p.Cut))
	}
	for _, ph := range pool.Data.Photos {
		fmt.Fprintf(h, "photo %s\n", ph.SHA256)
	}
	key := hex.EncodeToString(h.Sum(nil))
	path := filepath.Join(r.opt.CacheDir, "whitenings", key[:32]+".bin")
	full, ok := r.whitenings[key]
	if !ok {
		var err error
		if full, err = whiten.Load(path); err != nil {
			if full, err = r.fitWhitening(ctx, t, pool, tta, label); err != nil {
				return nil, err
			}
			if err := full.Save(path); err != nil {
				return nil, err
			}
		}
		if r.whitenings == nil {
			r.whitenings = map[string]*whiten.PCA{}
		}
		r.whitenings[key] = full
	}
	return full.First(min(cfg.Whiten.PCA, full.Keep()))
}

// fitWhitening fits the whitening of every axis the other dogs' photos
// vary along, extracting their features first when missing.
func (r *run) fitWhitening(ctx context.Context, t Trial, pool *adapter.Pool, tta []int, label string) (*whiten.PCA, error) {
	var reqs []backbone.Request
	for _, ph := range pool.Data.Photos {
		reqs = append(reqs, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, "", 0)})
		for _, v := range tta {
			reqs = append(reqs, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, ttaKey, v), Params: ttaViews[v-1]})
		}
	}
	caches, err := r.partCaches(ctx, t.featureParts(), reqs, label+" whitening")
	if err != nil {
		return nil, err
	}
	var x []float32
	var blocks []int
	for _, ph := range pool.Data.Photos {
		blocks = blocks[:0]
		for _, c := range caches {
			f, err := photoVector(c, ph, 0, "", tta)
			if err != nil {
				return nil, err
			}
			x = append(x, f...)
			blocks = append(blocks, len(f))
		}
	}
	dim := sumInts(blocks)
	start := time.Now()
	fmt.Fprintf(r.opt.Log, "  %s whitening: fitting %d values on %s\n", label, dim, english.Count(len(pool.Data.Photos), "photo"))
	// Blocks varying along fewer axes than their width keep those there
	// are, so one whiten.pca can serve blocks of several widths.
	pca, err := whiten.FitPCAUpTo(unitBlocks(x, dim, blocks), dim, dim)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.opt.Log, "  %s whitening: %d axes with variance, fitted in %s\n", label, pca.Keep(), roundDuration(time.Since(start)))
	return pca, nil
}
