package backbone

import (
	"context"
	"slices"
	"testing"

	"github.com/dogrun/dogrun/convert/onnx"
	"github.com/dogrun/dogrun/internal/workspace"
)

// TestReadGraphAndInnerOutputs reads back what the onnx writer wrote, then
// asks ONNX Runtime for an inner tensor added as an output.
func TestReadGraphAndInnerOutputs(t *testing.T) {
	m := onnx.Model{Producer: "dogrun-test", Graph: onnx.Graph{
		Name:    "inner",
		Inputs:  []onnx.Value{{Name: "x", Shape: []int64{-1, 3, 2, 2}}},
		Outputs: []onnx.Value{{Name: "y", Shape: []int64{-1, 2}}},
		Initializers: []onnx.Tensor{
			{Name: "w", Dims: []int64{2, 3, 1, 1}, Float: []float32{1, 2, 0, 3, 4, 0}},
			{Name: "shape", Dims: []int64{2}, Int64: []int64{0, -1}},
		},
		Nodes: []onnx.Node{
			{Op: "Conv", Name: "conv", Inputs: []string{"x", "w"}, Outputs: []string{"c"},
				Attrs: []onnx.Attr{onnx.Ints("kernel_shape", 1, 1), onnx.Int("group", 1)}},
			{Op: "LeakyRelu", Name: "act", Inputs: []string{"c"}, Outputs: []string{"a"}, Attrs: []onnx.Attr{onnx.Float32("alpha", 0.5)}},
			{Op: "GlobalAveragePool", Name: "gap", Inputs: []string{"a"}, Outputs: []string{"p"}},
			{Op: "Reshape", Name: "flat", Inputs: []string{"p", "shape"}, Outputs: []string{"y"}},
		},
	}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	g, err := ReadGraph(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 4 || g.Producer("a") != 1 || g.Producer("x") != -1 {
		t.Fatalf("nodes %+v", g.Nodes)
	}
	conv, act := g.Nodes[0], g.Nodes[1]
	if !slices.Equal(conv.Ints["kernel_shape"], []int64{1, 1}) || conv.Int("group", 0) != 1 || conv.Int("strides", 7) != 7 ||
		!slices.Equal(conv.Inputs, []string{"x", "w"}) || !slices.Equal(conv.Outputs, []string{"c"}) {
		t.Errorf("conv node %+v", conv)
	}
	if !slices.Equal(act.Floats["alpha"], []float32{0.5}) {
		t.Errorf("LeakyRelu alpha %v", act.Floats["alpha"])
	}
	if w := g.Constants["w"]; !slices.Equal(w.Dims, []int64{2, 3, 1, 1}) || !slices.Equal(w.Float, []float32{1, 2, 0, 3, 4, 0}) {
		t.Errorf("w %+v", w)
	}
	if s := g.Constants["shape"]; !slices.Equal(s.Int64, []int64{0, -1}) {
		t.Errorf("shape %+v", s)
	}

	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "inner", InputName: "x", InputSize: 2, Layout: "NCHW"}
	p, err := OpenProbe(context.Background(), cache, spec, b, []string{"a", "y"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Pixel 0 is (1, -1, 5), the others 0: c = (1-2, 3-4) = (-1, -1) there.
	ts, err := p.Run([]float32{1, 0, 0, 0, -1, 0, 0, 0, 5, 0, 0, 0}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ts[0].Shape, []int64{1, 2, 2, 2}) || !slices.Equal(ts[0].Data, []float32{-0.5, 0, 0, 0, -0.5, 0, 0, 0}) {
		t.Errorf("inner tensor a: %+v", ts[0])
	}
	if !slices.Equal(ts[1].Shape, []int64{1, 2}) || !slices.Equal(ts[1].Data, []float32{-0.125, -0.125}) {
		t.Errorf("output y: %+v", ts[1])
	}
}
