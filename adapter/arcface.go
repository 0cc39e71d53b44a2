package adapter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	gomlxtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/dogrun/dogrun/train"
)

// arcFaceLogits turns cosines [batch, classes] between embeddings and class
// centres into ArcFace's logits: s·cos(θ_y + m) for the true class y and
// s·cos θ_j for the others, so that softmax cross-entropy on them is Eq. 3 of
// Deng, Guo, Xue and Zafeiriou, "ArcFace: Additive Angular Margin Loss for
// Deep Face Recognition" (CVPR 2019). cos(θ + m) = cos θ·cos m − sin θ·sin m.
// Past θ = π − m, cos(θ + m) would grow again with θ, rewarding a worse angle;
// there, as the authors' reference code does, the true logit is
// s·(cos θ − m·sin m), which continues it monotonically.
func arcFaceLogits(cos, labels *Node, s, m float64) *Node {
	onehot := OneHot(labels, cos.Shape().Dimensions[1], cos.DType())
	// sin θ >= 0 for θ in [0, π]; clipped so its gradient stays finite at θ = 0.
	sin := Sqrt(ClipScalar(OneMinus(Square(cos)), 1e-12, 1))
	withMargin := Sub(MulScalar(cos, math.Cos(m)), MulScalar(sin, math.Sin(m)))
	beyond := AddScalar(cos, -m*math.Sin(m))
	threshold := AddScalar(ZerosLike(cos), math.Cos(math.Pi-m))
	target := Where(GreaterThan(cos, threshold), withMargin, beyond)
	return MulScalar(Add(cos, Mul(onehot, Sub(target, cos))), s)
}

// embed is the adapter's graph: L2-normalised base features through the
// dense layers (ReLU between them) to an L2-normalised embedding. Project is
// the same in plain Go.
func embed(ctx *mlctx.Context, r Recipe, x *Node) *Node {
	x = L2Normalize(x, -1)
	for i, units := range r.Hidden {
		x = activations.Relu(train.Dense(ctx.In(layerScope(i)), x, units))
	}
	return L2Normalize(train.Dense(ctx.In(layerScope(len(r.Hidden))), x, r.Dim), -1)
}

func layerScope(i int) string { return fmt.Sprintf("layer_%d", i) }

// cosines are the cosines between embeddings e [batch, dim] and the columns of
// a learned matrix of class centres.
func cosines(ctx *mlctx.Context, e *Node, classes int) *Node {
	w := ctx.In("arcface").VariableWithShape("centres", shapes.Make(e.DType(), e.Shape().Dimensions[1], classes)).ValueGraph(e.Graph())
	return train.FastMatMul(e, L2Normalize(w, 0))
}

// rows are features with a dog index per row.
type rows struct {
	X       []float32
	Y       []int32
	Dim     int
	Classes int
}

func (d rows) n() int { return len(d.Y) }

// ErrNonFinite is a loss that became NaN or infinite.
var ErrNonFinite = errors.New("adapter: training loss is not finite")

