package keras

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dogrun/dogrun/convert/onnx"
)

// Arch is one of keras-vggface's architectures.
type Arch string

const (
	VGG16    Arch = "vgg16"
	ResNet50 Arch = "resnet50"
	SENet50  Arch = "senet50"
)

// Output is a graph output the importer offers as features.
type Output struct {
	Name string // graph output name, also used as the cut name
	Dim  int
	Top  bool // only with the include_top weights (the classifier layers)
}

// Outputs lists an architecture's outputs, the default first.
func Outputs(a Arch) []Output {
	switch a {
	case VGG16:
		return []Output{
			{Name: "pool5_avg", Dim: 512},
			{Name: "pool5", Dim: 7 * 7 * 512},
			{Name: "fc6", Dim: 4096, Top: true},
			{Name: "fc6_relu", Dim: 4096, Top: true},
			{Name: "fc7", Dim: 4096, Top: true},
			{Name: "fc7_relu", Dim: 4096, Top: true},
		}
	case ResNet50, SENet50:
		return []Output{
			{Name: "avg_pool", Dim: 2048},
			{Name: "classifier", Dim: 8631, Top: true},
		}
	}
	return nil
}

// WeightsFile is the name keras-vggface gives the architecture's weights, with
// or without the classifier top.
func WeightsFile(a Arch, top bool) string {
	if top {
		return "rcmalli_vggface_tf_" + string(a) + ".h5"
	}
	return "rcmalli_vggface_tf_notop_" + string(a) + ".h5"
}

// InputSize is the side of the square input every architecture is built for.
const InputSize = 224

// Options changes the network only for tests; the zero value builds
// keras-vggface's networks.
type Options struct {
	// WidthDivisor divides every layer's width (channels and dense units, not
	// the classes), keeping names, topology and input size, so that tests can
	// check the real structure at a fraction of the cost. 0 means 1.
	WidthDivisor int
}

// Build reads the weights of f as architecture a and returns the ONNX graph:
// input "input" is [batch, 3, 224, 224] BGR with keras-vggface's mean already
// subtracted (NCHW), outputs are those of Outputs the file has weights for.
func Build(a Arch, f *File, opt Options) (*onnx.Model, error) {
	b, err := build(a, f, opt, false)
	if err != nil {
		return nil, err
	}
	return &onnx.Model{Producer: "dogrun keras importer", Graph: b.g}, nil
}

// Check reads only the layer list and shapes of the file at path and returns
// the names of the outputs it supports, or why it is not architecture a.
func Check(a Arch, path string) ([]string, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := build(a, f, Options{}, true)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range b.g.Outputs {
		out = append(out, v.Name)
	}
	return out, nil
}

