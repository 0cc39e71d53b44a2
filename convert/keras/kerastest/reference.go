package kerastest

import (
	"fmt"
	"sort"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/dogrun/dogrun/convert/keras"
)

// Forward runs arch on n images x ([n, 224, 224, 3], channels-last, BGR minus
// the mean, as keras-vggface feeds its models) in float64 with weights p
// (drawn as needed), and returns every output by cut name, n rows each. Widths
// are divided by div as keras.Options.WidthDivisor does; top adds the
// classifier layers.
func Forward(arch keras.Arch, p *Params, div int, top bool, x []float32, n int) (out map[string][]float64, err error) {
	defer func() {
		if r := recover(); r != nil { // GoMLX reports graph errors by panicking
			err = fmt.Errorf("gomlx reference %s: %v", arch, r)
		}
	}()
	backend, err := simplego.New("ops_sequential")
	if err != nil {
		return nil, err
	}
	defer backend.Finalize()
	g := NewGraph(backend, "reference_"+string(arch))
	in := Parameter(g, "x", shapes.Make(dtypes.Float64, n, keras.InputSize, keras.InputSize, 3))
	outs := (&net{p: p, g: g, div: max(div, 1), top: top}).run(arch, in)
	names := make([]string, 0, len(outs))
	for name := range outs {
		names = append(names, name)
	}
	sort.Strings(names)
	nodes := make([]*Node, len(names))
	for i, name := range names {
		nodes[i] = outs[name]
	}
	g.Compile(nodes...)
	xs := make([]float64, len(x))
	for i, v := range x {
		xs[i] = float64(v)
	}
	res := g.Run(tensors.FromFlatDataAndDimensions(xs, n, keras.InputSize, keras.InputSize, 3))
	out = map[string][]float64{}
	for i, name := range names {
		out[name] = tensors.MustCopyFlatData[float64](res[i])
	}
	return out, nil
}

// Generate draws arch's weights (top: with the classifier) without running it.
func Generate(arch keras.Arch, div int, top bool, seed uint64) (p *Params, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gomlx reference %s: %v", arch, r)
		}
	}()
	backend, err := simplego.New("ops_sequential")
	if err != nil {
		return nil, err
	}
	defer backend.Finalize()
	g := NewGraph(backend, "generate_"+string(arch))
	in := Parameter(g, "x", shapes.Make(dtypes.Float64, 1, keras.InputSize, keras.InputSize, 3))
	p = NewParams(seed)
	(&net{p: p, g: g, div: max(div, 1), top: top}).run(arch, in)
	return p, nil
}

// TopLayers are the layers an include_top=False file lacks.
func TopLayers(arch keras.Arch) []string {
	if arch == keras.VGG16 {
		return []string{"flatten", "fc6", "fc6/relu", "fc7", "fc7/relu", "fc8", "fc8/softmax"}
	}
	return []string{"flatten_1", "classifier"}
}

type net struct {
	p   *Params
	g   *Graph
	div int
	top bool
	n   map[string]int // counters for Keras' automatic layer names
}

func (m *net) run(arch keras.Arch, x *Node) map[string]*Node {
	m.n = map[string]int{}
	switch arch {
	case keras.VGG16:
		return m.vgg16(x)
	case keras.ResNet50:
		return m.resnet50(x, false)
	case keras.SENet50:
		return m.resnet50(x, true)
	}
	panic(fmt.Sprintf("no architecture %q", arch))
}

// auto records an unnamed Keras layer, e.g. activation_3.
func (m *net) auto(kind string) {
	m.n[kind]++
	m.p.Plain(fmt.Sprintf("%s_%d", kind, m.n[kind]))
}

func (m *net) width(c int) int { return max(c/m.div, 1) }

func (m *net) konst(data []float32, dims ...int) *Node {
	f := make([]float64, len(data))
	for i, v := range data {
		f[i] = float64(v)
	}
	return Const(m.g, tensors.FromFlatDataAndDimensions(f, dims...))
}

// channel broadcasts a per-channel vector over [batch, h, w, c].
func (m *net) channel(layer, kind string, c int) *Node {
	return Reshape(m.konst(m.p.W(layer, kind, c), c), 1, 1, 1, c)
}

func relu(x *Node) *Node { return Max(x, ZerosLike(x)) }

// tfSame is TensorFlow's "same" padding: the output is ceil(in/stride) and an
// odd total pads one more at the end.
func tfSame(in, k, stride int) [2]int {
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+k-in, 0)
	return [2]int{total / 2, total - total/2}
}

func (m *net) conv(x *Node, layer string, out, k, stride int, same, bias bool) *Node {
	in := x.Shape().Dimensions[3]
	kernel := m.konst(m.p.W(layer, "kernel", k, k, in, out), k, k, in, out)
	c := Convolve(x, kernel).StridePerAxis(stride, stride)
	if same {
		pad := tfSame(x.Shape().Dimensions[1], k, stride)
		c = c.PaddingPerDim([][2]int{pad, pad})
	}
	y := c.Done()
	if bias {
		y = Add(y, m.channel(layer, "bias", out))
	}
	return y
}

