// Package tfjs converts TF.js models, graph models (frozen TensorFlow graphs)
// and layers models (Keras), into ONNX graphs for ONNX Runtime. It imports only
// onnx/ and the standard library; backbone registers converters built here.
package tfjs

import (
	"fmt"
	"math"
	"strconv"

	"github.com/dogrun/dogrun/convert/onnx"
)

// builder assembles an ONNX graph and tracks every value's static shape, so
// that TF's "SAME" padding can be turned into explicit pads. Dimension 0 is the
// batch (-1). 4-D values are NCHW: TF.js models are NHWC, and the converters
// move the channel axis once, at the input, instead of around every operator.
type builder struct {
	g     onnx.Graph
	shape map[string][]int64
	init  map[string]int // initializer index by name
	names map[string]bool

	// Attributes of Conv and Pad nodes by node name, for the folding passes.
	windows map[string]window
	groups  map[string]int64
	pads    map[string][4]int64
}

func newBuilder(name string) *builder {
	return &builder{
		g:     onnx.Graph{Name: name},
		shape: map[string][]int64{},
		init:  map[string]int{},
		names: map[string]bool{"": true},

		windows: map[string]window{},
		groups:  map[string]int64{},
		pads:    map[string][4]int64{},
	}
}

// fresh returns an unused value name based on hint.
func (b *builder) fresh(hint string) string {
	name := hint
	for i := 1; b.names[name]; i++ {
		name = hint + "_" + strconv.Itoa(i)
	}
	b.names[name] = true
	return name
}

func (b *builder) input(name string, shape []int64) string {
	b.names[name] = true
	b.shape[name] = shape
	b.g.Inputs = append(b.g.Inputs, onnx.Value{Name: name, Shape: shape})
	return name
}

func (b *builder) constF(hint string, dims []int64, data []float32) string {
	name := b.fresh(hint)
	b.init[name] = len(b.g.Initializers)
	b.g.Initializers = append(b.g.Initializers, onnx.Tensor{Name: name, Dims: dims, Float: data})
	b.shape[name] = dims
	return name
}

func (b *builder) constI(hint string, dims []int64, data []int64) string {
	name := b.fresh(hint)
	b.init[name] = len(b.g.Initializers)
	b.g.Initializers = append(b.g.Initializers, onnx.Tensor{Name: name, Dims: dims, Int64: data})
	b.shape[name] = dims
	return name
}

// scalar returns a float scalar constant, or "" (an omitted optional input)
// for an infinite bound.
func (b *builder) scalar(hint string, v float32) string {
	if math.IsInf(float64(v), 0) {
		return ""
	}
	return b.constF(hint, nil, []float32{v})
}

// node appends op and returns its single output, whose shape is shape.
func (b *builder) node(op, hint string, inputs []string, shape []int64, attrs ...onnx.Attr) string {
	out := b.fresh(hint)
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Op: op, Name: out, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	b.shape[out] = shape
	return out
}

// reserve keeps names free for the graph outputs, so no inner value takes them.
func (b *builder) reserve(names ...string) {
	for _, n := range names {
		b.names[n] = true
	}
}

// output exposes value as a graph output called name, which must be reserved.
func (b *builder) output(name, value string) {
	if value != name {
		b.g.Nodes = append(b.g.Nodes, onnx.Node{Op: "Identity", Name: name, Inputs: []string{value}, Outputs: []string{name}})
		b.shape[name] = b.shape[value]
	}
	b.g.Outputs = append(b.g.Outputs, onnx.Value{Name: name, Shape: b.shape[value]})
}

var inf32 = float32(math.Inf(1))

// samePad returns TF's "SAME" padding of one spatial axis: the output keeps
// ceil(in/stride) positions and any odd padding goes at the end.
func samePad(in, k, stride, dilation int64) (begin, end int64) {
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+(k-1)*dilation+1-in, 0)
	return total / 2, total - total/2
}

