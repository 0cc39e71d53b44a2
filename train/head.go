// Package train fits classifier heads on cached backbone features with GoMLX's
// pure-Go backend: dense layers, dropout, Adam, cross-entropy, early stopping and
// the best epoch's weights as the checkpoint.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/dogrun/dogrun/trunk"
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

// Config is everything that shapes a head and its training.
type Config struct {
	Hidden     []int
	Dropout    float64
	Activation string // relu, gelu, tanh, sigmoid, swish
	Type       string // output layer: dense ("" too) or cosine
	Normalize  string // feature preprocessing fitted on the training rows: "", none, l2, standardize, l2+standardize
	Mix        bool   // each epoch trains on one row per Data.Source, drawn anew, instead of all rows
	// Trunk, when set, are trainable backbone layers between the cached
	// features and the head (backbone.freeze); rows are its input.
	Trunk *trunk.Spec `json:",omitempty"`

	Optimizer   string // adam, adamw, sgd
	LR          float64
	WeightDecay float64
	BatchSize   int
	Epochs      int

	Monitor  string // val_loss or val_accuracy
	Patience int    // epochs without improvement before stopping; 0 = never stop early
	MinDelta float64

	Seed int64
}

// Data is a row-major matrix of features with one class label per row.
type Data struct {
	X      []float32
	Y      []int32
	Dim    int
	Weight []float32 // optional per-row weight; nil means 1
	// Blocks are the lengths of concatenated feature vectors (one per
	// backbone), for per-backbone L2 normalisation; nil means one block.
	Blocks []int
	// Source names the photo each row comes from (a photo and its augmented
	// views share one), for Config.Mix; nil means every row is its own.
	Source []int32
}

// Rows is the number of samples.
func (d Data) Rows() int {
	if d.Dim == 0 {
		return 0
	}
	return len(d.X) / d.Dim
}

// Epoch holds one epoch's metrics. Train figures are means over the epoch's batches
// with dropout active, as Keras reports them; validation runs without dropout.
type Epoch struct {
	Epoch                    int // 1-based
	TrainLoss, TrainAccuracy float64
	ValLoss, ValAccuracy     float64
	Seconds                  float64
}

// Result summarises a fit.
type Result struct {
	Epochs       []Epoch
	BestEpoch    int // whose weights the head now holds
	StoppedEpoch int // last epoch run
}

// Head is a trained classifier.
type Head struct {
	Config  Config
	Classes int
	Dim     int

	backend backends.Backend
	ctx     *mlctx.Context
	predict *mlctx.Exec
	prep    *prep // nil: rows go in as they are
}

