package train

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/metrics"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// graph is a head as a GoMLX model: how heads with a trunk train and
// predict, and how Grad-CAM differentiates through any head.
type graph struct {
	backend backends.Backend
	ctx     *mlctx.Context
	predict *mlctx.Exec
}

func newGraph(h *Head) (*graph, error) {
	b, err := NewBackend()
	if err != nil {
		return nil, err
	}
	ctx, err := NewContext(h.Config.Seed)
	if err != nil {
		return nil, err
	}
	g := &graph{backend: b, ctx: ctx}
	g.predict, err = mlctx.NewExec(b, ctx, func(ctx *mlctx.Context, x *Node) *Node {
		return Softmax(h.logits(ctx, x), -1)
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// nativeGraph is h's GoMLX model holding its native weights.
func nativeGraph(h *Head) (*graph, error) {
	g, err := newGraph(h)
	if err != nil {
		return nil, err
	}
	for _, n := range []*net{h.net, h.proto} {
		if n == nil {
			continue
		}
		for _, t := range n.tensors {
			value := tensors.FromFlatDataAndDimensions(append([]float32(nil), n.params[t.off:t.off+t.size()]...), t.shape...)
			if len(t.shape) == 0 {
				value = tensors.FromValue(n.params[t.off])
			}
			scope, name := path.Split(t.name)
			g.ctx.InAbsPath(strings.TrimSuffix(scope, "/")).VariableWithValue(name, value)
		}
	}
	return g, nil
}

// NewExec compiles fn on the head's GoMLX model. fn gets the head's logits
// function (features [batch, Dim] to logits [batch, Classes], dropout off,
// the head's feature preprocessing included), so callers can put backbone
// layers before the head and differentiate through it, as Grad-CAM does,
// without a copy of its layers.
func (h *Head) NewExec(fn func(logits func(*Node) *Node, inputs []*Node) []*Node) (*mlctx.Exec, error) {
	g := h.graph
	if g == nil {
		var err error
		if g, err = nativeGraph(h); err != nil {
			return nil, err
		}
	}
	return mlctx.NewExec(g.backend, g.ctx, func(ctx *mlctx.Context, inputs []*Node) []*Node {
		return fn(func(x *Node) *Node { return h.logits(ctx, h.prep.graph(x)) }, inputs)
	})
}

func (h *Head) logits(ctx *mlctx.Context, x *Node) *Node {
	if h.Config.Trunk != nil {
		x = buildTrunk(ctx, h.Config.Trunk, x)
	}
	act, err := graphActivation(h.Config.Activation)
	if err != nil {
		panic(err)
	}
	for i, units := range h.Config.Hidden {
		x = Dense(ctx.In(fmt.Sprintf("dense_%d", i)), x, units)
		x = act(x)
		x = layers.DropoutStatic(ctx, x, h.Config.Dropout)
	}
	switch h.Config.Type {
	case "cosine", Prototype:
		return cosine(ctx.In("logits"), x, h.Classes)
	case CosinePrototype:
		// The mean of the two layers' probabilities, as logits.
		p := Add(Softmax(cosine(ctx.In("logits"), x, h.Classes)), Softmax(cosine(ctx.In("prototype"), x, h.Classes)))
		return Log(MulScalar(p, 0.5))
	}
	return Dense(ctx.In("logits"), x, h.Classes)
}

func graphActivation(name string) (func(*Node) *Node, error) {
	switch name {
	case "", "relu":
		return activations.Relu, nil
	case "gelu":
		return activations.Gelu, nil
	case "swish":
		return activations.Swish, nil
	case "tanh":
		return Tanh, nil
	case "sigmoid":
		return Sigmoid, nil
	}
	return nil, fmt.Errorf("head: unknown activation %q", name)
}

// graphOptimizer is cfg's optimiser on GoMLX, by the rules newOptim checks.
func graphOptimizer(cfg Config) (optimizers.Interface, error) {
	if _, err := newOptim(cfg, 0); err != nil {
		return nil, err
	}
	if cfg.Optimizer == "sgd" {
		return optimizers.StochasticGradientDescent().WithLearningRate(cfg.LR).Done(), nil
	}
	return optimizers.Adam().LearningRate(cfg.LR).WeightDecay(cfg.WeightDecay).Done(), nil
}

// graphTrainer trains a head with a trunk on GoMLX.
type graphTrainer struct {
	h          *Head
	trainer    *gomlxtrain.Trainer
	train, val Data
	xb         []float32
	yb         []int32
	best       map[string][]float32
}

// fitGraph trains a head with a trunk; its rows are the trunk's input.
func fitGraph(ctx context.Context, cfg Config, trainSet, valSet Data, classes int, onEpoch func(Epoch)) (*Head, Result, error) {
	h := &Head{Config: cfg, Classes: classes, Dim: trainSet.Dim}
	var err error
	if h.graph, err = newGraph(h); err != nil {
		return nil, Result{}, err
	}
	if h.prep, err = fitPrep(cfg.Normalize, trainSet); err != nil {
		return nil, Result{}, err
	}
	trainSet.X = h.prep.apply(trainSet.X, trainSet.Dim)
	opt, err := graphOptimizer(cfg)
	if err != nil {
		return nil, Result{}, err
	}
	t := &graphTrainer{h: h, train: trainSet, val: valSet,
		trainer: gomlxtrain.NewTrainer(h.graph.backend, h.graph.ctx,
			func(ctx *mlctx.Context, _ any, inputs []*Node) []*Node {
				return []*Node{h.logits(ctx, inputs[0])}
			},
			losses.SparseCategoricalCrossEntropyLogits, opt,
			[]metrics.Interface{metrics.NewBaseMetric("Batch Accuracy", "acc", metrics.AccuracyMetricType, metrics.SparseCategoricalAccuracyGraph, nil)},
			nil)}
	res, err := epochs(ctx, cfg, trainSet, valSet.Rows() > 0, t, onEpoch)
	if err != nil {
		return nil, res, err
	}
	return h, res, nil
}

func (t *graphTrainer) step(batch []int) (loss, acc float64, err error) {
	dim := t.train.Dim
	t.xb, t.yb = t.xb[:0], t.yb[:0]
	for _, r := range batch {
		t.xb = append(t.xb, t.train.X[r*dim:(r+1)*dim]...)
		t.yb = append(t.yb, t.train.Y[r])
	}
	out, err := t.trainer.TrainStep(nil,
		[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(t.xb, len(batch), dim)},
		[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(t.yb, len(batch), 1)})
	if err != nil {
		return 0, 0, err
	}
	return scalar(out[0]), scalar(out[len(out)-1]), nil
}

func (t *graphTrainer) evaluate() (loss, acc float64, err error) {
	probs, err := t.h.Predict(t.val)
	if err != nil {
		return 0, 0, err
	}
	loss, acc = LossAndAccuracy(probs, t.val.Y, t.h.Classes)
	return loss, acc, nil
}

func (t *graphTrainer) keep() error {
	var err error
	t.best, err = t.h.graph.weights()
	return err
}

func (t *graphTrainer) restore() error { return t.h.graph.setWeights(t.best) }

func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("train: metric of type %T", t.Value()))
}

// predictBatch is the largest batch of inference. Smaller calls are padded to
// the next power of two from 32, so a few graphs serve every size while a
// 40-photo validation set, run every epoch, no longer costs 256 rows.
const predictBatch = 256

func paddedRows(rows int) int {
	n := 32
	for n < rows && n < predictBatch {
		n *= 2
	}
	return n
}

// predictRows is Predict on the GoMLX model.
func (g *graph) predictRows(h *Head, d Data) ([][]float32, error) {
	n := d.Rows()
	out := make([][]float32, n)
	buf := make([]float32, predictBatch*h.Dim)
	for start := 0; start < n; start += predictBatch {
		rows := min(predictBatch, n-start)
		pad := paddedRows(rows)
		clear(buf[:pad*h.Dim])
		copy(buf, h.prep.apply(d.X[start*h.Dim:(start+rows)*h.Dim], h.Dim))
		res, err := g.predict.Exec(tensors.FromFlatDataAndDimensions(buf[:pad*h.Dim], pad, h.Dim))
		if err != nil {
			return nil, err
		}
		flat, err := tensors.CopyFlatData[float32](res[0])
		if err != nil {
			return nil, err
		}
		for i := 0; i < rows; i++ {
			out[start+i] = flat[i*h.Classes : (i+1)*h.Classes : (i+1)*h.Classes]
		}
	}
	return out, nil
}

// weights copies every model variable (not the optimizer's state).
func (g *graph) weights() (map[string][]float32, error) {
	out := map[string][]float32{}
	for v := range g.ctx.IterVariables() {
		if !isModelVariable(v) {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		flat, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, err
		}
		out[v.ScopeAndName()] = flat
	}
	return out, nil
}

func (g *graph) setWeights(w map[string][]float32) error {
	for v := range g.ctx.IterVariables() {
		flat, ok := w[v.ScopeAndName()]
		if !ok {
			continue
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(flat, v.Shape().Dimensions...)); err != nil {
			return err
		}
	}
	return nil
}

func isModelVariable(v *mlctx.Variable) bool {
	return v.Trainable && v.DType().IsFloat()
}

// shapes are the dimensions of the model variables by name.
func (g *graph) shapes() map[string][]int {
	out := map[string][]int{}
	for v := range g.ctx.IterVariables() {
		out[v.ScopeAndName()] = v.Shape().Dimensions
	}
	return out
}
