package train

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestMatMulGradientMatchesDot checks the hand-written gradients of FastMatMul
// against GoMLX's own DotGeneral gradient and against finite differences.
func TestMatMulGradientMatchesDot(t *testing.T) {
	b, err := NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rnd := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = rng.NormFloat64()
		}
		return out
	}
	const batch, in, out = 3, 4, 5
	xv, wv := rnd(batch*in), rnd(in*out)
	// A non-linear loss so the adjoint differs per element.
	loss := func(y *Node) *Node { return ReduceAllSum(Mul(Tanh(y), Iota(y.Graph(), y.Shape(), 1))) }
	grads := func(mm func(x, w *Node) *Node) (gx, gw []float64, value float64) {
		exec := MustNewExec(b, func(x, w *Node) (*Node, *Node, *Node) {
			l := loss(mm(x, w))
			g := Gradient(l, x, w)
			return g[0], g[1], l
		})
		res := exec.MustExec(tensors.FromFlatDataAndDimensions(xv, batch, in), tensors.FromFlatDataAndDimensions(wv, in, out))
		return tensors.MustCopyFlatData[float64](res[0]), tensors.MustCopyFlatData[float64](res[1]), res[2].Value().(float64)
	}
	gx, gw, _ := grads(FastMatMul)
	wantX, wantW, _ := grads(Dot)
	for i := range gx {
		if math.Abs(gx[i]-wantX[i]) > 1e-9 {
			t.Fatalf("d/dx[%d] = %g, DotGeneral gives %g", i, gx[i], wantX[i])
		}
	}
	for i := range gw {
		if math.Abs(gw[i]-wantW[i]) > 1e-9 {
			t.Fatalf("d/dw[%d] = %g, DotGeneral gives %g", i, gw[i], wantW[i])
		}
	}
	// Central differences on a few weights.
	const h = 1e-6
	for _, i := range []int{0, 7, 19} {
		orig := wv[i]
		wv[i] = orig + h
		_, _, up := grads(FastMatMul)
		wv[i] = orig - h
		_, _, down := grads(FastMatMul)
		wv[i] = orig
		if num := (up - down) / (2 * h); math.Abs(num-gw[i]) > 1e-5 {
			t.Errorf("d/dw[%d] = %g, finite difference %g", i, gw[i], num)
		}
	}
}
