package backbone

import (
	"context"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/convert/onnx"
	"github.com/dogrun/dogrun/internal/workspace"
)

// writeUserModel writes an ONNX model with a fixed [1, 3, 4, 4] input whose
// outputs are the per-channel means ("feat", [1, 3]) and the same
// unflattened ("map", [1, 3, 1, 1]).
func writeUserModel(t *testing.T) string {
	t.Helper()
	m := onnx.Model{Producer: "dogrun-test", Graph: onnx.Graph{
		Name:    "means",
		Inputs:  []onnx.Value{{Name: "img", Shape: []int64{1, 3, 4, 4}}},
		Outputs: []onnx.Value{{Name: "feat", Shape: []int64{1, 3}}, {Name: "map", Shape: []int64{1, 3, 1, 1}}},
		Nodes: []onnx.Node{
			{Op: "GlobalAveragePool", Name: "gap", Inputs: []string{"img"}, Outputs: []string{"map"}},
			{Op: "Flatten", Name: "flat", Inputs: []string{"map"}, Outputs: []string{"feat"}},
		},
	}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "means.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUserONNX binds a model of one's own with a BGR contract, then runs two
// uniform images through it: each feature is (pixel - mean) * scale.
func TestUserONNX(t *testing.T) {
	path := writeUserModel(t)
	spec, err := Lookup(UserONNX)
	if err != nil {
		t.Fatal(err)
	}
	c := ONNXContract{Channels: "BGR", Mean: [3]float32{10, 20, 30}, Scale: [3]float32{0.5, 1, 2}, Output: "feat"}
	bound, err := spec.WithONNX(path, c)
	if err != nil {
		t.Fatal(err)
	}
	if bound.InputSize != 4 || bound.InputName != "img" || bound.Cuts[0].Dim != 3 {
		t.Fatalf("bound: size %d input %q cuts %v", bound.InputSize, bound.InputName, bound.Cuts)
	}
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(context.Background(), cache, bound, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			img.Set(x, y, color.RGBA{100, 150, 200, 255})
		}
	}
	in := make([]float32, 2*m.InputLen())
	m.Fill(in[:m.InputLen()], img)
	m.Fill(in[m.InputLen():], img)
	got, err := m.Forward(in, 2) // batch 2 through a model exported for 1
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{(200 - 10) * 0.5, (150 - 20) * 1, (100 - 30) * 2} // B, G, R
	for i, g := range got {
		if math.Abs(float64(g-want[i%3])) > 1e-4 {
			t.Fatalf("features %v, want %v twice", got, want)
		}
	}

	for _, tc := range []struct {
		c     ONNXContract
		field string
		msg   string
	}{
		{ONNXContract{}, "output", "is required: the model has 2 outputs (feat [1, 3], map [1, 3, 1, 1])"},
		{ONNXContract{Output: "map"}, "output", "output map is [1, 3, 1, 1]; features must be [batch, dim]"},
		{ONNXContract{Output: "nope"}, "output", `no output "nope"`},
		{ONNXContract{Output: "feat", InputSize: 8}, "input_size", "8 does not fit input img, [1, 3, 4, 4]"},
		{ONNXContract{Output: "feat", Layout: "NHWC"}, "layout", "layout NHWC takes float [batch, size, size, 3]"},
		{ONNXContract{Output: "feat", Scale: [3]float32{1, 0, 1}}, "scale", "must be > 0"},
	} {
		_, err := spec.WithONNX(path, tc.c)
		ce, ok := err.(*ContractError)
		if !ok || ce.Field != tc.field || !strings.Contains(ce.Msg, tc.msg) {
			t.Errorf("%+v: got %v, want %s: %s", tc.c, err, tc.field, tc.msg)
		}
	}
}