// window describes a convolution or pooling window over H and W.
type window struct {
	k, stride, dilation [2]int64
	pads                [4]int64 // top, left, bottom, right
}

// newWindow resolves TF padding ("SAME", "VALID", or explicit pads) for an
// input of spatial size hw.
func newWindow(hw, k, stride, dilation [2]int64, padding string, explicit [4]int64) (window, error) {
	w := window{k: k, stride: stride, dilation: dilation}
	for i := range 2 {
		if w.stride[i] == 0 {
			w.stride[i] = 1
		}
		if w.dilation[i] == 0 {
			w.dilation[i] = 1
		}
	}
	switch padding {
	case "SAME", "same":
		for i := range 2 {
			w.pads[i], w.pads[i+2] = samePad(hw[i], k[i], w.stride[i], w.dilation[i])
		}
	case "VALID", "valid":
	case "EXPLICIT":
		w.pads = explicit
	default:
		return w, fmt.Errorf("unsupported padding %q", padding)
	}
	return w, nil
}

func (w window) outHW(hw [2]int64) [2]int64 {
	var out [2]int64
	for i := range 2 {
		span := (w.k[i]-1)*w.dilation[i] + 1
		out[i] = (hw[i]+w.pads[i]+w.pads[i+2]-span)/w.stride[i] + 1
	}
	return out
}

func (w window) attrs(withKernel bool) []onnx.Attr {
	a := []onnx.Attr{
		onnx.Ints("strides", w.stride[:]...),
		onnx.Ints("pads", w.pads[:]...),
	}
	if withKernel {
		a = append(a, onnx.Ints("kernel_shape", w.k[:]...))
	}
	if w.dilation != [2]int64{1, 1} {
		a = append(a, onnx.Ints("dilations", w.dilation[:]...))
	}
	return a
}

func hwOf(shape []int64) [2]int64 { return [2]int64{shape[2], shape[3]} }

// conv applies a convolution. weights are ONNX-ordered [out, in/group, kh, kw];
// bias may be nil.
func (b *builder) conv(hint, x string, weights []float32, wdims []int64, bias []float32, w window, group int64) (string, error) {
	in := b.shape[x]
	if len(in) != 4 {
		return "", fmt.Errorf("%s: convolution input %s has shape %v, want 4-D", hint, x, in)
	}
	if wdims[1]*group != in[1] {
		return "", fmt.Errorf("%s: kernel takes %d channels in %d groups, input has %d", hint, wdims[1], group, in[1])
	}
	inputs := []string{x, b.constF(hint+"/W", wdims, weights)}
	if bias != nil {
		inputs = append(inputs, b.constF(hint+"/B", []int64{wdims[0]}, bias))
	}
	out := w.outHW(hwOf(in))
	attrs := append(w.attrs(true), onnx.Int("group", group))
	y := b.node("Conv", hint, inputs, []int64{in[0], wdims[0], out[0], out[1]}, attrs...)
	b.windows[y], b.groups[y] = w, group
	return y, nil
}

// pad zero-pads H and W of x by (top, left, bottom, right).
func (b *builder) pad(hint, x string, p [4]int64) string {
	s := b.shape[x]
	pads := b.constI(hint+"/pads", []int64{8}, []int64{0, 0, p[0], p[1], 0, 0, p[2], p[3]})
	y := b.node("Pad", hint, []string{x, pads}, []int64{s[0], s[1], s[2] + p[0] + p[2], s[3] + p[1] + p[3]})
	b.pads[y] = p
	return y
}

// pool applies MaxPool or AveragePool; TF's average pooling leaves padding out of
// the count, which is ONNX's default.
func (b *builder) pool(op, hint, x string, w window) string {
	in := b.shape[x]
	out := w.outHW(hwOf(in))
	return b.node(op, hint, []string{x}, []int64{in[0], in[1], out[0], out[1]}, w.attrs(true)...)
}

