package faceapi

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dogrun/dogrun/convert/onnx"
)

// The face recognition net's ONNX contract. Pixels p in [0,255], RGB, become
// (p - Mean[c]) / 255 before the graph, as face-api's FaceRecognitionNet does.
const (
	InputName  = "input" // [batch, 3, 150, 150], NCHW
	InputSize  = 150
	Descriptor = "descriptor" // [batch, 128]: face-api's face descriptor
	Pooled     = "pooled"     // [batch, 256]: global average pool, before the FC layer
)

// Mean is face-api's per-channel RGB mean for the recognition net.
var Mean = [3]float32{122.782, 117.001, 104.298}

// ConvertRecognitionNet turns face-api's face_recognition_model manifest
// (files[0]) and its shards (files[1:]) into an ONNX model.
func ConvertRecognitionNet(files []string) ([]byte, error) {
	if len(files) < 2 {
		return nil, fmt.Errorf("face recognition net: want the manifest and its shards, got %d files", len(files))
	}
	w, err := LoadWeights(files[0], files[1:])
	if err != nil {
		return nil, err
	}
	m, err := RecognitionNet(w)
	if err != nil {
		return nil, err
	}
	return m.Marshal()
}

// RecognitionNet builds the ResNet-34-like graph of face-api's
// FaceRecognitionNet (a port of dlib's face descriptor) from its weights. The
// manifest holds weights only; the layer sequence follows face-api's forwardInput.
func RecognitionNet(w map[string]Weight) (*onnx.Model, error) {
	b := &builder{w: w, used: map[string]bool{}}
	x := act{name: InputName, c: 3, side: InputSize}
	b.g.Inputs = []onnx.Value{{Name: InputName, Shape: []int64{-1, 3, InputSize, InputSize}}}

	x = b.conv(x, "conv32_down", 2, true)
	x = b.pool("MaxPool", x, "stem/maxpool", 3, 2)
	for _, block := range []string{
		"conv32_1", "conv32_2", "conv32_3",
		"conv64_down", "conv64_1", "conv64_2", "conv64_3",
		"conv128_down", "conv128_1", "conv128_2",
		"conv256_down", "conv256_1", "conv256_2", "conv256_down_out",
	} {
		if strings.HasSuffix(block, "_down") || strings.HasSuffix(block, "_down_out") {
			x = b.residualDown(x, block)
		} else {
			x = b.residual(x, block)
		}
	}
	b.node("GlobalAveragePool", "gap", []string{x.name}, "gap", nil)
	b.node("Flatten", "flatten", []string{"gap"}, Pooled, []onnx.Attr{onnx.Int("axis", 1)})
	fc := b.weight("fc", 2)
	if b.err == nil && (fc.Shape[0] != x.c || fc.Shape[1] != 128) {
		b.fail("fc is %v, want [%d 128]", fc.Shape, x.c)
	}
	if b.err == nil {
		b.constant("fc", []int64{int64(fc.Shape[0]), int64(fc.Shape[1])}, fc.Data)
		b.node("MatMul", "fc", []string{Pooled, "fc"}, Descriptor, nil)
	}
	if b.err != nil {
		return nil, b.err
	}
	var unused []string
	for name := range w {
		if !b.used[name] {
			unused = append(unused, name)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return nil, fmt.Errorf("face recognition net: weights not used by the architecture: %s", strings.Join(unused, ", "))
	}
	b.g.Name = "faceapi_face_recognition_net"
	b.g.Outputs = []onnx.Value{
		{Name: Descriptor, Shape: []int64{-1, 128}},
		{Name: Pooled, Shape: []int64{-1, int64(x.c)}},
	}
	return &onnx.Model{Producer: "dogrun faceapi", Graph: b.g}, nil
}

// act is an activation: its value name, channels and square side.
type act struct {
	name    string
	c, side int
}

type builder struct {
	w    map[string]Weight
	used map[string]bool
	g    onnx.Graph
	err  error
}

func (b *builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("face recognition net: "+format, args...)
	}
}

func (b *builder) weight(name string, rank int) Weight {
	w, ok := b.w[name]
	if !ok {
		b.fail("weight %s missing", name)
		return Weight{Shape: make([]int, rank)}
	}
	if len(w.Shape) != rank {
		b.fail("weight %s has shape %v, want rank %d", name, w.Shape, rank)
		return Weight{Shape: make([]int, rank)}
	}
	b.used[name] = true
	return w
}

func (b *builder) constant(name string, dims []int64, data []float32) {
	b.g.Initializers = append(b.g.Initializers, onnx.Tensor{Name: name, Dims: dims, Float: data})
}

func (b *builder) node(op, name string, inputs []string, output string, attrs []onnx.Attr) {
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Op: op, Name: name, Inputs: inputs, Outputs: []string{output}, Attrs: attrs})
}

