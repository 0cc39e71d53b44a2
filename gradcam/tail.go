package gradcam

import (
	"fmt"
	"math"
	"slices"

	"github.com/dogrun/dogrun/backbone"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
)

// maxChain bounds how far back from the cut the feature map is looked for:
// every backbone's last map is a few ops before its features.
const maxChain = 32

// chain walks back from the cut's output along the path of activations (the
// one input that is not a constant) and returns the nodes met, last first.
// It stops at the graph input, at a node fed by two activations (a residual
// add, a concatenation) or after maxChain nodes.
func chain(g *backbone.Graph, output string) []backbone.Node {
	var out []backbone.Node
	for len(out) < maxChain {
		i := g.Producer(output)
		if i < 0 {
			break
		}
		n := g.Nodes[i]
		out = append(out, n)
		acts := activations(g, n)
		if len(acts) != 1 {
			break
		}
		output = acts[0]
	}
	return out
}

// activations are a node's inputs that are not constants.
func activations(g *backbone.Graph, n backbone.Node) []string {
	var out []string
	for _, in := range n.Inputs {
		if _, ok := g.Constants[in]; !ok && in != "" {
			out = append(out, in)
		}
	}
	return out
}

// tail is the backbone from the feature map to the cut, replayed in GoMLX so
// that the class score can be differentiated with respect to the map.
type tail struct {
	nodes  []backbone.Node // in graph order
	consts map[string]backbone.Constant
}

// apply runs the tail on x, the map, in NCHW. Ops GoMLX cannot differentiate
// cheaply or that this replay does not know panic with an error naming them;
// GoMLX's Exec returns the panic as an error.
func (t *tail) apply(x *Node) *Node {
	for _, n := range t.nodes {
		x = t.op(n, x)
	}
	return x
}

func (t *tail) constant(g *Graph, name string) *Node {
	c, ok := t.consts[name]
	if !ok || c.Float == nil {
		panic(fmt.Errorf("gradcam: %s is not a float constant", name))
	}
	dims := make([]int, len(c.Dims))
	for i, d := range c.Dims {
		dims[i] = int(d)
	}
	return Reshape(Const(g, c.Float), dims...)
}

// constInput returns the node's constant input (a weight, a bias), or nil.
func (t *tail) constInput(g *Graph, n backbone.Node, i int) *Node {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil
	}
	if _, ok := t.consts[n.Inputs[i]]; !ok {
		return nil
	}
	return t.constant(g, n.Inputs[i])
}

// broadcastTo aligns c to x's rank from the right, as ONNX broadcasts.
func broadcastTo(c, x *Node) *Node {
	if c.Rank() < x.Rank() {
		c = ExpandLeftToRank(c, x.Rank())
	}
	return BroadcastToDims(c, x.Shape().Dimensions...)
}