func newHead(cfg Config, classes, dim int) (*Head, error) {
	if classes < 2 {
		return nil, fmt.Errorf("head: need at least 2 classes, got %d", classes)
	}
	b, err := NewBackend()
	if err != nil {
		return nil, err
	}
	ctx, err := NewContext(cfg.Seed)
	if err != nil {
		return nil, err
	}
	h := &Head{Config: cfg, Classes: classes, Dim: dim, backend: b, ctx: ctx}
	h.predict, err = mlctx.NewExec(b, ctx, func(ctx *mlctx.Context, x *Node) *Node {
		return Softmax(h.logits(ctx, x), -1)
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Head) logits(ctx *mlctx.Context, x *Node) *Node {
	if h.Config.Trunk != nil {
		x = buildTrunk(ctx, h.Config.Trunk, x)
	}
	act, err := activation(h.Config.Activation)
	if err != nil {
		panic(err)
	}
	for i, units := range h.Config.Hidden {
		x = Dense(ctx.In(fmt.Sprintf("dense_%d", i)), x, units)
		x = act(x)
		x = layers.DropoutStatic(ctx, x, h.Config.Dropout)
	}
	if h.Config.Type == "cosine" {
		return cosine(ctx.In("logits"), x, h.Classes)
	}
	return Dense(ctx.In("logits"), x, h.Classes)
}

func activation(name string) (func(*Node) *Node, error) {
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

// optimizer builds the configured optimiser. Weight decay is decoupled (AdamW's
// rule) for both adam and adamw; adamw only differs in name, kept because Keras
// users write it. Plain SGD has no decay here, so asking for one is an error
// rather than a silent no-op.
func optimizer(cfg Config) (optimizers.Interface, error) {
	switch cfg.Optimizer {
	case "", "adam", "adamw":
		return optimizers.Adam().LearningRate(cfg.LR).WeightDecay(cfg.WeightDecay).Done(), nil
	case "sgd":
		if cfg.WeightDecay > 0 {
			return nil, fmt.Errorf("head: weight_decay %g needs optimizer adam or adamw, not sgd", cfg.WeightDecay)
		}
		return optimizers.StochasticGradientDescent().WithLearningRate(cfg.LR).Done(), nil
	}
	return nil, fmt.Errorf("head: unknown optimizer %q", cfg.Optimizer)
}

// ErrNonFinite reports a loss that became NaN or infinite, usually a learning rate
// far too large.
var ErrNonFinite = errors.New("training loss is not finite")

// Fit trains a head on train, monitoring val for early stopping, and returns it
// holding the weights of its best validation epoch. onEpoch, if not nil, sees each
// epoch as it ends.
func Fit(ctx context.Context, cfg Config, trainSet, valSet Data, classes int, onEpoch func(Epoch)) (*Head, Result, error) {
	if trainSet.Rows() == 0 {
		return nil, Result{}, errors.New("head: empty training set")
	}
	if cfg.BatchSize < 1 || cfg.Epochs < 1 {
		return nil, Result{}, fmt.Errorf("head: batch size %d and epochs %d must be positive", cfg.BatchSize, cfg.Epochs)
	}
	h, err := newHead(cfg, classes, trainSet.Dim)
	if err != nil {
		return nil, Result{}, err
	}
	if h.prep, err = fitPrep(cfg.Normalize, trainSet); err != nil {
		return nil, Result{}, err
	}
	trainSet.X = h.prep.apply(trainSet.X, trainSet.Dim)
	sources := rowSources(trainSet, cfg.Mix)
	opt, err := optimizer(cfg)
	if err != nil {
		return nil, Result{}, err
	}
	lossFn := losses.SparseCategoricalCrossEntropyLogits
	trainer := gomlxtrain.NewTrainer(h.backend, h.ctx,
		func(ctx *mlctx.Context, _ any, inputs []*Node) []*Node {
			return []*Node{h.logits(ctx, inputs[0])}
		},
		lossFn, opt,
		[]metrics.Interface{metrics.NewBaseMetric("Batch Accuracy", "acc", metrics.AccuracyMetricType, metrics.SparseCategoricalAccuracyGraph, nil)},
		nil)

	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x646f6772756e)) // "dogrun"
	order := make([]int, trainSet.Rows())
	for i := range order {
		order[i] = i
	}
	if sources != nil {
		order = order[:len(sources)]
	}
	batch := min(cfg.BatchSize, len(order))
	xb := make([]float32, batch*trainSet.Dim)
	yb := make([]int32, batch)

	var (
		res      Result
		best     = math.Inf(1)
		snapshot map[string][]float32
		waited   int
	)
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, res, err
		}
		start := time.Now()
		for i, rows := range sources {
			order[i] = rows[rng.IntN(len(rows))]
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum, accSum float64
		steps := (len(order) + batch - 1) / batch
		for s := 0; s < steps; s++ {
			// The last batch wraps around to the epoch's start: one graph shape, no recompiles.
			for i := 0; i < batch; i++ {
				r := order[(s*batch+i)%len(order)]
				copy(xb[i*trainSet.Dim:(i+1)*trainSet.Dim], trainSet.X[r*trainSet.Dim:(r+1)*trainSet.Dim])
				yb[i] = trainSet.Y[r]
			}
			out, err := trainer.TrainStep(nil,
				[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(xb, batch, trainSet.Dim)},
				[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(yb, batch, 1)})
			if err != nil {
				return nil, res, fmt.Errorf("epoch %d: %w", epoch, err)
			}
			loss := scalar(out[0])
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, res, fmt.Errorf("epoch %d step %d: %w (lr %g)", epoch, s+1, ErrNonFinite, cfg.LR)
			}
			lossSum += loss
			accSum += scalar(out[len(out)-1])
		}
		e := Epoch{Epoch: epoch, TrainLoss: lossSum / float64(steps), TrainAccuracy: accSum / float64(steps)}
		if valSet.Rows() > 0 {
			probs, err := h.Predict(valSet)
			if err != nil {
				return nil, res, err
			}
			e.ValLoss, e.ValAccuracy = LossAndAccuracy(probs, valSet.Y, classes)
		}
		e.Seconds = time.Since(start).Seconds()
		res.Epochs = append(res.Epochs, e)
		res.StoppedEpoch = epoch
		if onEpoch != nil {
			onEpoch(e)
		}

		score := monitored(cfg.Monitor, e, valSet.Rows() > 0)
		if score < best-cfg.MinDelta || snapshot == nil {
			best = score
			res.BestEpoch = epoch
			if snapshot, err = h.weights(); err != nil {
				return nil, res, err
			}
			waited = 0
		} else if waited++; cfg.Patience > 0 && waited >= cfg.Patience {
			break
		}
	}
	if err := h.setWeights(snapshot); err != nil {
		return nil, res, err
	}
	return h, res, nil
}

