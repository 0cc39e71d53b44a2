package onnx_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/convert/onnx"
	"github.com/dogrun/dogrun/internal/workspace"
)

// TestModelRunsOnONNXRuntime builds y = relu(x·W + b) and checks ONNX Runtime's
// answer against the same arithmetic done here, for a batch of 2.
func TestModelRunsOnONNXRuntime(t *testing.T) {
	w := []float32{1, -1, 0.5, 2, 0, -3} // [3, 2]
	b := []float32{0.25, -0.5}
	m := onnx.Model{Producer: "dogrun-test", Graph: onnx.Graph{
		Name:    "dense",
		Inputs:  []onnx.Value{{Name: "x", Shape: []int64{-1, 3}}},
		Outputs: []onnx.Value{{Name: "y", Shape: []int64{-1, 2}}},
		Initializers: []onnx.Tensor{
			{Name: "W", Dims: []int64{3, 2}, Float: w},
			{Name: "b", Dims: []int64{2}, Float: b},
		},
		Nodes: []onnx.Node{
			{Op: "MatMul", Name: "mm", Inputs: []string{"x", "W"}, Outputs: []string{"xw"}},
			{Op: "Add", Name: "add", Inputs: []string{"xw", "b"}, Outputs: []string{"z"}},
			{Op: "Relu", Name: "relu", Inputs: []string{"z"}, Outputs: []string{"y"}},
		},
	}}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 2, 3, -1, 0.5, 4}
	out, err := backbone.Eval(context.Background(), cache, data, "x", backbone.Tensor{Shape: []int64{2, 3}, Data: x}, "y")
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Shape; len(got) != 2 || got[0] != 2 || got[1] != 2 {
		t.Fatalf("output shape %v, want [2 2]", got)
	}
	for r := 0; r < 2; r++ {
		for c := 0; c < 2; c++ {
			want := b[c]
			for k := 0; k < 3; k++ {
				want += x[r*3+k] * w[k*2+c]
			}
			want = float32(math.Max(0, float64(want)))
			if got := out[0].Data[r*2+c]; math.Abs(float64(got-want)) > 1e-6 {
				t.Errorf("y[%d,%d] = %g, want %g", r, c, got, want)
			}
		}
	}
}

func TestAttributesReachTheRuntime(t *testing.T) {
	// Transpose with perm and a Conv with strides/pads exercise int-list attributes.
	m := onnx.Model{Graph: onnx.Graph{
		Inputs:  []onnx.Value{{Name: "x", Shape: []int64{1, 1, 4, 4}}},
		Outputs: []onnx.Value{{Name: "y", Shape: []int64{1, 1, 2, 2}}},
		Initializers: []onnx.Tensor{
			{Name: "k", Dims: []int64{1, 1, 2, 2}, Float: []float32{1, 1, 1, 1}},
			{Name: "alpha", Dims: []int64{1}, Float: []float32{0.5}},
		},
		Nodes: []onnx.Node{
			{Op: "Conv", Name: "conv", Inputs: []string{"x", "k"}, Outputs: []string{"c"},
				Attrs: []onnx.Attr{onnx.Ints("strides", 2, 2), onnx.Ints("pads", 0, 0, 0, 0), onnx.Ints("kernel_shape", 2, 2)}},
			{Op: "LeakyRelu", Name: "lr", Inputs: []string{"c"}, Outputs: []string{"l"}, Attrs: []onnx.Attr{onnx.Float32("alpha", 0.1)}},
			{Op: "Mul", Name: "mul", Inputs: []string{"l", "alpha"}, Outputs: []string{"y"}},
		},
	}}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := workspace.CacheDir()
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i) - 8 // the top-left window sums to negative
	}
	out, err := backbone.Eval(context.Background(), cache, data, "x", backbone.Tensor{Shape: []int64{1, 1, 4, 4}, Data: x}, "y")
	if err != nil {
		t.Fatal(err)
	}
	// Window sums: (-8-7-4-3)=-22, (-6-5-2-1)=-14, (0+1+4+5)=10, (2+3+6+7)=18.
	want := []float32{-22 * 0.1 * 0.5, -14 * 0.1 * 0.5, 10 * 0.5, 18 * 0.5}
	for i, w := range want {
		if math.Abs(float64(out[0].Data[i]-w)) > 1e-5 {
			t.Errorf("y[%d] = %g, want %g", i, out[0].Data[i], w)
		}
	}
}

func TestMarshalRejectsDanglingNames(t *testing.T) {
	m := onnx.Model{Graph: onnx.Graph{
		Inputs:  []onnx.Value{{Name: "x", Shape: []int64{1}}},
		Outputs: []onnx.Value{{Name: "y", Shape: []int64{1}}},
		Nodes:   []onnx.Node{{Op: "Add", Name: "a", Inputs: []string{"x", "missing"}, Outputs: []string{"y"}}},
	}}
	if _, err := m.Marshal(); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Fatalf("got %v, want an error naming the undefined input", err)
	}
	m.Graph.Nodes[0].Inputs[1] = "x"
	m.Graph.Outputs[0].Name = "z"
	if _, err := m.Marshal(); err == nil || !strings.Contains(err.Error(), `"z"`) {
		t.Fatalf("got %v, want an error naming the unproduced output", err)
	}
	m.Graph.Outputs[0].Name = "y"
	m.Graph.Initializers = []onnx.Tensor{{Name: "w", Dims: []int64{2}, Float: []float32{1}}}
	if _, err := m.Marshal(); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Fatalf("got %v, want an error for a tensor of the wrong size", err)
	}
}