// clip bounds x to [lo, hi]; infinite bounds are left out.
func (b *builder) clip(hint, x string, lo, hi float32) string {
	if lo == 0 && math.IsInf(float64(hi), 1) {
		return b.node("Relu", hint, []string{x}, b.shape[x])
	}
	return b.node("Clip", hint, []string{x, b.scalar(hint+"/min", lo), b.scalar(hint+"/max", hi)}, b.shape[x])
}

// activation applies a Keras / TF activation by name.
func (b *builder) activation(hint, x, name string) (string, error) {
	switch name {
	case "", "linear":
		return x, nil
	case "relu", "Relu":
		return b.clip(hint, x, 0, float32(math.Inf(1))), nil
	case "relu6", "Relu6":
		return b.clip(hint, x, 0, 6), nil
	case "sigmoid", "Sigmoid":
		return b.node("Sigmoid", hint, []string{x}, b.shape[x]), nil
	case "tanh", "Tanh":
		return b.node("Tanh", hint, []string{x}, b.shape[x]), nil
	case "softmax", "Softmax":
		if len(b.shape[x]) != 2 {
			return "", fmt.Errorf("%s: softmax over a %d-D tensor; only [batch, classes] is supported", hint, len(b.shape[x]))
		}
		return b.node("Softmax", hint, []string{x}, b.shape[x], onnx.Int("axis", -1)), nil
	}
	return "", fmt.Errorf("%s: unsupported activation %q", hint, name)
}

// dense computes x·W + bias for a 2-D x and W of shape [in, out] (or [out, in]
// with transB); bias may be nil.
func (b *builder) dense(hint, x string, w []float32, wdims []int64, transB bool, bias []float32) (string, error) {
	in := b.shape[x]
	k, m := wdims[0], wdims[1]
	if transB {
		k, m = m, k
	}
	if len(in) != 2 || in[1] != k {
		return "", fmt.Errorf("%s: dense input %s has shape %v, want [batch, %d]", hint, x, in, k)
	}
	inputs := []string{x, b.constF(hint+"/W", wdims, w)}
	if bias != nil {
		inputs = append(inputs, b.constF(hint+"/B", []int64{m}, bias))
	}
	attrs := []onnx.Attr{}
	if transB {
		attrs = append(attrs, onnx.Int("transB", 1))
	}
	return b.node("Gemm", hint, inputs, []int64{in[0], m}, attrs...), nil
}

// flatten turns x into [batch, features] in NHWC order, as TF.js would.
func (b *builder) flatten(hint, x string) string {
	s := b.shape[x]
	if len(s) == 2 {
		return x
	}
	n := int64(1)
	for _, d := range s[1:] {
		n *= d
	}
	if len(s) == 4 && s[1] > 1 && s[2]*s[3] > 1 {
		x = b.node("Transpose", hint+"/nhwc", []string{x}, []int64{s[0], s[2], s[3], s[1]}, onnx.Ints("perm", 0, 2, 3, 1))
	}
	return b.node("Flatten", hint, []string{x}, []int64{s[0], n}, onnx.Int("axis", 1))
}

// channelConst shapes a per-channel vector so it broadcasts over x: [C, 1, 1]
// for a 4-D (NCHW) x, [C] otherwise.
func (b *builder) channelConst(hint, x string, v []float32) string {
	if len(b.shape[x]) == 4 {
		return b.constF(hint, []int64{int64(len(v)), 1, 1}, v)
	}
	return b.constF(hint, []int64{int64(len(v))}, v)
}

// model optimizes, prunes and encodes the graph.
func (b *builder) model(producer string) ([]byte, error) {
	for b.foldChannelwise() || b.foldPad() || b.mergeClip() {
	}
	b.prune()
	m := onnx.Model{Producer: producer, Opset: 17, Graph: b.g}
	return m.Marshal()
}
