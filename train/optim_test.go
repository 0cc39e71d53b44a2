package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The vector Adam must give adamGo's bits (so a head's result does not hang
// on which weights fall in the vector part), and adamGo must be Adam: one
// step from zero moments moves each weight by lr·g/(|g|+epsilon), plus the
// decoupled decay lr·decay·w.
func TestAdamVectorEqualsScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 1003
	for _, decay := range []float32{0, 0.01} {
		w, g := randomFloats(rng, n), randomFloats(rng, n)
		m, v := make([]float32, n), make([]float32, n)
		o := &optim{lr: 0.01, decay: decay, m: m, v: v}
		w0 := append([]float32(nil), w...)
		o.update(w, g)
		for i := range w {
			x, d := float64(w0[i]), float64(g[i])
			want := x - 0.01*d/(math.Abs(d)+adamEpsilon) - 0.01*float64(decay)*x
			if math.Abs(float64(w[i])-want) > 4e-7*(1+math.Abs(x)) {
				t.Fatalf("decay %g: first step moved w[%d] %g -> %g, want %g", decay, i, w0[i], w[i], want)
			}
		}
		for range 5 {
			g = randomFloats(rng, n)
			vec := &optim{lr: o.lr, decay: decay, m: append([]float32(nil), o.m...), v: append([]float32(nil), o.v...), step: o.step}
			wv := append([]float32(nil), w...)
			vec.update(wv, g)
			k := adamStep{b1: adamBeta1, b2: adamBeta2, eps: adamEpsilon, lr: o.lr, decay: decay,
				c1: float32(1 / (1 - math.Pow(adamBeta1, float64(o.step+1)))),
				c2: float32(1 / (1 - math.Pow(adamBeta2, float64(o.step+1))))}
			k.omb1, k.omb2 = 1-k.b1, 1-k.b2
			adamGo(&k, w, g, o.m, o.v)
			o.step++
			for i := range w {
				if w[i] != wv[i] || o.m[i] != vec.m[i] || o.v[i] != vec.v[i] {
					t.Fatalf("decay %g step %d weight %d: vector (%g %g %g), scalar (%g %g %g)", decay, o.step, i, wv[i], vec.m[i], vec.v[i], w[i], o.m[i], o.v[i])
				}
			}
		}
	}
}