func (t *tail) op(n backbone.Node, x *Node) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	unsupported := func(why string) {
		panic(fmt.Errorf("gradcam: cannot replay %s on a %v map after the feature map (%s); supported are global pooling, "+
			"convolutions that cover the whole map, 1x1 convolutions, Gemm/MatMul, BatchNormalization, Flatten/Reshape and pointwise ops", n.Op, dims, why))
	}
	switch n.Op {
	case "Identity", "Dropout":
		return x
	case "Flatten":
		axis := int(n.Int("axis", 1))
		return Reshape(x, product(dims[:axis]), product(dims[axis:]))
	case "Reshape":
		c := t.consts[n.Inputs[1]]
		if c.Int64 == nil {
			unsupported("its target shape is not a constant")
		}
		return Reshape(x, reshapeDims(dims, c.Int64)...)
	case "Transpose":
		perm := make([]int, len(n.Ints["perm"]))
		for i, a := range n.Ints["perm"] {
			perm[i] = int(a)
		}
		if len(perm) == 0 { // ONNX's default reverses the axes
			for i := range dims {
				perm = append(perm, len(dims)-1-i)
			}
		}
		return TransposeAllAxes(x, perm...)
	case "Squeeze":
		axes := n.Ints["axes"]
		if axes == nil && len(n.Inputs) > 1 {
			axes = t.consts[n.Inputs[1]].Int64
		}
		keep := []int{dims[0]} // the batch, which is 1 here but not in the backbone's runs
		for i, d := range dims[1:] {
			if d != 1 || (axes != nil && !slices.Contains(axes, int64(i+1))) {
				keep = append(keep, d)
			}
		}
		return Reshape(x, keep...)
	case "GlobalAveragePool":
		return reduceKeep(x, ReduceMean, 2, 3)
	case "GlobalMaxPool":
		return reduceKeep(x, ReduceMax, 2, 3)
	case "AveragePool", "MaxPool":
		k := n.Ints["kernel_shape"]
		if len(dims) != 4 || len(k) != 2 || int(k[0]) != dims[2] || int(k[1]) != dims[3] || anyNonZero(n.Ints["pads"]) {
			unsupported("only a pool over the whole map")
		}
		if n.Op == "MaxPool" {
			return reduceKeep(x, ReduceMax, 2, 3)
		}
		return reduceKeep(x, ReduceMean, 2, 3)
	case "ReduceMean":
		axes := n.Ints["axes"]
		if axes == nil && len(n.Inputs) > 1 {
			axes = t.consts[n.Inputs[1]].Int64
		}
		ax := make([]int, len(axes))
		for i, a := range axes {
			ax[i] = int(a)
			if a < 0 {
				ax[i] = len(dims) + int(a)
			}
		}
		if n.Int("keepdims", 1) == 1 {
			return reduceKeep(x, ReduceMean, ax...)
		}
		return ReduceMean(x, ax...)
	case "Conv":
		return t.conv(n, x, unsupported)
	case "Gemm":
		if n.Int("transA", 0) != 0 {
			unsupported("transA")
		}
		w := t.constInput(g, n, 1)
		if w == nil {
			unsupported("its weights are not a constant")
		}
		if n.Int("transB", 0) != 0 {
			w = Transpose(w, 0, 1)
		}
		y := MulScalar(Dot(x, w), alpha(n, "alpha"))
		if b := t.constInput(g, n, 2); b != nil {
			y = Add(y, broadcastTo(MulScalar(b, alpha(n, "beta")), y))
		}
		return y
	case "MatMul":
		w := t.constInput(g, n, 1)
		if w == nil || x.Rank() != 2 || w.Rank() != 2 {
			unsupported("only [batch, in] times a constant [in, out]")
		}
		return Dot(x, w)
	case "BatchNormalization":
		scale, bias, mean, variance := t.constInput(g, n, 1), t.constInput(g, n, 2), t.constInput(g, n, 3), t.constInput(g, n, 4)
		if scale == nil || bias == nil || mean == nil || variance == nil {
			unsupported("its statistics are not constants")
		}
		eps := 1e-5
		if f, ok := n.Floats["epsilon"]; ok && len(f) == 1 {
			eps = float64(f[0])
		}
		k := Div(scale, Sqrt(AddScalar(variance, eps)))
		shift := Sub(bias, Mul(mean, k))
		perChannel := func(v *Node) *Node { // [C] -> [1, C, 1, ...]
			d := make([]int, len(dims))
			for i := range d {
				d[i] = 1
			}
			d[1] = dims[1]
			return BroadcastToDims(Reshape(v, d...), dims...)
		}
		return Add(Mul(x, perChannel(k)), perChannel(shift))
	case "Relu":
		return MaxScalar(x, 0)
	case "LeakyRelu":
		a := alpha(n, "alpha")
		if _, ok := n.Floats["alpha"]; !ok {
			a = 0.01
		}
		return Where(GreaterOrEqual(x, ZerosLike(x)), x, MulScalar(x, a))
	case "PRelu":
		slope := t.constInput(g, n, 1)
		if slope == nil {
			unsupported("its slope is not a constant")
		}
		return Where(GreaterOrEqual(x, ZerosLike(x)), x, Mul(x, broadcastTo(slope, x)))
	case "Clip":
		lo, hi := math.Inf(-1), math.Inf(1)
		if f, ok := n.Floats["min"]; ok {
			lo = float64(f[0])
		}
		if f, ok := n.Floats["max"]; ok {
			hi = float64(f[0])
		}
		for i, p := range []*float64{&lo, &hi} {
			if c, ok := t.consts[inputAt(n, i+1)]; ok && len(c.Float) == 1 {
				*p = float64(c.Float[0])
			}
		}
		if !math.IsInf(lo, -1) {
			x = MaxScalar(x, lo)
		}
		if !math.IsInf(hi, 1) {
			x = MinScalar(x, hi)
		}
		return x
	case "Sigmoid":
		return Sigmoid(x)
	case "Tanh":
		return Tanh(x)
	case "Softmax":
		return Softmax(x, int(n.Int("axis", -1)))
	case "Add", "Sub", "Mul", "Div":
		var c *Node
		first := false // whether the constant is the first operand
		for i := range n.Inputs {
			if c = t.constInput(g, n, i); c != nil {
				first = i == 0
				break
			}
		}
		if c == nil {
			unsupported("both operands are activations")
		}
		c = broadcastTo(c, x)
		a, b := x, c
		if first {
			a, b = c, x
		}
		switch n.Op {
		case "Add":
			return Add(a, b)
		case "Sub":
			return Sub(a, b)
		case "Mul":
			return Mul(a, b)
		}
		return Div(a, b)
	}
	unsupported("unknown op")
	return nil
}

