package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dogrun/dogrun/trunk"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// testTrunk has every op with weights, a residual add and both poolings'
// shapes: conv1x1 -> affine -> relu6 -> conv1x1 (+ the relu6) -> mean -> dense.
func testTrunk(rng *rand.Rand) *trunk.Spec {
	six := 6.0
	t := &trunk.Spec{
		Input: []int{3, 2, 4},
		Layers: []trunk.Layer{
			{Name: "c1", Op: "conv1x1", Units: 5, Bias: true},
			{Name: "bn", Op: "affine"},
			{Name: "relu", Op: "clip", Max: &six},
			{Name: "c2", Op: "conv1x1", Units: 5},
			{Name: "sum", Op: "add", Inputs: []string{"c2", "relu"}},
			{Name: "pool", Op: "mean_hw", Keep: true},
			{Name: "flat", Op: "flatten"},
			{Name: "drop", Op: "dropout", Rate: 0.5}, // identity outside training
			{Name: "fc", Op: "dense", Units: 3, Bias: true},
		},
		Init: map[string][]float32{},
	}
	for name, n := range map[string]int{"c1/kernel": 20, "c1/bias": 5, "bn/scale": 5, "bn/shift": 5, "c2/kernel": 25, "fc/kernel": 15, "fc/bias": 3} {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		t.Init[name] = v
	}
	return t
}

// TestTrunkGradientsFiniteDifferences checks the trunk's gradients, with
// respect to every weight and to its input, against central differences of
// the loss in float64.
func TestTrunkGradientsFiniteDifferences(t *testing.T) {
	b, err := NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	tr := testTrunk(rng)
	const batch = 2
	xv := make([]float64, batch*tr.InputLen())
	for i := range xv {
		xv[i] = 2 * rng.NormFloat64()
	}
	ctx := mlctx.New().Checked(false)
	var names []string
	exec, err := mlctx.NewExec(b, ctx, func(ctx *mlctx.Context, x *Node) []*Node {
		y := buildTrunk(ctx, tr, x)
		// Non-linear and different per output, so every adjoint differs.
		loss := ReduceAllSum(Mul(Tanh(y), AddScalar(Iota(y.Graph(), y.Shape(), 1), 1)))
		wrt := []*Node{x}
		names = names[:0]
		for v := range ctx.IterVariables() {
			names = append(names, v.ScopeAndName())
			wrt = append(wrt, v.ValueGraph(x.Graph()))
		}
		return append([]*Node{loss}, Gradient(loss, wrt...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func() []*tensors.Tensor {
		res, err := exec.Exec(tensors.FromFlatDataAndDimensions(xv, batch, tr.InputLen()))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run()
	if len(names) != len(tr.Init) {
		t.Fatalf("trunk made variables %v, want one per Init entry (%d)", names, len(tr.Init))
	}
	loss := func() float64 { return run()[0].Value().(float64) }
	const h = 1e-6
	check := func(what string, grad []float64, get func(i int) float64, set func(i int, v float64)) {
		for i, g := range grad {
			orig := get(i)
			set(i, orig+h)
			up := loss()
			set(i, orig-h)
			down := loss()
			set(i, orig)
			if num := (up - down) / (2 * h); math.Abs(num-g) > 1e-5*(1+math.Abs(num)) {
				t.Errorf("d loss/d %s[%d] = %.8g, finite difference %.8g", what, i, g, num)
			}
		}
	}
	check("input", tensors.MustCopyFlatData[float64](res[1]), func(i int) float64 { return xv[i] }, func(i int, v float64) { xv[i] = v })
	for k, name := range names {
		v := ctx.GetVariableByScopeAndName(scopeOf(name), baseOf(name))
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		dims := val.Shape().Dimensions
		data := tensors.MustCopyFlatData[float64](val)
		grad := tensors.MustCopyFlatData[float64](res[2+k])
		if slices.ContainsFunc(grad, func(g float64) bool { return g != 0 }) == false {
			t.Errorf("%s: gradient is all zeros", name)
		}
		check(name, grad, func(i int) float64 { return data[i] }, func(i int, x float64) {
			data[i] = x
			if err := v.SetValue(tensors.FromFlatDataAndDimensions(slices.Clone(data), dims...)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func scopeOf(scopeAndName string) string {
	i := len(scopeAndName) - 1
	for scopeAndName[i] != '/' {
		i--
	}
	return scopeAndName[:i]
}

func baseOf(scopeAndName string) string { return scopeAndName[len(scopeOf(scopeAndName))+1:] }

// TestTrunkCheckpointRoundTrip trains a head with a trunk for an epoch, saves
// it, loads it back (the trunk rebuilt from head.json, its fine-tuned weights
// from weights.bin) and expects the same predictions, which differ from the
// untrained trunk's.
func TestTrunkCheckpointRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tr := testTrunk(rng)
	pretrained := map[string][]float32{}
	for k, v := range tr.Init {
		pretrained[k] = slices.Clone(v)
	}
	const rows, classes = 24, 3
	d := Data{Dim: tr.InputLen()}
	for i := range rows {
		for range d.Dim {
			d.X = append(d.X, float32(rng.NormFloat64()))
		}
		d.Y = append(d.Y, int32(i%classes))
	}
	cfg := Config{Hidden: []int{4}, Optimizer: "adam", LR: 0.05, BatchSize: 8, Epochs: 1, Seed: 1, Trunk: tr}
	h, _, err := Fit(t.Context(), cfg, d, Data{}, classes, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := h.weights()
	if err != nil {
		t.Fatal(err)
	}
	if got := w["/trunk/c1/kernel"]; len(got) != 20 || slices.Equal(got, pretrained["c1/kernel"]) {
		t.Fatalf("trunk kernel after training = %v, want 20 values moved from the pretrained ones", got)
	}
	want, err := h.Predict(d)
	if err != nil {
		t.Fatal(err)
	}
	loaded := reloaded(t, h)
	if loaded.Config.Trunk == nil || len(loaded.Config.Trunk.Layers) != len(tr.Layers) || loaded.Config.Trunk.Init != nil {
		t.Fatalf("loaded trunk = %+v, want the layers without Init", loaded.Config.Trunk)
	}
	got, err := loaded.Predict(d)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		for c := range want[i] {
			if math.Abs(float64(got[i][c]-want[i][c])) > 1e-6 {
				t.Fatalf("row %d class %d: loaded %g, saved %g", i, c, got[i][c], want[i][c])
			}
		}
	}
}

func TestTrunkShapesAndCost(t *testing.T) {
	tr := testTrunk(rand.New(rand.NewPCG(1, 1)))
	n, err := tr.OutputLen()
	if err != nil || n != 3 {
		t.Fatalf("OutputLen = %d, %v; want 3", n, err)
	}
	c, err := tr.Cost()
	if err != nil {
		t.Fatal(err)
	}
	// 6 pixels: c1 2*6*4*5, c2 2*6*5*5, fc 2*5*3; the rest one or two per value.
	if c.Weights != 20+5+10+25+15+3 || c.FLOPs < 240+300+30 || c.FLOPs > 240+300+30+200 {
		t.Errorf("cost = %+v, want 78 weights and about 570 FLOPs plus elementwise", c)
	}
	bad := &trunk.Spec{Input: []int{2, 2, 3}, Layers: []trunk.Layer{{Name: "x", Op: "dense", Units: 2}}}
	if _, err := bad.Shapes(); err == nil {
		t.Error("dense on an image map: no error")
	}
}