// fit trains the projection with ArcFace on tr and keeps the epoch whose
// embedding best tells val's dogs (none of them in tr) apart.
func fit(ctx context.Context, r Recipe, tr, val rows, log io.Writer) (layers []Layer, res fitResult, err error) {
	b, err := train.NewBackend()
	if err != nil {
		return nil, res, err
	}
	gctx, err := train.NewContext(r.Seed)
	if err != nil {
		return nil, res, err
	}
	trainer := gomlxtrain.NewTrainer(b, gctx,
		func(ctx *mlctx.Context, _ any, inputs []*Node) []*Node {
			return []*Node{arcFaceLogits(cosines(ctx, embed(ctx, r, inputs[0]), tr.Classes), inputs[1], r.Scale, r.Margin)}
		},
		losses.SparseCategoricalCrossEntropyLogits,
		optimizers.Adam().LearningRate(r.LR).Done(), nil, nil)

	batch := min(r.Batch, tr.n())
	rng := rand.New(rand.NewPCG(uint64(r.Seed), 0x6164617074)) // "adapt"
	order := make([]int, tr.n())
	for i := range order {
		order[i] = i
	}
	xb := make([]float32, batch*tr.Dim)
	yb := make([]int32, batch)
	res.ValNNBase = nearestNeighbourAccuracy(normalizedRows(val.X, val.Dim), val.Dim, val.Y)
	waited := 0
	for epoch := 1; epoch <= r.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, res, err
		}
		start := time.Now()
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		steps := (len(order) + batch - 1) / batch
		var lossSum float64
		for s := range steps {
			// The last batch wraps around to the epoch's start: one graph shape.
			for i := range batch {
				row := order[(s*batch+i)%len(order)]
				copy(xb[i*tr.Dim:(i+1)*tr.Dim], tr.X[row*tr.Dim:(row+1)*tr.Dim])
				yb[i] = tr.Y[row]
			}
			out, err := trainer.TrainStep(nil,
				[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(xb, batch, tr.Dim), tensors.FromFlatDataAndDimensions(yb, batch)},
				[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(yb, batch, 1)})
			if err != nil {
				return nil, res, fmt.Errorf("adapter epoch %d: %w", epoch, err)
			}
			loss := float64(out[0].Value().(float32))
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return nil, res, fmt.Errorf("epoch %d step %d: %w (lr %g)", epoch, s+1, ErrNonFinite, r.LR)
			}
			lossSum += loss
		}
		current, err := readLayers(gctx, r, tr.Dim)
		if err != nil {
			return nil, res, err
		}
		a := &Adapter{Layers: current}
		score := nearestNeighbourAccuracy(a.Project(val.X, val.Dim), a.Dim(), val.Y)
		res.Epochs = epoch
		if log != nil {
			fmt.Fprintf(log, "  adapter epoch %d/%d loss %.4f held-out dogs 1-NN %.3f (base %.3f, %.1fs)\n",
				epoch, r.Epochs, lossSum/float64(steps), score, res.ValNNBase, time.Since(start).Seconds())
		}
		if layers == nil || score > res.ValNN {
			layers, res.ValNN, res.BestEpoch, waited = current, score, epoch, 0
		} else if waited++; waited >= r.Patience {
			break
		}
	}
	return layers, res, nil
}

type fitResult struct {
	BestEpoch, Epochs int
	ValNNBase, ValNN  float64
}

// readLayers copies the projection's weights out of the graph's context.
func readLayers(gctx *mlctx.Context, r Recipe, in int) ([]Layer, error) {
	sizes := append(append([]int(nil), r.Hidden...), r.Dim)
	out := make([]Layer, len(sizes))
	for i, units := range sizes {
		l := Layer{In: in, Out: units}
		for name, dst := range map[string]*[]float32{"weights": &l.W, "biases": &l.B} {
			v := gctx.In(layerScope(i)).InspectVariableInScope(name)
			if v == nil {
				return nil, fmt.Errorf("adapter: no variable %s/%s", layerScope(i), name)
			}
			t, err := v.Value()
			if err != nil {
				return nil, err
			}
			if *dst, err = tensors.CopyFlatData[float32](t); err != nil {
				return nil, err
			}
		}
		out[i], in = l, units
	}
	return out, nil
}

// normalizedRows returns a copy of x with every row scaled to unit length.
func normalizedRows(x []float32, dim int) []float32 {
	out := append([]float32(nil), x...)
	for r := 0; r < len(out)/dim; r++ {
		train.UnitLength(out[r*dim : (r+1)*dim])
	}
	return out
}

// nearestNeighbourAccuracy is the fraction of rows whose most cosine-similar
// other row (rows are unit vectors) has the same label: how well an embedding
// tells the labels apart with nothing trained on them.
func nearestNeighbourAccuracy(x []float32, dim int, y []int32) float64 {
	n := len(y)
	if n < 2 {
		return 0
	}
	hits := 0
	for i := range n {
		best, bestSim := -1, float32(math.Inf(-1))
		a := x[i*dim : (i+1)*dim]
		for j := range n {
			if j == i {
				continue
			}
			var s float32
			for k, v := range x[j*dim : (j+1)*dim] {
				s += a[k] * v
			}
			if s > bestSim {
				best, bestSim = j, s
			}
		}
		if y[best] == y[i] {
			hits++
		}
	}
	return float64(hits) / float64(n)
}
