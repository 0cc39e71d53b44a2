package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/train"
)

// Part is one backbone whose features a trial uses; with backbone.names a
// trial's features are its parts' vectors concatenated in order.
type Part struct {
	Spec backbone.Spec
	Cut  backbone.Cut
}

// ResolveBackbones resolves a trial's backbone.name (one part, as
// ResolveBackbone) or each entry of backbone.names (name, at its default
// cut, or name:cut), an inner map pooled as features.pool says.
func ResolveBackbones(exp *schemas.Experiment, cfg schemas.Experiment) ([]Part, error) {
	b := cfg.Backbone
	if len(b.Names) == 0 {
		spec, cut, err := ResolveBackbone(exp, b)
		if err != nil {
			return nil, err
		}
		cut, err = poolCut(exp, cut, cfg.Features)
		return []Part{{spec, cut}}, err
	}
	parts := make([]Part, len(b.Names))
	for i, entry := range b.Names {
		field := fmt.Sprintf("backbone.names[%d]", i)
		name, cutName, _ := strings.Cut(entry, ":")
		spec, err := backbone.Lookup(name)
		if err != nil {
			return nil, exp.ErrorAt(field, err.Error())
		}
		if spec.NeedsFile() || spec.Name == backbone.UserONNX {
			return nil, exp.ErrorAt(field, name+" needs a file of your own; backbone.names takes backbones dogrun fetches")
		}
		cut, err := spec.Cut(cutName)
		if err != nil {
			return nil, exp.ErrorAt(field, err.Error())
		}
		if cut, err = poolCut(exp, cut, cfg.Features); err != nil {
			return nil, err
		}
		parts[i] = Part{spec, cut}
	}
	return parts, nil
}

// poolCut is the cut as a trial's features: an inner map pooled by
// features.pool and gem_p, a vector cut as it is.
func poolCut(exp *schemas.Experiment, cut backbone.Cut, f schemas.Features) (backbone.Cut, error) {
	pooled, err := cut.Pooled(f.Pool, f.GeMP)
	if err != nil {
		return cut, exp.ErrorAt("features.pool", err.Error())
	}
	return pooled, nil
}

// backboneID is the backbone part of a trial's identity: the file's sha256
// for one backbone (as before concatenation existed), else a digest of every
// part's sha256 and cut in order.
func backboneID(parts []Part) string {
	if len(parts) == 1 {
		return parts[0].Spec.SHA256()
	}
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%s %s\n", p.Spec.SHA256(), p.Cut.Name)
	}
	return "concat-" + hex.EncodeToString(h.Sum(nil))
}

// ttaViews are the fixed test-time views: the mirror image, then four
// corner crops (zoom 1.1 keeps 91% of the side; a shift of 0.045 moves that
// window to a corner).
var ttaViews = []dataset.ViewParams{
	{Flip: true, Zoom: 1, Brightness: 1},
	{Zoom: 1.1, ShiftX: 0.045, ShiftY: 0.045, Brightness: 1},
	{Zoom: 1.1, ShiftX: -0.045, ShiftY: 0.045, Brightness: 1},
	{Zoom: 1.1, ShiftX: 0.045, ShiftY: -0.045, Brightness: 1},
	{Zoom: 1.1, ShiftX: -0.045, ShiftY: -0.045, Brightness: 1},
}

// ttaKey stands for the TTA views in feature cache keys: it spells out their
// parameters, so changing a view changes the key and never reuses its
// features.
var ttaKey = fmt.Sprintf("tta-v1 %+v", ttaViews)

// ttaSet is the view numbers (1-based in ttaViews) a features.tta setting
// averages with the photo itself.
func ttaSet(mode string) []int {
	switch mode {
	case "flip":
		return []int{1}
	case "crops":
		return []int{2, 3, 4, 5}
	case "flip+crops":
		return []int{1, 2, 3, 4, 5}
	}
	return nil
}

// ttaRequests are the TTA views of every photo (view 0) the split uses.
func ttaRequests(p *Plan, u dataset.UnitSplit, mode string) []backbone.Request {
	views := ttaSet(mode)
	var out []backbone.Request
	for _, part := range [][]dataset.Unit{u.Train, u.Val, u.Test} {
		for _, x := range part {
			if x.View != 0 {
				continue
			}
			ph := p.Data.Photos[x.Photo]
			for _, v := range views {
				out = append(out, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, ttaKey, v), Params: ttaViews[v-1]})
			}
		}
	}
	return out
}

// draw is one seed's benchmark draw under dataset.resample: its dogs and its
// split, both in the plan's photo and class indices.
type draw struct {
	classes []int // ascending
	split   dataset.Split
}

