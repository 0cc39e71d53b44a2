package train

import (
	"fmt"
	"math"
)

// optim updates a native head's weights from their gradient by the rules
// GoMLX's optimisers used, so the choice of engine does not change what
// adam, adamw and sgd mean: Adam (beta 0.9/0.999, epsilon 1e-7 after the
// square root) with weight decay decoupled as AdamW's, lr·decay·w, on every
// weight; and SGD whose rate falls as lr/√step.
type optim struct {
	sgd       bool
	lr, decay float32
	m, v      []float32
	step      int
}

const (
	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEpsilon = 1e-7
)

// newOptim is cfg's optimiser for n weights. Weight decay is decoupled
// (AdamW's rule) for both adam and adamw; adamw only differs in name, kept
// because Keras users write it. Plain SGD has no decay here, so asking for one
// is an error rather than a silent no-op.
func newOptim(cfg Config, n int) (*optim, error) {
	o := &optim{lr: float32(cfg.LR), decay: float32(cfg.WeightDecay)}
	switch cfg.Optimizer {
	case "", "adam", "adamw":
		o.m, o.v = make([]float32, n), make([]float32, n)
	case "sgd":
		if cfg.WeightDecay > 0 {
			return nil, fmt.Errorf("head: weight_decay %g needs optimizer adam or adamw, not sgd", cfg.WeightDecay)
		}
		o.sgd = true
	default:
		return nil, fmt.Errorf("head: unknown optimizer %q", cfg.Optimizer)
	}
	return o, nil
}

// update takes one step on weights w with gradient g.
func (o *optim) update(w, g []float32) {
	o.step++
	if o.sgd {
		lr := o.lr / float32(math.Sqrt(float64(o.step)))
		for i, d := range g {
			w[i] -= lr * d
		}
		return
	}
	k := adamStep{b1: adamBeta1, b2: adamBeta2, eps: adamEpsilon, lr: o.lr, decay: o.decay,
		c1: float32(1 / (1 - math.Pow(adamBeta1, float64(o.step)))),
		c2: float32(1 / (1 - math.Pow(adamBeta2, float64(o.step))))}
	k.omb1, k.omb2 = 1-k.b1, 1-k.b2
	done := adamVector(&k, w, g, o.m, o.v)
	adamGo(&k, w[done:], g[done:], o.m[done:], o.v[done:])
}

// adamStep are one Adam step's constants, in float32 as GoMLX computed them.
// adamVector relies on this field order.
type adamStep struct {
	b1, omb1, b2, omb2, c1, c2, lr, eps, decay float32
}

// adamGo is Adam's rule element by element. Each operation is an IEEE
// float32 one, in an order adamVector repeats 8 lanes at a time, so the two
// give the same bits. The float32 conversions round each product before its
// sum, as the vector code does: without them Go may fuse a multiply and an
// add (it does on amd64 with GOAMD64=v3). The decay term is added even when
// it is zero, as the vector code does.
func adamGo(k *adamStep, w, g, m, v []float32) {
	for i, d := range g[:len(w)] {
		mi := float32(k.b1*m[i]) + float32(k.omb1*d)
		vi := float32(k.b2*v[i]) + float32(float32(k.omb2*d)*d)
		m[i], v[i] = mi, vi
		step := k.lr * (mi * k.c1) / (float32(math.Sqrt(float64(vi*k.c2))) + k.eps)
		step += float32(k.lr * float32(w[i]*k.decay))
		w[i] -= step
	}
}
