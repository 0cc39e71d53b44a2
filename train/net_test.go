package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
)

// gradCase is a small head with random weights (biases and the cosine scale
// moved off their starting values, so their gradients are exercised) and a
// batch of rows.
type gradCase struct {
	cfg     Config
	n       *net
	x       []float32
	y       []int32
	rows    int
	classes int
}

func newGradCase(t *testing.T, cfg Config) gradCase {
	t.Helper()
	const dim, classes, rows = 5, 3, 7
	n, err := newNet(cfg, dim, classes)
	if err != nil {
		t.Fatal(err)
	}
	n.initialise(3)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, l := range []int{0, 1, 2}[:n.layers()] {
		if n.cosine && l == n.layers()-1 {
			*n.logScale(n.params) = 1.5
			continue
		}
		for i := range n.biases(n.params, l) {
			n.biases(n.params, l)[i] = float32(0.3 * rng.NormFloat64())
		}
	}
	y := make([]int32, rows)
	for i := range y {
		y[i] = int32(rng.IntN(classes))
	}
	return gradCase{cfg: cfg, n: n, x: randomFloats(rng, rows*dim), y: y, rows: rows, classes: classes}
}

// loss is the batch's mean loss at weights p; dropout masks come from a
// fixed seed, the same at every call.
func (c gradCase) loss(p []float32) float64 {
	w := newWork(c.n, c.rows)
	copy(w.in[0], c.x)
	loss, _ := softmaxLoss(c.n.forward(p, w, c.rows, c.drop()), c.y, c.classes, false)
	return loss
}

func (c gradCase) grad() []float32 {
	w := newWork(c.n, c.rows)
	copy(w.in[0], c.x)
	logits := c.n.forward(c.n.params, w, c.rows, c.drop())
	softmaxLoss(logits, c.y, c.classes, true)
	g := make([]float32, len(c.n.params))
	c.n.backward(c.n.params, g, w, c.rows, logits)
	return g
}

func (c gradCase) drop() *rand.Rand {
	if c.n.dropout == 0 {
		return nil
	}
	return rand.New(rand.NewPCG(11, 12))
}

func gradConfigs() []Config {
	var cfgs []Config
	for _, act := range []string{"relu", "gelu", "swish", "tanh", "sigmoid"} {
		for _, typ := range []string{"dense", "cosine"} {
			cfgs = append(cfgs, Config{Hidden: []int{4, 3}, Activation: act, Type: typ})
		}
	}
	return append(cfgs, Config{Hidden: nil, Type: "dense"}, Config{Hidden: nil, Type: "cosine"},
		Config{Hidden: []int{4, 3}, Activation: "tanh", Dropout: 0.4})
}

// TestNativeGradientsMatchFiniteDifferences checks every weight's gradient
// of every activation, both output layers, no hidden layer and dropout (with
// its mask held fixed) against central differences of the loss.
func TestNativeGradientsMatchFiniteDifferences(t *testing.T) {
	for _, cfg := range gradConfigs() {
		t.Run(caseName(cfg), func(t *testing.T) {
			c := newGradCase(t, cfg)
			g := c.grad()
			const h = 3e-3
			p := append([]float32(nil), c.n.params...)
			for i := range p {
				orig := p[i]
				p[i] = orig + h
				up := c.loss(p)
				p[i] = orig - h
				down := c.loss(p)
				p[i] = orig
				num := (up - down) / (2 * h)
				if math.Abs(num-float64(g[i])) > 1e-3+1e-2*math.Abs(num) {
					t.Errorf("%s: gradient %g, finite difference %g", c.n.paramName(i), g[i], num)
				}
			}
		})
	}
}

// TestNativeGradientsMatchGoMLX checks the native loss and gradients against
// GoMLX's automatic differentiation of the same head with the same weights
// (the engine heads trained on before, still used for heads with a trunk).
func TestNativeGradientsMatchGoMLX(t *testing.T) {
	for _, cfg := range gradConfigs() {
		if cfg.Dropout > 0 {
			continue // GoMLX draws its own masks
		}
		t.Run(caseName(cfg), func(t *testing.T) {
			c := newGradCase(t, cfg)
			h := &Head{Config: cfg, Classes: c.classes, Dim: len(c.x) / c.rows, net: c.n}
			g, err := nativeGraph(h)
			if err != nil {
				t.Fatal(err)
			}
			exec, err := mlctx.NewExec(g.backend, g.ctx, func(ctx *mlctx.Context, x, y *Node) []*Node {
				loss := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits([]*Node{y}, []*Node{h.logits(ctx, x)}))
				var vars []*Node
				for _, t := range c.n.tensors {
					scope, name := path.Split(t.name)
					vars = append(vars, ctx.InspectVariable(strings.TrimSuffix(scope, "/"), name).ValueGraph(x.Graph()))
				}
				return append([]*Node{loss}, Gradient(loss, vars...)...)
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Exec(tensors.FromFlatDataAndDimensions(c.x, c.rows, h.Dim), tensors.FromFlatDataAndDimensions(c.y, c.rows, 1))
			if err != nil {
				t.Fatal(err)
			}
			if want, got := scalar(out[0]), c.loss(c.n.params); math.Abs(want-got) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Errorf("loss %g, GoMLX %g", got, want)
			}
			grad := c.grad()
			for k, tn := range c.n.tensors {
				want := tensors.MustCopyFlatData[float32](out[k+1])
				for i, w := range want {
					if got := grad[tn.off+i]; math.Abs(float64(got-w)) > 1e-5+1e-4*math.Abs(float64(w)) {
						t.Errorf("%s[%d]: gradient %g, GoMLX %g", tn.name, i, got, w)
					}
				}
			}
		})
	}
}

func caseName(cfg Config) string {
	return fmt.Sprintf("%v_%s_%s_dropout%g", cfg.Hidden, cfg.Activation, cfg.Type, cfg.Dropout)
}

// Grad-CAM sees a native head through NewExec, a GoMLX graph built from its
// weights: it must give the native head's probabilities, feature
// preprocessing included.
func TestNewExecMatchesNativeHead(t *testing.T) {
	trainSet, valSet := blobs(51, 3, 20, 6, 0.5), blobs(52, 3, 5, 6, 0.5)
	trainSet.Blocks, valSet.Blocks = []int{4, 2}, []int{4, 2}
	for _, typ := range []string{"dense", "cosine"} {
		cfg := testConfig()
		cfg.Hidden, cfg.Activation, cfg.Type, cfg.Normalize, cfg.Epochs = []int{8}, "gelu", typ, "l2+standardize", 4
		h, _, err := Fit(t.Context(), cfg, trainSet, valSet, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		exec, err := h.NewExec(func(logits func(*Node) *Node, in []*Node) []*Node {
			return []*Node{Softmax(logits(in[0]), -1)}
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(valSet.X, valSet.Rows(), valSet.Dim))
		if err != nil {
			t.Fatal(err)
		}
		got := tensors.MustCopyFlatData[float32](out[0])
		want, err := h.Predict(valSet)
		if err != nil {
			t.Fatal(err)
		}
		for r, row := range want {
			for c, p := range row {
				if g := got[r*3+c]; math.Abs(float64(g-p)) > 1e-5 {
					t.Fatalf("%s: row %d class %d: graph %g, native %g", typ, r, c, g, p)
				}
			}
		}
	}
}