// conv replays the convolutions a backbone has after its last map: one whose
// kernel covers the whole map without padding (MobileFaceNet's depthwise
// "GDC", a dense layer written as a convolution) and 1x1 convolutions. Both
// are multiplies and sums, whose gradients GoMLX's pure-Go backend has; its
// stock convolution has none.
func (t *tail) conv(n backbone.Node, x *Node, unsupported func(string)) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions // [N, C, H, W]
	w := t.constInput(g, n, 1)   // [O, C/group, kH, kW]
	if w == nil || len(dims) != 4 || w.Rank() != 4 {
		unsupported("its kernel is not a constant 2-D kernel")
	}
	if anyNonZero(n.Ints["pads"]) || n.Ints["auto_pad"] != nil || anyOtherThan(n.Ints["dilations"], 1) {
		unsupported("padding or dilation")
	}
	wd := w.Shape().Dimensions
	group := int(n.Int("group", 1))
	var y *Node
	switch {
	case wd[2] == dims[2] && wd[3] == dims[3] && group == dims[1] && wd[0] == dims[1] && wd[1] == 1:
		// Depthwise over the whole map: out[n, c] = sum_hw x[n, c, h, w] * w[c, 0, h, w].
		k := BroadcastToDims(Reshape(w, 1, dims[1], dims[2], dims[3]), dims...)
		y = Reshape(ReduceSum(Mul(x, k), 2, 3), dims[0], dims[1], 1, 1)
	case wd[2] == dims[2] && wd[3] == dims[3] && group == 1:
		// Whole map, all channels: a dense layer on the flattened map.
		flat := Reshape(x, dims[0], dims[1]*dims[2]*dims[3])
		y = Reshape(Dot(flat, Transpose(Reshape(w, wd[0], wd[1]*wd[2]*wd[3]), 0, 1)), dims[0], wd[0], 1, 1)
	case wd[2] == 1 && wd[3] == 1 && group == 1 && !anyOtherThan(n.Ints["strides"], 1):
		// 1x1: a matmul per pixel, over channels.
		y = Einsum("nchw,oc->nohw", x, Reshape(w, wd[0], wd[1]))
	default:
		unsupported(fmt.Sprintf("kernel %v, group %d", wd, group))
	}
	if b := t.constInput(g, n, 2); b != nil {
		y = Add(y, BroadcastToDims(Reshape(b, 1, wd[0], 1, 1), y.Shape().Dimensions...))
	}
	return y
}

// reduceKeep reduces axes with reduce and keeps them as 1s, as ONNX's
// pools and keepdims=1 do.
func reduceKeep(x *Node, reduce func(*Node, ...int) *Node, axes ...int) *Node {
	dims := slices.Clone(x.Shape().Dimensions)
	for _, a := range axes {
		dims[a] = 1
	}
	return Reshape(reduce(x, axes...), dims...)
}

// reshapeDims resolves an ONNX Reshape target against the input's dimensions:
// 0 copies the input's dimension, -1 takes what is left.
func reshapeDims(in []int, target []int64) []int {
	out := make([]int, len(target))
	known, infer := 1, -1
	for i, d := range target {
		switch {
		case d == 0:
			out[i] = in[i]
		case d < 0:
			infer = i
			continue
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	if infer >= 0 {
		out[infer] = product(in) / known
	}
	return out
}

func product(d []int) int {
	p := 1
	for _, v := range d {
		p *= v
	}
	return p
}

func anyNonZero(v []int64) bool { return anyOtherThan(v, 0) }

func anyOtherThan(v []int64, want int64) bool {
	for _, x := range v {
		if x != want {
			return true
		}
	}
	return false
}

func alpha(n backbone.Node, name string) float64 {
	if f, ok := n.Floats[name]; ok && len(f) == 1 {
		return float64(f[0])
	}
	return 1
}

func inputAt(n backbone.Node, i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}
