package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/trunk"
)

// ResolveFreeze splits trial config cfg's backbone at backbone.freeze; nil
// when every layer stays frozen. It reads the backbone's Keras layers (and
// fetches it when not cached yet). Errors point at backbone.freeze.
func ResolveFreeze(ctx context.Context, cacheDir string, exp *schemas.Experiment, cfg schemas.Experiment) (*backbone.Frozen, error) {
	b := cfg.Backbone
	depth, all := b.Freeze.Depth()
	if all {
		return nil, nil
	}
	// Each of these would act on the cut's map, not on the pooled features
	// they are meant for, or train the backbone's end twice over.
	switch {
	case len(b.Names) > 0:
		return nil, exp.ErrorAt("backbone.freeze", "works with one backbone (backbone.name), not backbone.names")
	case baseName(b.Name) != b.Name:
		return nil, exp.ErrorAt("backbone.freeze", "cannot be combined with an adapter backbone ("+b.Name+")")
	case cfg.Features.Normalize != "" && cfg.Features.Normalize != "none":
		return nil, exp.ErrorAt("backbone.freeze", "cannot be combined with features.normalize, which would normalise the frozen layers' output, not the features")
	case cfg.Features.TTA != "" && cfg.Features.TTA != "none":
		return nil, exp.ErrorAt("backbone.freeze", "cannot be combined with features.tta, which would average the frozen layers' output before the trainable layers")
	}
	spec, cut, err := ResolveBackbone(exp, b)
	if err != nil {
		return nil, err
	}
	f, err := spec.Freeze(ctx, cacheDir, cut, depth)
	if err != nil {
		return nil, exp.ErrorAt("backbone.freeze", err.Error())
	}
	return f, nil
}

// resolveFreezes sets every trial's Frozen, splitting each backbone once.
func (p *Plan) resolveFreezes(ctx context.Context, cacheDir string) error {
	for i, t := range p.Trials {
		f, err := p.frozenFor(ctx, cacheDir, t.Config)
		if err != nil {
			return err
		}
		p.Trials[i].Frozen = f
	}
	return nil
}

// frozenFor is ResolveFreeze of trial config cfg, once per backbone, cut
// and depth of the plan.
func (p *Plan) frozenFor(ctx context.Context, cacheDir string, cfg schemas.Experiment) (*backbone.Frozen, error) {
	key := cfg.Backbone.Name + "\x00" + cfg.Backbone.Cut + "\x00" + string(cfg.Backbone.Freeze)
	if f, ok := p.frozen[key]; ok {
		return f, nil
	}
	f, err := ResolveFreeze(ctx, cacheDir, p.Experiment, cfg)
	if err != nil {
		return nil, err
	}
	if p.frozen == nil {
		p.frozen = map[string]*backbone.Frozen{}
	}
	p.frozen[key] = f
	return f, nil
}

// featureParts are the backbones whose outputs a trial caches: with
// backbone.freeze, the frozen prefix instead of the whole backbone.
func (t Trial) featureParts() []Part {
	if t.Frozen == nil {
		return t.Parts
	}
	return []Part{{t.Frozen.Prefix, t.Frozen.Cut}}
}

// trunk is what FitConfig trains between the cache and the head.
func (t Trial) trunk() *trunk.Spec {
	if t.Frozen == nil {
		return nil
	}
	return t.Frozen.Trunk
}

// DescribeFreeze tells what a freeze depth trains and what it costs, for
// dogrun validate: the cost of a training image's step through the trunk at
// the rate measured for its layers on GoMLX's pure-Go backend.
func DescribeFreeze(f *backbone.Frozen) (string, error) {
	c, err := f.Trunk.Cost()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "trains %s on the cached output of %s (%d floats per image): %d weights, %.1f MFLOP per image forward",
		strings.Join(f.Trainable, ", "), f.Cut.Name, f.Cut.Dim, c.Weights, float64(c.FLOPs)/1e6)
	if c.Weights == 0 {
		b.WriteString("; these layers have no weights, so this trains what freeze: all does, only slower")
	}
	per := c.TrainSeconds()
	fmt.Fprintf(&b, "; about %.0f ms per training image per epoch (%s per epoch of 1,000 images) at the %.1f GFLOP/s measured on 2 cores, against well under 1 ms with freeze: all",
		1000*per, (time.Duration(per * 1000 * float64(time.Second))).Round(time.Second), trunk.FLOPRate/1e9)
	return b.String(), nil
}
