package adapter

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"

	"github.com/dogrun/dogrun/train"
)

// arcFaceLoss runs the ArcFace loss of one sample's cosines and returns it
// with its gradient with respect to the cosines.
func arcFaceLoss(t *testing.T, cos []float64, label int32, s, m float64) (float64, []float64) {
	t.Helper()
	b, err := train.NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	exec := MustNewExec(b, func(c, y *Node) (*Node, *Node) {
		loss := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits([]*Node{InsertAxes(y, -1)}, []*Node{arcFaceLogits(c, y, s, m)}))
		return loss, Gradient(loss, c)[0]
	})
	res := exec.MustExec(tensors.FromFlatDataAndDimensions(cos, 1, len(cos)), tensors.FromFlatDataAndDimensions([]int32{label}, 1))
	return res[0].Value().(float64), tensors.MustCopyFlatData[float64](res[1])
}

// TestArcFaceLossHandComputed checks the loss and its gradient against values
// worked out by hand from ArcFace's Eq. 3 (Deng et al., CVPR 2019):
// L = -log(e^{s·cos(θy+m)} / (e^{s·cos(θy+m)} + Σ_{j≠y} e^{s·cos θj})).
func TestArcFaceLossHandComputed(t *testing.T) {
	const s, m = 2.0, math.Pi / 6 // m = 30°
	t.Run("margin", func(t *testing.T) {
		// θy = 60°, so cos(θy + m) = cos 90° = 0; the other class is at 90°.
		// Both logits are 0: L = ln 2, p = (1/2, 1/2).
		// ∂L/∂cos θy = (py - 1)·s·∂cos(θ+m)/∂cos θ = -1/2 · 2 · sin(θ+m)/sin θ
		//            = -1/sin 60° = -2/√3 ≈ -1.1547;
		// ∂L/∂cos θ1 = p1·s = 1.
		loss, grad := arcFaceLoss(t, []float64{0.5, 0}, 0, s, m)
		want := []float64{-2 / math.Sqrt(3), 1}
		if math.Abs(loss-math.Ln2) > 1e-9 {
			t.Errorf("loss = %.9f, want ln 2 = %.9f", loss, math.Ln2)
		}
		for i := range want {
			if math.Abs(grad[i]-want[i]) > 1e-6 {
				t.Errorf("∂L/∂cos[%d] = %.6f, want %.6f", i, grad[i], want[i])
			}
		}
	})
	t.Run("beyond pi-m", func(t *testing.T) {
		// cos θy = -0.9 < cos(π - m) = -0.8660: the true logit is
		// s·(cos θy - m·sin m) = 2·(-0.9 - π/12) ≈ -2.323599, the other 2·0.2 = 0.4.
		// L = ln(1 + e^{0.4+2.323599}) ≈ 2.787173; p1 = 1/(1 + e^{-2.723599}) ≈ 0.938405.
		// ∂L/∂cos θy = (py - 1)·s = -p1·s, ∂L/∂cos θ1 = p1·s.
		loss, grad := arcFaceLoss(t, []float64{-0.9, 0.2}, 0, s, m)
		d := 0.4 - 2*(-0.9-m*math.Sin(m))
		p1 := 1 / (1 + math.Exp(-d))
		if want := math.Log1p(math.Exp(d)); math.Abs(loss-want) > 1e-9 || math.Abs(loss-2.787173) > 1e-6 {
			t.Errorf("loss = %.9f, want %.9f (≈ 2.787173)", loss, want)
		}
		want := []float64{-p1 * s, p1 * s}
		for i := range want {
			if math.Abs(grad[i]-want[i]) > 1e-6 {
				t.Errorf("∂L/∂cos[%d] = %.6f, want %.6f", i, grad[i], want[i])
			}
		}
	})
	t.Run("zero margin is softmax on s·cos", func(t *testing.T) {
		cos := []float64{0.3, -0.2, 0.7}
		loss, _ := arcFaceLoss(t, cos, 1, 10, 0)
		var z float64
		for _, c := range cos {
			z += math.Exp(10 * c)
		}
		if want := math.Log(z) - 10*cos[1]; math.Abs(loss-want) > 1e-9 {
			t.Errorf("loss = %.9f, want %.9f", loss, want)
		}
	})
}

// TestArcFaceGradientThroughProjection checks, by central differences, the
// gradient of the whole training loss (normalisation, dense layers, class
// centres, margin) with respect to the input features.
func TestArcFaceGradientThroughProjection(t *testing.T) {
	b, err := train.NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	r := Recipe{Hidden: []int{5}, Dim: 3, Scale: 8, Margin: 0.4}
	const batch, in, classes = 4, 6, 3
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, batch*in)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := []int32{0, 2, 1, 2}
	gctx := mlctx.New()
	gctx.SetParam(mlctx.ParamInitialSeed, int64(7))
	exec, err := mlctx.NewExec(b, gctx.Checked(false), func(ctx *mlctx.Context, xn, yn *Node) (*Node, *Node) {
		logits := arcFaceLogits(cosines(ctx, embed(ctx, r, xn), classes), yn, r.Scale, r.Margin)
		loss := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits([]*Node{InsertAxes(yn, -1)}, []*Node{logits}))
		return loss, Gradient(loss, xn)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func() (float64, []float64) {
		res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, batch, in), tensors.FromFlatDataAndDimensions(y, batch))
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Value().(float64), tensors.MustCopyFlatData[float64](res[1])
	}
	_, grad := run()
	nonzero := 0
	const h = 1e-6
	for i := range x {
		orig := x[i]
		x[i] = orig + h
		up, _ := run()
		x[i] = orig - h
		down, _ := run()
		x[i] = orig
		num := (up - down) / (2 * h)
		if math.Abs(num-grad[i]) > 1e-5*max(1, math.Abs(num)) {
			t.Errorf("∂L/∂x[%d] = %.8f, finite difference %.8f", i, grad[i], num)
		}
		if math.Abs(num) > 1e-4 {
			nonzero++
		}
	}
	if nonzero < len(x)/2 {
		t.Errorf("only %d of %d gradients are away from zero: the check proves little", nonzero, len(x))
	}
}