// monitored turns the monitored metric into a score to minimise. Without a
// validation set it falls back to the training loss.
func monitored(monitor string, e Epoch, haveVal bool) float64 {
	switch {
	case !haveVal:
		return e.TrainLoss
	case monitor == "val_accuracy":
		return -e.ValAccuracy
	default:
		return e.ValLoss
	}
}

func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("train: metric of type %T", t.Value()))
}

// LossAndAccuracy are the mean cross-entropy and top-1 accuracy of probs (rows of
// class probabilities) against labels.
func LossAndAccuracy(probs [][]float32, labels []int32, classes int) (loss, acc float64) {
	for i, p := range probs {
		y := int(labels[i])
		loss -= math.Log(math.Max(float64(p[y]), 1e-12))
		best := 0
		for c := 1; c < classes; c++ {
			if p[c] > p[best] {
				best = c
			}
		}
		if best == y {
			acc++
		}
	}
	n := float64(len(probs))
	return loss / n, acc / n
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

// Predict returns the class probabilities of every row of d.
func (h *Head) Predict(d Data) ([][]float32, error) {
	n := d.Rows()
	out := make([][]float32, n)
	buf := make([]float32, predictBatch*h.Dim)
	for start := 0; start < n; start += predictBatch {
		rows := min(predictBatch, n-start)
		pad := paddedRows(rows)
		clear(buf[:pad*h.Dim])
		copy(buf, h.prep.apply(d.X[start*h.Dim:(start+rows)*h.Dim], h.Dim))
		res, err := h.predict.Exec(tensors.FromFlatDataAndDimensions(buf[:pad*h.Dim], pad, h.Dim))
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
func (h *Head) weights() (map[string][]float32, error) {
	out := map[string][]float32{}
	for v := range h.ctx.IterVariables() {
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

func (h *Head) setWeights(w map[string][]float32) error {
	for v := range h.ctx.IterVariables() {
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

// rowSources groups the rows of d by Source, in order of first appearance,
// when mix is set; nil otherwise (every row every epoch).
func rowSources(d Data, mix bool) [][]int {
	if !mix || d.Source == nil {
		return nil
	}
	index := map[int32]int{}
	var out [][]int
	for r, src := range d.Source[:d.Rows()] {
		k, ok := index[src]
		if !ok {
			k = len(out)
			index[src] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], r)
	}
	return out
}