// drawOf draws seed's dogs (dataset.max_classes of the plan's, by name hash
// as Load draws them) and splits them by near-duplicate group with that seed.
func (p *Plan) drawOf(seed int64) (*draw, error) {
	if d, ok := p.draws[seed]; ok {
		return d, nil
	}
	cfg := p.Experiment.Dataset
	keep := p.Data.DrawClasses(cfg.MaxClasses, seed)
	sub, from := p.Data.Subset(keep)
	groups := make([]int, len(from))
	for i, j := range from {
		groups[i] = p.Groups[j]
	}
	s, err := dataset.GroupedSplit(sub, groups, cfg.Test, cfg.Val, seed)
	if err != nil {
		return nil, fmt.Errorf("split of seed %d's draw: %w", seed, err)
	}
	// from is ascending, so the mapped parts stay sorted.
	back := func(idx []int) []int {
		out := make([]int, len(idx))
		for i, k := range idx {
			out[i] = from[k]
		}
		return out
	}
	d := &draw{split: dataset.Split{Train: back(s.Train), Val: back(s.Val), Test: back(s.Test)}}
	for c, k := range keep {
		if k {
			d.classes = append(d.classes, c)
		}
	}
	if p.draws == nil {
		p.draws = map[int64]*draw{}
	}
	p.draws[seed] = d
	return d, nil
}

// trialClasses are the dogs a trial's head tells apart and, for each of the
// plan's classes, its index among them (-1 when not drawn).
func (p *Plan) trialClasses(t Trial) ([]string, []int) {
	classOf := make([]int, len(p.Data.Classes))
	if !p.Experiment.Dataset.Resample {
		for i := range classOf {
			classOf[i] = i
		}
		return p.Data.Classes, classOf
	}
	d := p.draws[t.Seed] // drawn by NewPlan
	for i := range classOf {
		classOf[i] = -1
	}
	names := make([]string, len(d.classes))
	for k, c := range d.classes {
		classOf[c], names[k] = k, p.Data.Classes[c]
	}
	return names, classOf
}

// drawSplits are the draws of the experiment's seeds in order, for the store.
func (p *Plan) drawSplits() []dataset.Split {
	out := make([]dataset.Split, len(p.Experiment.Seeds))
	for i, seed := range p.Experiment.Seeds {
		out[i] = p.draws[seed].split
	}
	return out
}

// trialSets makes sure every part's vectors are cached, builds the trial's
// matrices and whitens them (features.whiten). The first part's cache is
// returned for callers that read single-backbone features directly.
func (r *run) trialSets(ctx context.Context, t Trial, units dataset.UnitSplit, label string) (sets, *backbone.Cache, error) {
	caches, err := r.partCaches(ctx, t.featureParts(), requests(r.plan, units, augmentOf(t.Config), t.Config.Features.TTA), label)
	if err != nil {
		return sets{}, nil, err
	}
	s, err := buildSets(r.plan, t, caches, units)
	if err == nil && t.Config.Features.Whiten.PCA > 0 {
		s, err = r.whiten(ctx, t, s, units, label)
	}
	return s, caches[0], err
}

// buildSets builds a trial's matrices from caches that hold every vector its
// requests list: per row, each part's vector (photoVector) concatenated in
// order, labelled with the trial's class index.
func buildSets(p *Plan, t Trial, caches []*backbone.Cache, u dataset.UnitSplit) (sets, error) {
	key := augmentOf(t.Config).Key()
	tta := ttaSet(t.Config.Features.TTA)
	names, classOf := p.trialClasses(t)
	rows := func(units []dataset.Unit, sources bool) (train.Data, error) {
		var d train.Data
		for _, x := range units {
			ph := p.Data.Photos[x.Photo]
			var blocks []int
			for _, c := range caches {
				f, err := photoVector(c, ph, x.View, key, tta)
				if err != nil {
					return train.Data{}, err
				}
				d.X = append(d.X, f...)
				blocks = append(blocks, len(f))
			}
			d.Dim = sumInts(blocks)
			if len(caches) > 1 {
				d.Blocks = blocks
			}
			d.Y = append(d.Y, int32(classOf[ph.Class]))
			if sources {
				d.Source = append(d.Source, int32(x.Photo))
			}
		}
		return d, nil
	}
	s := sets{testUnits: u.Test, classes: names, classOf: classOf}
	var err error
	if s.train, err = rows(u.Train, true); err != nil {
		return sets{}, err
	}
	if s.val, err = rows(u.Val, false); err != nil {
		return sets{}, err
	}
	if s.test, err = rows(u.Test, false); err != nil {
		return sets{}, err
	}
	return s, nil
}

// photoVector is the cached vector of one view of a photo; for the photo
// itself (view 0) with TTA views, the mean over it and them. A vector
// missing from the cache (one that another process cut short, say) fails
// the trial, not the sweep.
func photoVector(c *backbone.Cache, ph dataset.Photo, view int, augKey string, tta []int) ([]float32, error) {
	get := func(k backbone.Key, what string) ([]float32, error) {
		f, ok := c.Get(k)
		if !ok {
			return nil, fmt.Errorf("features of %s %s are missing from %s after extraction", ph.Rel, what, c.Path)
		}
		return f, nil
	}
	f, err := get(backbone.ViewKey(ph.SHA256, augKey, view), fmt.Sprintf("view %d", view))
	if err != nil || view != 0 || len(tta) == 0 {
		return f, err
	}
	mean := make([]float64, len(f))
	for _, v := range append([]int{0}, tta...) {
		g := f
		if v > 0 {
			if g, err = get(backbone.ViewKey(ph.SHA256, ttaKey, v), fmt.Sprintf("TTA view %d", v)); err != nil {
				return nil, err
			}
		}
		for j, x := range g {
			mean[j] += float64(x)
		}
	}
	out := make([]float32, len(f))
	for j, s := range mean {
		out[j] = float32(s / float64(1+len(tta)))
	}
	return out, nil
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