func (m *net) bn(x *Node, layer string, eps float64) *Node {
	c := x.Shape().Dimensions[3]
	gamma := m.channel(layer, "gamma", c)
	beta := m.channel(layer, "beta", c)
	mean := m.channel(layer, "moving_mean", c)
	variance := m.channel(layer, "moving_variance", c)
	scale := Div(gamma, Sqrt(Add(variance, Const(m.g, eps))))
	return Add(Mul(Sub(x, mean), scale), beta)
}

func (m *net) dense(x *Node, layer string, out int) *Node {
	in := x.Shape().Dimensions[1]
	w := m.konst(m.p.W(layer, "kernel", in, out), in, out)
	b := m.konst(m.p.W(layer, "bias", out), 1, out)
	return Add(Dot(x, w), b)
}

func (m *net) vgg16(x *Node) map[string]*Node {
	blocks := []struct{ convs, width int }{{2, 64}, {2, 128}, {3, 256}, {3, 512}, {3, 512}}
	for i, b := range blocks {
		for j := 1; j <= b.convs; j++ {
			x = relu(m.conv(x, fmt.Sprintf("conv%d_%d", i+1, j), m.width(b.width), 3, 1, true, true))
		}
		m.p.Plain(fmt.Sprintf("pool%d", i+1))
		x = MaxPool(x).Window(2).Strides(2).NoPadding().Done()
	}
	d := x.Shape().Dimensions
	flat := Reshape(x, d[0], d[1]*d[2]*d[3]) // channels-last order, as Keras' Flatten
	outs := map[string]*Node{"pool5_avg": ReduceMean(x, 1, 2), "pool5": flat}
	if !m.top {
		return outs
	}
	m.p.Plain("flatten")
	fc := m.width(4096)
	outs["fc6"] = m.dense(flat, "fc6", fc)
	m.p.Plain("fc6/relu")
	outs["fc6_relu"] = relu(outs["fc6"])
	outs["fc7"] = m.dense(outs["fc6_relu"], "fc7", fc)
	m.p.Plain("fc7/relu")
	outs["fc7_relu"] = relu(outs["fc7"])
	m.dense(outs["fc7_relu"], "fc8", 2622)
	m.p.Plain("fc8/softmax")
	return outs
}

func (m *net) resnet50(x *Node, se bool) map[string]*Node {
	eps := 1e-3 // Keras' BatchNormalization default
	if se {
		eps = 1e-4 // SENET50 sets bn_eps
	}
	x = m.conv(x, "conv1/7x7_s2", m.width(64), 7, 2, true, false)
	x = m.bn(x, "conv1/7x7_s2/bn", eps)
	m.auto("activation")
	x = relu(x)
	m.auto("max_pooling2d")
	x = MaxPool(x).Window(3).Strides(2).NoPadding().Done()
	stages := []struct{ blocks, width int }{{3, 64}, {4, 128}, {6, 256}, {3, 512}}
	for i, s := range stages {
		stage := i + 2
		for b := 1; b <= s.blocks; b++ {
			strides := 1
			if b == 1 && stage > 2 {
				strides = 2
			}
			x = m.block(x, stage, b, m.width(s.width), m.width(4*s.width), strides, se, eps)
		}
	}
	m.p.Plain("avg_pool")
	pooled := MeanPool(x).Window(7).Strides(7).NoPadding().Done()
	d := pooled.Shape().Dimensions
	outs := map[string]*Node{"avg_pool": Reshape(pooled, d[0], d[3])}
	if m.top {
		m.p.Plain("flatten_1")
		outs["classifier"] = Softmax(m.dense(outs["avg_pool"], "classifier", 8631), -1)
	}
	return outs
}

// block is resnet_conv_block (b == 1: projection shortcut) or
// resnet_identity_block, or their senet_ versions with se.
func (m *net) block(x *Node, stage, b, f, out, strides int, se bool, eps float64) *Node {
	name := fmt.Sprintf("conv%d_%d", stage, b)
	y := m.bn(m.conv(x, name+"_1x1_reduce", f, 1, strides, false, false), name+"_1x1_reduce/bn", eps)
	m.auto("activation")
	y = relu(y)
	y = m.bn(m.conv(y, name+"_3x3", f, 3, 1, true, false), name+"_3x3/bn", eps)
	m.auto("activation")
	y = relu(y)
	y = m.bn(m.conv(y, name+"_1x1_increase", out, 1, 1, false, false), name+"_1x1_increase/bn", eps)
	if se {
		m.auto("global_average_pooling2d")
		s := ReduceMean(y, 1, 2)
		m.auto("reshape")
		s = Reshape(s, s.Shape().Dimensions[0], 1, 1, out)
		s = relu(m.conv(s, name+"_1x1_down", out/16, 1, 1, false, true))
		m.auto("activation")
		s = Sigmoid(m.conv(s, name+"_1x1_up", out, 1, 1, false, true))
		m.auto("activation")
		m.auto("multiply")
		y = Mul(y, s)
	}
	shortcut := x
	if b == 1 {
		shortcut = m.bn(m.conv(x, name+"_1x1_proj", out, 1, strides, false, false), name+"_1x1_proj/bn", eps)
	}
	m.auto("add")
	m.auto("activation")
	return relu(Add(y, shortcut))
}
