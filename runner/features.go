package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// partCaches makes sure every vector of reqs is cached for each part and
// returns the parts' caches in order. Every cut the plan's trials take of a
// backbone is extracted in the same pass (see cachedCuts), so that a sweep
// over depths runs each backbone once per photo.
func (r *run) partCaches(ctx context.Context, parts []Part, reqs []backbone.Request, label string) ([]*backbone.Cache, error) {
	out := make([]*backbone.Cache, len(parts))
	for i, part := range parts {
		if out[i] != nil {
			continue
		}
		cuts := r.plan.cutsOf(part.Spec, part.Cut)
		caches, err := r.cachedCuts(ctx, part.Spec, cuts, reqs, label)
		if err != nil {
			return nil, err
		}
		for j, other := range parts {
			for k, c := range cuts {
				if other.Spec.SHA256() == part.Spec.SHA256() && other.Cut.Name == c.Name {
					out[j] = caches[k]
				}
			}
		}
	}
	return out, nil
}

// cutsOf is cut and, after it, every other cut of spec that a trial of the
// plan takes, in the order of the trials.
func (p *Plan) cutsOf(spec backbone.Spec, cut backbone.Cut) []backbone.Cut {
	out := []backbone.Cut{cut}
	for _, t := range p.Trials {
		for _, part := range t.featureParts() {
			if part.Spec.SHA256() == spec.SHA256() && !slices.ContainsFunc(out, func(c backbone.Cut) bool { return c.Name == part.Cut.Name }) {
				out = append(out, part.Cut)
			}
		}
	}
	return out
}

// cached makes sure every vector of reqs is cached, as partCaches does for
// a trial's parts (and an adapter's training set).
func (r *run) cached(ctx context.Context, spec backbone.Spec, cut backbone.Cut, reqs []backbone.Request, label string) (*backbone.Cache, error) {
	caches, err := r.cachedCuts(ctx, spec, []backbone.Cut{cut}, reqs, label)
	if err != nil {
		return nil, err
	}
	return caches[0], nil
}

// cachedCuts makes sure every vector of reqs is cached for each of cuts,
// opening the backbone (once for all of them) only when something is
// missing, so a rerun never loads ONNX Runtime.
func (r *run) cachedCuts(ctx context.Context, spec backbone.Spec, cuts []backbone.Cut, reqs []backbone.Request, label string) ([]*backbone.Cache, error) {
	caches := make([]*backbone.Cache, len(cuts))
	names := make([]string, len(cuts))
	for i, cut := range cuts {
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
		caches[i], names[i] = cache, cut.Name
	}
	what := spec.Name
	if len(cuts) > 1 {
		what += ": " + strings.Join(names, ", ")
	}
	missing := backbone.MissingAny(caches, reqs)
	if len(missing) == 0 {
		fmt.Fprintf(r.opt.Log, "  %s features: all %d cached (%s)\n", label, len(reqs), what)
		return caches, nil
	}
	id := spec.SHA256() + "/" + strings.Join(names, "+")
	model, ok := r.models[id]
	if !ok {
		var err error
		if model, err = backbone.OpenCuts(ctx, r.opt.CacheDir, spec, cuts, r.opt.Threads); err != nil {
			return nil, err
		}
		r.models[id] = model
	}
	fmt.Fprintf(r.opt.Log, "  %s extracting features: %d of %s not cached (%s)\n", label, len(missing), english.Count(len(reqs), "image"), what)
	start := time.Now()
	last := time.Time{}
	n, err := backbone.ExtractCuts(ctx, model, caches, missing, r.opt.Batch, func(done, total int) {
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
	return caches, err
}

// sets are a trial's feature matrices.
type sets struct {
	train, val, test train.Data
	testUnits        []dataset.Unit // the photo (and view) of each test row
	classes          []string       // the dogs the head tells apart
	classOf          []int          // plan class -> index in classes, -1 when not drawn
}
