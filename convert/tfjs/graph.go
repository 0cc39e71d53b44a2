package tfjs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/convert/onnx"
)

// graphModel is a TF.js graph model ("format": "graph-model"): a frozen
// TensorFlow GraphDef in JSON, whose Const nodes take their values from the
// weights manifest by node name.
type graphModel struct {
	Format        string `json:"format"`
	ModelTopology struct {
		Node []tfNode `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest []WeightGroup `json:"weightsManifest"`
}

type tfNode struct {
	Name  string          `json:"name"`
	Op    string          `json:"op"`
	Input []string        `json:"input"`
	Attr  map[string]attr `json:"attr"`
}

// attr is a TensorFlow AttrValue in protobuf's JSON mapping: int64 as strings,
// bytes as base64.
type attr struct {
	S    []byte   `json:"s"`
	I    flexInt  `json:"i"`
	F    *float64 `json:"f"`
	B    *bool    `json:"b"`
	List *struct {
		I []flexInt `json:"i"`
		S [][]byte  `json:"s"`
	} `json:"list"`
	Shape *struct {
		Dim []struct {
			Size flexInt `json:"size"`
		} `json:"dim"`
	} `json:"shape"`
}

// flexInt reads an int64 written as a JSON number or string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	*f = flexInt(v)
	return err
}

func (n tfNode) str(key string) string { return string(n.Attr[key].S) }

func (n tfNode) ints(key string) []int64 {
	a := n.Attr[key]
	if a.List == nil {
		return nil
	}
	out := make([]int64, len(a.List.I))
	for i, v := range a.List.I {
		out[i] = int64(v)
	}
	return out
}

func (n tfNode) boolean(key string) bool {
	b := n.Attr[key].B
	return b != nil && *b
}

func (n tfNode) strs(key string) []string {
	a := n.Attr[key]
	if a.List == nil {
		return nil
	}
	out := make([]string, len(a.List.S))
	for i, s := range a.List.S {
		out[i] = string(s)
	}
	return out
}

// GraphConverter returns a backbone converter for a TF.js graph model: files
// are the model JSON first, then its weight shards. The ONNX graph takes the
// model's one Placeholder, in NCHW rather than TF's NHWC, and outputs the named
// nodes under their own names.
func GraphConverter(outputs ...string) func(files []string) ([]byte, error) {
	return func(files []string) ([]byte, error) {
		var m graphModel
		if err := readModel(files, "graph", &m); err != nil {
			return nil, err
		}
		if m.Format != "graph-model" {
			return nil, fmt.Errorf("%s: format %q, want graph-model", files[0], m.Format)
		}
		weights, err := loadWeights(m.WeightsManifest, files[1:])
		if err != nil {
			return nil, err
		}
		return convertGraph(&m, weights, outputs)
	}
}

// gval is a converted TF tensor: an ONNX value, or a constant kept aside until
// a consumer decides its layout.
type gval struct {
	name  string
	konst *weight
}

type graphConv struct {
	b       *builder
	nodes   map[string]tfNode
	weights map[string]weight
	vals    map[string]gval
	active  map[string]bool // on the DFS stack, to report cycles
}

func convertGraph(m *graphModel, weights map[string]weight, outputs []string) ([]byte, error) {
	c := &graphConv{
		b:       newBuilder("tfjs-graph"),
		nodes:   map[string]tfNode{},
		weights: weights,
		vals:    map[string]gval{},
		active:  map[string]bool{},
	}
	for _, n := range m.ModelTopology.Node {
		c.nodes[n.Name] = n
	}
	if len(outputs) == 0 {
		return nil, fmt.Errorf("tfjs graph model: no outputs asked for")
	}
	for _, o := range outputs {
		c.b.reserve(strings.TrimSuffix(o, ":0"))
	}
	for _, o := range outputs {
		v, err := c.value(o)
		if err != nil {
			return nil, err
		}
		if v.konst != nil {
			return nil, fmt.Errorf("output %s is a constant", o)
		}
		c.b.output(strings.TrimSuffix(o, ":0"), v.name)
	}
	return c.b.model("dogrun tfjs graph converter")
}

// value converts the node that produces ref ("name", "name:0") and its inputs.
func (c *graphConv) value(ref string) (gval, error) {
	name, idx, _ := strings.Cut(strings.TrimPrefix(ref, "^"), ":")
	if idx != "" && idx != "0" {
		return gval{}, fmt.Errorf("%s: only a node's first output is supported", ref)
	}
	if v, ok := c.vals[name]; ok {
		return v, nil
	}
	n, ok := c.nodes[name]
	if !ok {
		return gval{}, fmt.Errorf("no node %q in the graph", name)
	}
	if c.active[name] {
		return gval{}, fmt.Errorf("graph cycle through %s", name)
	}
	c.active[name] = true
	var in []gval
	for _, r := range n.Input {
		if strings.HasPrefix(r, "^") {
			continue // control dependency
		}
		v, err := c.value(r)
		if err != nil {
			return gval{}, err
		}
		in = append(in, v)
	}
	v, err := c.convert(n, in)
	if err != nil {
		return gval{}, fmt.Errorf("node %s (%s): %w", n.Name, n.Op, err)
	}
	delete(c.active, name)
	c.vals[name] = v
	return v, nil
}

// tensor returns v as an ONNX value; a constant becomes an initializer laid out
// for use beside a value of rank like.
func (c *graphConv) tensor(hint string, v gval, like int) (string, error) {
	if v.konst == nil {
		return v.name, nil
	}
	w := v.konst
	if w.f == nil {
		return "", fmt.Errorf("integer constant used as a tensor")
	}
	dims, data := w.shape, w.f
	if like == 4 && len(dims) > 0 {
		var err error
		if dims, data, err = nhwcToNCHW(dims, data); err != nil {
			return "", err
		}
	}
	return c.b.constF(hint, dims, data), nil
}

// nhwcToNCHW reorders a constant that broadcasts against an NHWC tensor so that
// it broadcasts the same way against the NCHW one.
func nhwcToNCHW(dims []int64, data []float32) ([]int64, []float32, error) {
	if len(dims) > 4 {
		return nil, nil, fmt.Errorf("constant of rank %d beside a 4-D tensor", len(dims))
	}
	d := []int64{1, 1, 1, 1}
	copy(d[4-len(dims):], dims)
	n, h, w, ch := d[0], d[1], d[2], d[3]
	out := make([]float32, len(data))
	for in := range n {
		for y := range h {
			for x := range w {
				for k := range ch {
					out[((in*ch+k)*h+y)*w+x] = data[((in*h+y)*w+x)*ch+k]
				}
			}
		}
	}
	if n == 1 && len(dims) < 4 {
		return []int64{ch, h, w}, out, nil
	}
	return []int64{n, ch, h, w}, out, nil
}

// nchwAxis maps an NHWC axis to NCHW.
func nchwAxis(a int64) int64 {
	if a < 0 {
		a += 4
	}
	return [4]int64{0, 2, 3, 1}[a]
}

func (c *graphConv) convert(n tfNode, in []gval) (gval, error) {
	b := c.b
	val := func(s string, err error) (gval, error) { return gval{name: s}, err }
	need := func(k int) error {
		if len(in) < k {
			return fmt.Errorf("has %d inputs, want %d", len(in), k)
		}
		for _, v := range in[:k] {
			if v.konst != nil && v.konst.f == nil && n.Op != "Mean" {
				return fmt.Errorf("unexpected integer constant input")
			}
		}
		return nil
	}
	switch n.Op {
	case "Placeholder":
		s := n.Attr["shape"].Shape
		if s == nil || len(s.Dim) != 4 {
			return gval{}, fmt.Errorf("input must be a 4-D NHWC image batch")
		}
		h, w, ch := int64(s.Dim[1].Size), int64(s.Dim[2].Size), int64(s.Dim[3].Size)
		if h <= 0 || w <= 0 || ch <= 0 {
			return gval{}, fmt.Errorf("input needs a fixed height, width and channel count")
		}
		return gval{name: b.input(n.Name, []int64{-1, ch, h, w})}, nil
	case "Const":
		w, ok := c.weights[n.Name]
		if !ok {
			return gval{}, fmt.Errorf("no value in the weights manifest")
		}
		return gval{konst: &w}, nil
	case "Identity", "StopGradient", "Snapshot":
		if err := need(1); err != nil {
			return gval{}, err
		}
		return in[0], nil
	case "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative":
		if err := need(2); err != nil {
			return gval{}, err
		}
		return val(c.conv(n, in))
	case "MaxPool", "AvgPool":
		if err := need(1); err != nil {
			return gval{}, err
		}
		if f := n.str("data_format"); f != "" && f != "NHWC" {
			return gval{}, fmt.Errorf("data_format %s", f)
		}
		k, s := n.ints("ksize"), n.ints("strides")
		x := in[0].name
		w, err := newWindow(hwOf(b.shape[x]), [2]int64{k[1], k[2]}, [2]int64{s[1], s[2]}, [2]int64{1, 1}, n.str("padding"), [4]int64{})
		if err != nil {
			return gval{}, err
		}
		op := map[string]string{"MaxPool": "MaxPool", "AvgPool": "AveragePool"}[n.Op]
		return gval{name: b.pool(op, n.Name, x, w)}, nil
	case "Relu", "Relu6", "Sigmoid", "Tanh", "Softmax":
		if err := need(1); err != nil {
			return gval{}, err
		}
		return val(b.activation(n.Name, in[0].name, n.Op))
	case "Add", "AddV2", "BiasAdd", "Sub", "Mul", "RealDiv", "Minimum", "Maximum":
		if err := need(2); err != nil {
			return gval{}, err
		}
		return val(c.binary(n, in[0], in[1]))
	case "Mean":
		if err := need(2); err != nil {
			return gval{}, err
		}
		if in[1].konst == nil || in[1].konst.i == nil {
			return gval{}, fmt.Errorf("reduction axes must be an integer constant")
		}
		return val(c.mean(n, in[0].name, in[1].konst.i))
	case "MatMul", "_FusedMatMul":
		if err := need(2); err != nil {
			return gval{}, err
		}
		return val(c.matmul(n, in))
	}
	return gval{}, fmt.Errorf("unsupported op")
}

func (c *graphConv) conv(n tfNode, in []gval) (string, error) {
	b := c.b
	if f := n.str("data_format"); f != "" && f != "NHWC" {
		return "", fmt.Errorf("data_format %s", f)
	}
	x, k := in[0], in[1].konst
	if x.konst != nil || k == nil || len(k.shape) != 4 {
		return "", fmt.Errorf("want a tensor and a 4-D constant filter")
	}
	s, d := n.ints("strides"), n.ints("dilations")
	if len(s) != 4 {
		return "", fmt.Errorf("strides %v", s)
	}
	if len(d) != 4 {
		d = []int64{1, 1, 1, 1}
	}
	var explicit [4]int64
	if p := n.ints("explicit_paddings"); len(p) == 8 {
		explicit = [4]int64{p[2], p[4], p[3], p[5]}
	}
	win, err := newWindow(hwOf(b.shape[x.name]), [2]int64{k.shape[0], k.shape[1]}, [2]int64{s[1], s[2]}, [2]int64{d[1], d[2]}, n.str("padding"), explicit)
	if err != nil {
		return "", err
	}
	depthwise := strings.Contains(n.Op, "Depthwise")
	wd, wdims, group := convKernel(k, depthwise)
	var bias []float32
	act := ""
	if strings.HasPrefix(n.Op, "_Fused") || strings.HasPrefix(n.Op, "Fused") {
		ops := n.strs("fused_ops")
		if len(ops) == 0 || ops[0] != "BiasAdd" || len(in) < 3 || in[2].konst == nil || len(ops) > 2 {
			return "", fmt.Errorf("fused ops %v: only BiasAdd and an activation are supported", ops)
		}
		bias = in[2].konst.f
		if len(ops) == 2 {
			act = ops[1]
		}
	}
	y, err := b.conv(n.Name, x.name, wd, wdims, bias, win, group)
	if err != nil {
		return "", err
	}
	return b.activation(n.Name+"/act", y, act)
}

// convKernel reorders a TF filter [kh, kw, in, out] (depthwise: [kh, kw, in,
// multiplier]) to ONNX's [out, in/group, kh, kw] and returns the group count.
func convKernel(k *weight, depthwise bool) ([]float32, []int64, int64) {
	kh, kw, ci, co := k.shape[0], k.shape[1], k.shape[2], k.shape[3]
	out := make([]float32, len(k.f))
	if depthwise {
		// Output channel i*multiplier+m reads input channel i alone.
		for y := range kh {
			for x := range kw {
				for i := range ci {
					for m := range co {
						out[((i*co+m)*kh+y)*kw+x] = k.f[((y*kw+x)*ci+i)*co+m]
					}
				}
			}
		}
		return out, []int64{ci * co, 1, kh, kw}, ci
	}
	for y := range kh {
		for x := range kw {
			for i := range ci {
				for o := range co {
					out[((o*ci+i)*kh+y)*kw+x] = k.f[((y*kw+x)*ci+i)*co+o]
				}
			}
		}
	}
	return out, []int64{co, ci, kh, kw}, 1
}

func (c *graphConv) binary(n tfNode, l, r gval) (string, error) {
	b := c.b
	if l.konst != nil && r.konst != nil {
		return "", fmt.Errorf("both inputs constant")
	}
	x := l
	if x.konst != nil {
		x = r
	}
	rank := len(b.shape[x.name])
	// Minimum / Maximum against a scalar are clips, which fuse with convolutions.
	if k := cmp.Or(r.konst, l.konst); k != nil && len(k.f) == 1 && (n.Op == "Minimum" || n.Op == "Maximum") {
		lo, hi := -inf32, k.f[0]
		if n.Op == "Maximum" {
			lo, hi = k.f[0], inf32
		}
		return b.clip(n.Name, x.name, lo, hi), nil
	}
	ln, err := c.tensor(n.Name+"/a", l, rank)
	if err != nil {
		return "", err
	}
	rn, err := c.tensor(n.Name+"/b", r, rank)
	if err != nil {
		return "", err
	}
	if l.konst == nil && r.konst == nil && len(b.shape[ln]) != len(b.shape[rn]) {
		return "", fmt.Errorf("inputs of rank %d and %d", len(b.shape[ln]), len(b.shape[rn]))
	}
	op := map[string]string{"Add": "Add", "AddV2": "Add", "BiasAdd": "Add", "Sub": "Sub", "Mul": "Mul",
		"RealDiv": "Div", "Minimum": "Min", "Maximum": "Max"}[n.Op]
	return b.node(op, n.Name, []string{ln, rn}, b.shape[x.name]), nil
}

func (c *graphConv) mean(n tfNode, x string, axes []int64) (string, error) {
	b := c.b
	s := b.shape[x]
	keep := n.boolean("keep_dims")
	if len(s) != 4 {
		return "", fmt.Errorf("mean over a %d-D tensor", len(s))
	}
	reduced := map[int64]bool{}
	var onnxAxes []int64
	for _, a := range axes {
		reduced[nchwAxis(a)] = true
		onnxAxes = append(onnxAxes, nchwAxis(a))
	}
	// Without keep_dims, what remains must be in the same order in both layouts.
	if !keep && !(reduced[2] && reduced[3]) && !reduced[1] {
		return "", fmt.Errorf("axes %v without keep_dims", axes)
	}
	var shape []int64
	for i, d := range s {
		switch {
		case !reduced[int64(i)]:
			shape = append(shape, d)
		case keep:
			shape = append(shape, 1)
		}
	}
	k := int64(0)
	if keep {
		k = 1
	}
	return b.node("ReduceMean", n.Name, []string{x}, shape, onnx.Ints("axes", onnxAxes...), onnx.Int("keepdims", k)), nil
}

func (c *graphConv) matmul(n tfNode, in []gval) (string, error) {
	x, w := in[0], in[1].konst
	if x.konst != nil || w == nil || w.f == nil || len(w.shape) != 2 || n.boolean("transpose_a") {
		return "", fmt.Errorf("want x · constant matrix")
	}
	var bias []float32
	act := ""
	if n.Op == "_FusedMatMul" {
		ops := n.strs("fused_ops")
		if len(ops) == 0 || ops[0] != "BiasAdd" || len(ops) > 2 || len(in) < 3 || in[2].konst == nil {
			return "", fmt.Errorf("fused ops %v: only BiasAdd and an activation are supported", ops)
		}
		bias = in[2].konst.f
		if len(ops) == 2 {
			act = ops[1]
		}
	}
	y, err := c.b.dense(n.Name, x.name, w.f, w.shape, n.boolean("transpose_b"), bias)
	if err != nil {
		return "", err
	}
	return c.b.activation(n.Name+"/act", y, act)
}

// readModel decodes the model JSON (files[0], plain or in its JavaScript
// bundle) of a model whose weight shards follow it in files.
func readModel(files []string, kind string, v any) error {
	if len(files) < 2 {
		return fmt.Errorf("tfjs %s model: want the model JSON and its weight shards, got %d files", kind, len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		return err
	}
	js, err := readJSON(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", files[0], err)
	}
	if err := json.Unmarshal(js, v); err != nil {
		return fmt.Errorf("%s: %w", files[0], err)
	}
	return nil
}
