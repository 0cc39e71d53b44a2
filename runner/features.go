package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/dogrun/dogrun/internal/english"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/train"
)

// requests lists the feature vectors a trial needs: every photo as it is, the
// augmented copies its split uses (of training photos only, except in the
// leaky protocol) and the test-time views of features.tta.
func requests(p *Plan, u dataset.UnitSplit, aug dataset.Augment, tta string) []backbone.Request {
	key := aug.Key()
	var out []backbone.Request
	for _, ph := range p.Data.Photos {
		out = append(out, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, key, 0)})
	}
	for _, part := range [][]dataset.Unit{u.Train, u.Val, u.Test} {
		for _, x := range part {
			if x.View == 0 {
				continue
			}
			ph := p.Data.Photos[x.Photo]
			out = append(out, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, key, x.View), Params: aug.Params(ph.SHA256, x.View)})
		}
	}
	if p.Unknown != nil {
		out = append(out, p.Unknown.requests(tta)...)
	}
	return append(out, ttaRequests(p, u, tta)...)
}

// features makes sure every vector the trial needs is cached, opening the backbone
// only when something is missing, so a rerun never loads ONNX Runtime.
func (r *run) features(ctx context.Context, spec backbone.Spec, cut backbone.Cut, aug dataset.Augment, units dataset.UnitSplit, label, tta string) (*backbone.Cache, error) {
	return r.cached(ctx, spec, cut, requests(r.plan, units, aug, tta), label)
}

// cached makes sure every vector of reqs is cached, as features does for a
// trial's (and an adapter's training set).
func (r *run) cached(ctx context.Context, spec backbone.Spec, cut backbone.Cut, reqs []backbone.Request, label string) (*backbone.Cache, error) {
	id := spec.SHA256() + "/" + cut.Name // two user files of one backbone are two models
	cache, ok := r.caches[id]
	if !ok {
		var err error
		if cache, err = backbone.OpenCache(r.opt.CacheDir, spec, cut); err != nil {
			return nil, err
		}
		r.caches[id] = cache
	} else if err := cache.Refresh(); err != nil { // what other workers added meanwhile
		return nil, err
	}
	missing := backbone.Missing(cache, reqs)
	if len(missing) == 0 {
		fmt.Fprintf(r.opt.Log, "  %s features: all %d cached (%s)\n", label, len(reqs), spec.Name)
		return cache, nil
	}
	model, ok := r.models[id]
	if !ok {
		var err error
		if model, err = backbone.Open(ctx, r.opt.CacheDir, spec, cut.Name, r.opt.Threads); err != nil {
			return nil, err
		}
		r.models[id] = model
	}
	fmt.Fprintf(r.opt.Log, "  %s extracting features: %d of %s not cached (%s)\n", label, len(missing), english.Count(len(reqs), "image"), spec.Name)
	start := time.Now()
	last := time.Time{}
	n, err := backbone.Extract(ctx, model, cache, missing, r.opt.Batch, func(done, total int) {
		if time.Since(last) < 2*time.Second && done < total {
			return
		}
		last = time.Now()
		el := time.Since(start)
		left := time.Duration(float64(el) / float64(done) * float64(total-done))
		fmt.Fprintf(r.opt.Log, "  %s extracting features %d/%d (%.0f img/s, ETA %s)\n",
			label, done, total, float64(done)/el.Seconds(), roundDuration(left))
	})
	r.sum.FeaturesComputed += n
	return cache, err
}

// sets are a trial's feature matrices.
type sets struct {
	train, val, test train.Data
	testUnits        []dataset.Unit // the photo (and view) of each test row
	classes          []string       // the dogs the head tells apart
	classOf          []int          // plan class -> index in classes, -1 when not drawn
}