// Convert returns a converter for backbone registry entries: the one file is a
// keras-vggface weights file of architecture a.
func Convert(a Arch) func(files []string) ([]byte, error) {
	return func(files []string) ([]byte, error) {
		if len(files) != 1 {
			return nil, fmt.Errorf("keras %s: want one .h5 file, got %d", a, len(files))
		}
		f, err := Open(files[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		m, err := Build(a, f, Options{})
		if err != nil {
			return nil, err
		}
		return m.Marshal()
	}
}

func build(a Arch, f *File, opt Options, dry bool) (*builder, error) {
	div := max(opt.WidthDivisor, 1)
	b := &builder{f: f, dry: dry, div: div, used: map[string]bool{}}
	x := tensor{name: "input", c: 3, s: InputSize}
	b.g.Name = "vggface_" + string(a)
	b.g.Inputs = []onnx.Value{{Name: x.name, Shape: []int64{-1, 3, InputSize, InputSize}}}
	switch a {
	case VGG16:
		b.vgg16(x)
	case ResNet50:
		b.resnet(x, false)
	case SENet50:
		b.resnet(x, true)
	default:
		return nil, fmt.Errorf("keras: unknown architecture %q", a)
	}
	if b.err != nil {
		return nil, b.notArch(a, b.err)
	}
	// A file with more weighted layers than the architecture is another one
	// (a SENet50 file has every ResNet50 layer, plus its squeeze-excitation).
	var extra []string
	for _, l := range f.Layers {
		if b.used[l] {
			continue
		}
		ws, err := f.Weights(l)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if len(ws) > 0 {
			extra = append(extra, l)
		}
	}
	if len(extra) > 0 {
		return nil, b.notArch(a, fmt.Errorf("it has weighted layers that architecture lacks: %s", brief(extra)))
	}
	return b, nil
}

func (b *builder) notArch(a Arch, err error) error {
	return fmt.Errorf("%s is not a keras-vggface %s weights file (%s or %s): %w",
		b.f.Path, a, WeightsFile(a, false), WeightsFile(a, true), err)
}

func brief(names []string) string {
	if len(names) > 6 {
		return strings.Join(names[:6], ", ") + fmt.Sprintf(", ... (%d in all)", len(names))
	}
	return strings.Join(names, ", ")
}

// tensor is an NCHW activation: its name, channels and spatial side.
type tensor struct {
	name string
	c, s int
}

type builder struct {
	f    *File
	dry  bool // check names and shapes only
	div  int
	g    onnx.Graph
	used map[string]bool // layers whose weights were taken
	err  error           // first problem; later steps do nothing
}

func (b *builder) width(n int) int { return max(n/b.div, 1) }

func (b *builder) node(op, out string, inputs []string, attrs ...onnx.Attr) string {
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Op: op, Name: out, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *builder) output(name string, dim int) {
	b.g.Outputs = append(b.g.Outputs, onnx.Value{Name: name, Shape: []int64{-1, int64(dim)}})
}

// weights takes a layer's arrays by role, checking each one's shape. Roles are
// matched by weight name, or by position when the names say nothing.
func (b *builder) weights(layer string, roles []string, shapes [][]int) [][]float32 {
	if b.err != nil {
		return nil
	}
	ws, err := b.f.Weights(layer)
	if err != nil {
		b.err = err
		return nil
	}
	b.used[layer] = true
	if len(ws) != len(roles) {
		var got []string
		for _, w := range ws {
			got = append(got, w.Name)
		}
		b.err = fmt.Errorf("layer %q has weights [%s], want %s", layer, strings.Join(got, ", "), strings.Join(roles, ", "))
		return nil
	}
	byRole := map[string]Weight{}
	for _, w := range ws {
		byRole[w.Kind()] = w
	}
	out := make([][]float32, len(roles))
	for i, r := range roles {
		w, ok := byRole[r]
		if !ok {
			w = ws[i]
		}
		if !slices.Equal(w.Shape, shapes[i]) {
			b.err = fmt.Errorf("layer %q weight %q has shape %v, want %v", layer, w.Name, w.Shape, shapes[i])
			return nil
		}
		if b.dry {
			continue
		}
		if out[i], err = w.Read(); err != nil {
			b.err = fmt.Errorf("layer %q: %w", layer, err)
			return nil
		}
	}
	return out
}

func (b *builder) init(name string, dims []int64, data []float32) string {
	if !b.dry {
		b.g.Initializers = append(b.g.Initializers, onnx.Tensor{Name: name, Dims: dims, Float: data})
	}
	return name
}

// conv is a Keras Conv2D: kernel [k, k, in, out] becomes ONNX's [out, in, k, k];
// "same" padding is TensorFlow's, the extra row and column at the end.
func (b *builder) conv(x tensor, layer string, out, k, stride int, same, bias bool) tensor {
	roles, shapes := []string{"kernel"}, [][]int{{k, k, x.c, out}}
	if bias {
		roles, shapes = append(roles, "bias"), append(shapes, []int{out})
	}
	w := b.weights(layer, roles, shapes)
	if b.err != nil {
		return x
	}
	var s, lo, hi int
	if same {
		s = (x.s + stride - 1) / stride
		total := max((s-1)*stride+k-x.s, 0)
		lo, hi = total/2, total-total/2
	} else {
		s = (x.s-k)/stride + 1
	}
	var kernel []float32
	if !b.dry {
		kernel = make([]float32, len(w[0]))
		for h := 0; h < k; h++ {
			for v := 0; v < k; v++ {
				for i := 0; i < x.c; i++ {
					for o := 0; o < out; o++ {
						kernel[((o*x.c+i)*k+h)*k+v] = w[0][((h*k+v)*x.c+i)*out+o]
					}
				}
			}
		}
	}
	inputs := []string{x.name, b.init(layer+"/kernel", []int64{int64(out), int64(x.c), int64(k), int64(k)}, kernel)}
	if bias {
		var bv []float32
		if !b.dry {
			bv = w[1]
		}
		inputs = append(inputs, b.init(layer+"/bias", []int64{int64(out)}, bv))
	}
	name := b.node("Conv", layer, inputs,
		onnx.Ints("kernel_shape", int64(k), int64(k)),
		onnx.Ints("strides", int64(stride), int64(stride)),
		onnx.Ints("pads", int64(lo), int64(lo), int64(hi), int64(hi)))
	return tensor{name: name, c: out, s: s}
}

// bn is a Keras BatchNormalization in inference mode.
func (b *builder) bn(x tensor, layer string, eps float32) tensor {
	roles := []string{"gamma", "beta", "moving_mean", "moving_variance"}
	c := []int{x.c}
	w := b.weights(layer, roles, [][]int{c, c, c, c})
	if b.err != nil {
		return x
	}
	inputs := []string{x.name}
	for i, r := range roles {
		var v []float32
		if !b.dry {
			v = w[i]
		}
		inputs = append(inputs, b.init(layer+"/"+r, []int64{int64(x.c)}, v))
	}
	return tensor{name: b.node("BatchNormalization", layer, inputs, onnx.Float32("epsilon", eps)), c: x.c, s: x.s}
}

// dense is a Keras Dense layer without its activation (kernel [in, out], bias
// [out]) on a [batch, in] input; name is its output.
func (b *builder) dense(x string, in int, layer string, out int, name string) string {
	w := b.weights(layer, []string{"kernel", "bias"}, [][]int{{in, out}, {out}})
	if b.err != nil {
		return x
	}
	var k, bias []float32
	if !b.dry {
		k, bias = w[0], w[1]
	}
	return b.node("Gemm", name, []string{x,
		b.init(layer+"/kernel", []int64{int64(in), int64(out)}, k),
		b.init(layer+"/bias", []int64{int64(out)}, bias)})
}

func (b *builder) unary(op string, x tensor, name string) tensor {
	return tensor{name: b.node(op, name, []string{x.name}), c: x.c, s: x.s}
}

// pool is a Keras MaxPooling2D or AveragePooling2D with "valid" padding.
func (b *builder) pool(op string, x tensor, name string, k, stride int) tensor {
	s := (x.s-k)/stride + 1
	return tensor{name: b.node(op, name, []string{x.name},
		onnx.Ints("kernel_shape", int64(k), int64(k)),
		onnx.Ints("strides", int64(stride), int64(stride))), c: x.c, s: s}
}

func (b *builder) vgg16(x tensor) {
	blocks := []struct{ convs, width int }{{2, 64}, {2, 128}, {3, 256}, {3, 512}, {3, 512}}
	for i, blk := range blocks {
		for j := 1; j <= blk.convs; j++ {
			layer := fmt.Sprintf("conv%d_%d", i+1, j)
			x = b.conv(x, layer, b.width(blk.width), 3, 1, true, true)
			x = b.unary("Relu", x, layer+"/relu")
		}
		x = b.pool("MaxPool", x, fmt.Sprintf("pool%d/max", i+1), 2, 2)
	}
	if b.err != nil {
		return
	}
	avg := b.unary("GlobalAveragePool", x, "pool5/avg")
	b.node("Flatten", "pool5_avg", []string{avg.name})
	b.output("pool5_avg", x.c)
	// Keras flattens channels-last: [batch, h, w, c].
	nhwc := b.node("Transpose", "pool5/nhwc", []string{x.name}, onnx.Ints("perm", 0, 2, 3, 1))
	flat := b.node("Flatten", "pool5", []string{nhwc})
	b.output("pool5", x.s*x.s*x.c)
	if !b.f.HasLayer("fc6") {
		return
	}
	fc := b.width(4096)
	b.dense(flat, x.s*x.s*x.c, "fc6", fc, "fc6")
	b.node("Relu", "fc6_relu", []string{"fc6"})
	b.dense("fc6_relu", fc, "fc7", fc, "fc7")
	b.node("Relu", "fc7_relu", []string{"fc7"})
	// fc8 (2622 celebrities) is checked but not offered: its softmax is no feature.
	b.weights("fc8", []string{"kernel", "bias"}, [][]int{{fc, 2622}, {2622}})
	if b.err != nil {
		return
	}
	for _, n := range []string{"fc6", "fc6_relu", "fc7", "fc7_relu"} {
		b.output(n, fc)
	}
}

// resnet builds keras-vggface's RESNET50, or SENET50 with se: Caffe-style
// bottlenecks (stride on the first 1x1), BatchNormalization epsilon 1e-3
// (Keras' default) or 1e-4 (SENET50's), and squeeze-excitation before the sum.
func (b *builder) resnet(x tensor, se bool) {
	eps := float32(1e-3)
	if se {
		eps = 1e-4
	}
	x = b.conv(x, "conv1/7x7_s2", b.width(64), 7, 2, true, false)
	x = b.bn(x, "conv1/7x7_s2/bn", eps)
	x = b.unary("Relu", x, "conv1/relu")
	x = b.pool("MaxPool", x, "pool1", 3, 2)
	stages := []struct{ blocks, width int }{{3, 64}, {4, 128}, {6, 256}, {3, 512}}
	for i, st := range stages {
		stage := i + 2
		for blk := 1; blk <= st.blocks; blk++ {
			stride := 1
			if blk == 1 && stage > 2 {
				stride = 2
			}
			x = b.bottleneck(x, stage, blk, b.width(st.width), b.width(4*st.width), stride, se, eps)
		}
	}
	if b.err != nil {
		return
	}
	// AveragePooling2D((7, 7)) over the 7x7 map of a 224 input.
	pooled := b.pool("AveragePool", x, "avg_pool/pool", 7, 7)
	b.node("Flatten", "avg_pool", []string{pooled.name})
	b.output("avg_pool", x.c)
	if b.f.HasLayer("classifier") {
		logits := b.dense("avg_pool", x.c, "classifier", 8631, "classifier/logits")
		b.node("Softmax", "classifier", []string{logits}, onnx.Int("axis", 1))
		b.output("classifier", 8631)
	}
}

func (b *builder) bottleneck(x tensor, stage, block, width, out, stride int, se bool, eps float32) tensor {
	name := fmt.Sprintf("conv%d_%d", stage, block)
	y := b.conv(x, name+"_1x1_reduce", width, 1, stride, false, false)
	y = b.bn(y, name+"_1x1_reduce/bn", eps)
	y = b.unary("Relu", y, name+"_1x1_reduce/relu")
	y = b.conv(y, name+"_3x3", width, 3, 1, true, false)
	y = b.bn(y, name+"_3x3/bn", eps)
	y = b.unary("Relu", y, name+"_3x3/relu")
	y = b.conv(y, name+"_1x1_increase", out, 1, 1, false, false)
	y = b.bn(y, name+"_1x1_increase/bn", eps)
	if se {
		y = b.squeezeExcite(y, name)
	}
	shortcut := x
	if block == 1 {
		shortcut = b.conv(x, name+"_1x1_proj", out, 1, stride, false, false)
		shortcut = b.bn(shortcut, name+"_1x1_proj/bn", eps)
	}
	sum := tensor{name: b.node("Add", name+"/add", []string{y.name, shortcut.name}), c: out, s: y.s}
	return b.unary("Relu", sum, name+"/relu")
}

// squeezeExcite scales channels by sigmoid(up(relu(down(mean over space)))),
// with biased 1x1 convolutions and a bottleneck of a sixteenth.
func (b *builder) squeezeExcite(x tensor, name string) tensor {
	s := b.unary("GlobalAveragePool", x, name+"/se/pool")
	s.s = 1
	s = b.conv(s, name+"_1x1_down", max(x.c/16, 1), 1, 1, false, true)
	s = b.unary("Relu", s, name+"_1x1_down/relu")
	s = b.conv(s, name+"_1x1_up", x.c, 1, 1, false, true)
	s = b.unary("Sigmoid", s, name+"_1x1_up/sigmoid")
	return tensor{name: b.node("Mul", name+"/se", []string{x.name, s.name}), c: x.c, s: x.s}
}
