// Package train fits classifier heads on cached backbone features: dense
// layers, dropout, Adam, cross-entropy, early stopping and the best epoch's
// weights as the checkpoint. Heads train on a native engine (net.go, with
// an AVX2 matrix kernel in gemm_amd64.s); heads with trainable backbone
// layers (Config.Trunk) train on GoMLX (graph.go), which also gives Grad-CAM
// a differentiable view of every head.
package train

import (
	"errors"
	"math"

	"github.com/dogrun/dogrun/trunk"
)

// Config is everything that shapes a head and its training.
type Config struct {
	Hidden     []int
	Dropout    float64
	Activation string // relu, gelu, tanh, sigmoid, swish
	Type       string // output layer: dense ("" too), cosine, Prototype or CosinePrototype
	Normalize  string // feature preprocessing fitted on the training rows: "", none, l2, standardize, l2+standardize
	// BlockWeights "validation" weighs each unit-length block (Data.Blocks)
	// by the weight whose nearest-class-mean accuracy on the validation
	// rows is best (chooseBlockWeights); "" or "equal" leaves them alike.
	BlockWeights string `json:",omitempty"`
	Mix          bool   // each epoch trains on one row per Data.Source, drawn anew, instead of all rows
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
	X   []float32
	Y   []int32
	Dim int
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

	prep  *prep  // nil: rows go in as they are
	net   *net   // a head without a trunk: its weights, run natively
	proto *net   // a cosine+prototype head's prototype layer; nil otherwise
	graph *graph // a head with a trunk: its GoMLX model
}

// ErrNonFinite reports a loss that became NaN or infinite, usually a learning rate
// far too large.
var ErrNonFinite = errors.New("training loss is not finite")

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

// LossAndAccuracy are the mean cross-entropy and top-1 accuracy of probs (rows of
// class probabilities) against labels.
func LossAndAccuracy(probs [][]float32, labels []int32, classes int) (loss, acc float64) {
	for i, p := range probs {
		l, hit := scoreRow(p[:classes], labels[i])
		loss += l
		if hit {
			acc++
		}
	}
	n := float64(len(probs))
	return loss / n, acc / n
}

// scoreRow is one row's cross-entropy from its probabilities p, and whether
// its most probable class (the first, on ties) is y.
func scoreRow(p []float32, y int32) (loss float64, hit bool) {
	best := 0
	for c := 1; c < len(p); c++ {
		if p[c] > p[best] {
			best = c
		}
	}
	return -math.Log(math.Max(float64(p[y]), 1e-12)), best == int(y)
}

// Predict returns the class probabilities of every row of d.
func (h *Head) Predict(d Data) ([][]float32, error) {
	if h.net == nil {
		return h.graph.predictRows(h, d)
	}
	return h.predictPrepared(Data{X: h.prep.apply(d.X, h.Dim), Dim: h.Dim})
}

// predictPrepared is Predict on rows already preprocessed; a
// cosine+prototype head averages its two layers' probabilities.
func (h *Head) predictPrepared(d Data) ([][]float32, error) {
	out := probabilities(h.net, d)
	if h.proto != nil {
		for r, p := range probabilities(h.proto, d) {
			for c, v := range p {
				out[r][c] = (out[r][c] + v) / 2
			}
		}
	}
	return out, nil
}

// Logits returns the head's outputs before softmax for every row of d, for
// open-set scores that keep their scale (openset.MaxLogit, openset.Energy);
// a cosine+prototype head's are its cosine layer's, as only its
// probabilities average the two. A head with trainable backbone layers runs
// on GoMLX, whose compiled model gives probabilities only.
func (h *Head) Logits(d Data) ([][]float32, error) {
	if h.net == nil {
		return nil, errors.New("train: logits of a head with trainable backbone layers (backbone.freeze) are not available")
	}
	return logits(h.net, Data{X: h.prep.apply(d.X, h.Dim), Dim: h.Dim}), nil
}

// probabilities are the class probabilities of n for each row of d.
func probabilities(n *net, d Data) [][]float32 {
	out := logits(n, d)
	for _, row := range out {
		Probabilities(row)
	}
	return out
}

// logits are n's outputs before softmax for each row of d.
func logits(n *net, d Data) [][]float32 {
	rowsN, classes := d.Rows(), n.dims[n.layers()]
	out := make([][]float32, rowsN)
	w := newWork(n, max(1, min(evalRows, rowsN)))
	for start := 0; start < rowsN; start += w.rows {
		rows := min(w.rows, rowsN-start)
		copy(w.in[0], d.X[start*d.Dim:(start+rows)*d.Dim])
		outs := n.forward(n.params, w, rows, nil)
		for r := 0; r < rows; r++ {
			out[start+r] = append([]float32(nil), outs[r*classes:(r+1)*classes]...)
		}
	}
	return out
}

// weights copies every trained weight by its variable name.
func (h *Head) weights() (map[string][]float32, error) {
	if h.net == nil {
		return h.graph.weights()
	}
	out := map[string][]float32{}
	for _, n := range []*net{h.net, h.proto} {
		if n == nil {
			continue
		}
		for _, t := range n.tensors {
			out[t.name] = append([]float32(nil), n.params[t.off:t.off+t.size()]...)
		}
	}
	return out, nil
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