// conv is face-api's convLayer: conv (stride 1 'same', or stride 2 'valid'),
// bias, scale layer (x*weights + biases), optional relu. The scale layer is
// folded into the convolution: (conv(x,W)+b)*s+t = conv(x,W*s) + (b*s+t).
func (b *builder) conv(x act, prefix string, stride int, relu bool) act {
	f := b.weight(prefix+"/conv/filters", 4) // [k, k, in, out], TF layout
	bias := b.weight(prefix+"/conv/bias", 1)
	s := b.weight(prefix+"/scale/weights", 1)
	t := b.weight(prefix+"/scale/biases", 1)
	if b.err != nil {
		return x
	}
	k, in, out := f.Shape[0], f.Shape[2], f.Shape[3]
	if f.Shape[1] != k || in != x.c || bias.Shape[0] != out || s.Shape[0] != out || t.Shape[0] != out {
		b.fail("%s: filters %v, bias %v, scale %v/%v do not fit %d input channels", prefix, f.Shape, bias.Shape, s.Shape, t.Shape, x.c)
		return x
	}
	wt := make([]float32, out*in*k*k) // ONNX layout [out, in, k, k]
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					wt[((o*in+i)*k+ky)*k+kx] = f.Data[((ky*k+kx)*in+i)*out+o] * s.Data[o]
				}
			}
		}
	}
	bt := make([]float32, out)
	for o := range bt {
		bt[o] = bias.Data[o]*s.Data[o] + t.Data[o]
	}
	b.constant(prefix+"/W", []int64{int64(out), int64(in), int64(k), int64(k)}, wt)
	b.constant(prefix+"/B", []int64{int64(out)}, bt)
	// face-api pads 'same' only at stride 1 and 'valid' (no padding) at stride 2.
	pad, side := int64(k/2), x.side
	if stride != 1 {
		pad, side = 0, (x.side-k)/stride+1
	}
	y := act{name: prefix + "/conv", c: out, side: side}
	b.node("Conv", prefix+"/conv", []string{x.name, prefix + "/W", prefix + "/B"}, y.name, []onnx.Attr{
		onnx.Ints("kernel_shape", int64(k), int64(k)),
		onnx.Ints("strides", int64(stride), int64(stride)),
		onnx.Ints("pads", pad, pad, pad, pad),
	})
	if relu {
		y = b.relu(y, prefix+"/relu")
	}
	return y
}

func (b *builder) relu(x act, name string) act {
	b.node("Relu", name, []string{x.name}, name, nil)
	return act{name: name, c: x.c, side: x.side}
}

// pool is a 'valid' max or average pool.
func (b *builder) pool(op string, x act, name string, k, stride int) act {
	b.node(op, name, []string{x.name}, name, []onnx.Attr{
		onnx.Ints("kernel_shape", int64(k), int64(k)),
		onnx.Ints("strides", int64(stride), int64(stride)),
	})
	return act{name: name, c: x.c, side: (x.side-k)/stride + 1}
}

// pad appends zeros after the end of the channel and spatial axes (NCHW).
func (b *builder) pad(x act, name string, c, hw int) act {
	b.g.Initializers = append(b.g.Initializers, onnx.Tensor{Name: name + "/pads", Dims: []int64{8}, Int64: []int64{0, 0, 0, 0, 0, int64(c), int64(hw), int64(hw)}})
	b.node("Pad", name, []string{x.name, name + "/pads"}, name, nil)
	return act{name: name, c: x.c + c, side: x.side + hw}
}

func (b *builder) add(x, y act, name string) act {
	if x.c != y.c || x.side != y.side {
		b.fail("%s: adding %dx%dx%d to %dx%dx%d", name, x.c, x.side, x.side, y.c, y.side, y.side)
	}
	b.node("Add", name, []string{x.name, y.name}, name, nil)
	return act{name: name, c: x.c, side: x.side}
}

// residual is face-api's residual block: relu(conv2(conv1(x)) + x).
func (b *builder) residual(x act, prefix string) act {
	y := b.conv(x, prefix+"/conv1", 1, true)
	y = b.conv(y, prefix+"/conv2", 1, false)
	return b.relu(b.add(y, x, prefix+"/add"), prefix+"/out")
}

// residualDown is face-api's downsampling block. The shortcut is a 2x2 average
// pool, zero-padded in channels when the block widens; when the stride-2 'valid'
// convolution comes out one pixel smaller than the pool, face-api appends one
// zero row and one zero column to the convolution's output.
func (b *builder) residualDown(x act, prefix string) act {
	y := b.conv(x, prefix+"/conv1", 2, true)
	y = b.conv(y, prefix+"/conv2", 1, false)
	short := b.pool("AveragePool", x, prefix+"/avgpool", 2, 2)
	if y.side != short.side {
		if short.side != y.side+1 {
			b.fail("%s: convolution side %d, pool side %d", prefix, y.side, short.side)
		}
		y = b.pad(y, prefix+"/padhw", 0, 1)
	}
	if short.c != y.c {
		if y.c != 2*short.c {
			b.fail("%s: %d channels in, %d out", prefix, short.c, y.c)
		}
		short = b.pad(short, prefix+"/padc", short.c, 0)
	}
	return b.relu(b.add(short, y, prefix+"/add"), prefix+"/out")
}
