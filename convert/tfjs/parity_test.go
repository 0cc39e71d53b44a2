package tfjs_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
	"google.golang.org/protobuf/encoding/protowire"
)

// parityTool returns node and the reference script, or skips when the Node
// runtimes are not installed (scripts/bootstrap installs them); under CI a
// missing runtime fails instead, so parity is never silently untested.
func parityTool(t *testing.T) (node, script string) {
	t.Helper()
	node = needs.Node(t, "@tensorflow/tfjs")
	script, err := filepath.Abs(filepath.Join(needs.RepoRoot(t), "tools", "parity", "tfjs_run.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return node, script
}

// testImages returns two inputs: a real DogFaceNet photo and seeded noise.
func testImages(t *testing.T, size int) []*image.RGBA {
	t.Helper()
	first, err := dataset.Decode(filepath.Join(needs.Photos(t), "0", "0.0.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	noise := image.NewRGBA(image.Rect(0, 0, size, size))
	r := rand.New(rand.NewPCG(3, 4))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			noise.Pix[i] = 255
		}
	}
	return []*image.RGBA{dataset.Render(first, dataset.ViewParams{}, size), noise}
}

type reference struct {
	Name  string    `json:"name"`
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

// runTFJS runs the original model in Node on the NCHW batch x (transposed to
// TF.js's NHWC) and returns the named outputs.
func runTFJS(t *testing.T, kind, model string, x []float32, n, size int, names []string) []reference {
	t.Helper()
	node, script := parityTool(t)
	dir := t.TempDir()
	in := make([]byte, 4*len(x))
	plane := size * size
	for b := range n {
		for c := range 3 {
			for p := range plane {
				v := x[(b*3+c)*plane+p]
				binary.LittleEndian.PutUint32(in[4*((b*plane+p)*3+c):], math.Float32bits(v))
			}
		}
	}
	inPath, outPath := filepath.Join(dir, "input.f32"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{script, kind, model, inPath, fmt.Sprintf("%d,%d,%d,3", n, size, size), outPath}, names...)
	cmd := exec.Command(node, args...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("TF.js reference (pure JS CPU backend) took %v", time.Since(start).Round(time.Millisecond))
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	var refs []reference
	if err := json.Unmarshal(b, &refs); err != nil {
		t.Fatal(err)
	}
	return refs
}

// relDiff is max |got - want| over max |want|: the error relative to the
// output's scale, so that near-zero activations do not dominate.
func relDiff(got []float32, want []float64) (rel, abs float64) {
	var scale float64
	for i, w := range want {
		abs = math.Max(abs, math.Abs(float64(got[i])-w))
		scale = math.Max(scale, math.Abs(w))
	}
	return abs / scale, abs
}

// TestParityWithTFJS runs each converted TF.js backbone on ONNX Runtime and the
// original model on TF.js in Node, on the same preprocessed batch (a real photo
// and noise, filled by dogrun's own pipeline), and compares every cut.
//
// Tolerance: 1e-4 of each output's largest magnitude. Measured with photo
// 0/0.0.jpg and noise (ORT 1.24.3, tfjs 4.22.0 CPU backend), relative (abs):
//
//	vggface2-mobilenet   global_pooling 2.1e-6 (3.8e-6), feats   1.3e-6 (1.5e-6)
//	mobilenetv2-imagenet avg_pool       2.4e-6 (6.7e-6), dense_1 9.2e-7 (1.4e-6)
//	inceptionv3          avg_pool       2.9e-7 (3.6e-7), dense_1 3.4e-7 (4.8e-7)
func TestParityWithTFJS(t *testing.T) {
	cases := []struct{ backbone, kind string }{
		{"vggface2-mobilenet", "graph"},
		{"mobilenetv2-imagenet", "layers"},
		{"inceptionv3", "layers"},
	}
	const tol = 1e-4
	ctx := context.Background()
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.backbone, func(t *testing.T) {
			parityTool(t)
			spec, err := backbone.Lookup(tc.backbone)
			if err != nil {
				t.Fatal(err)
			}
			files, err := backbone.Fetch(ctx, cache, spec.Source)
			if err != nil {
				t.Fatal(err)
			}
			m, err := backbone.Open(ctx, cache, spec, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			imgs := testImages(t, spec.InputSize)
			x := make([]float32, len(imgs)*m.InputLen())
			for i, img := range imgs {
				m.Fill(x[i*m.InputLen():], img)
			}
			model, err := backbone.ONNX(ctx, cache, spec)
			if err != nil {
				t.Fatal(err)
			}
			// The vector cuts are graph outputs; an inner map is not (dogrun
			// pools it with nodes of its own, tested in backbone), and every
			// layer up to it lies on the way to the last cut compared here.
			var outputs []string
			var cuts []backbone.Cut
			for _, c := range spec.Cuts {
				if !c.Map {
					outputs, cuts = append(outputs, c.Output), append(cuts, c)
				}
			}
			s := int64(spec.InputSize)
			got, err := backbone.Eval(ctx, cache, model, spec.InputName, backbone.Tensor{Shape: []int64{int64(len(imgs)), 3, s, s}, Data: x}, outputs...)
			if err != nil {
				t.Fatal(err)
			}
			refs := runTFJS(t, tc.kind, files[0], x, len(imgs), spec.InputSize, outputs)
			for i, c := range cuts {
				want := refs[i]
				if len(want.Data) != len(imgs)*c.Dim || len(got[i].Data) != len(want.Data) {
					t.Fatalf("cut %s: ONNX gives %v, TF.js %v, want %d x %d", c.Name, got[i].Shape, want.Shape, len(imgs), c.Dim)
				}
				rel, abs := relDiff(got[i].Data, want.Data)
				t.Logf("cut %s (%d-d): max abs diff %.2g, relative %.2g", c.Name, c.Dim, abs, rel)
				if rel > tol {
					t.Errorf("cut %s: ONNX and TF.js differ by %.2g relative (%.2g abs), tolerance %g", c.Name, rel, abs, tol)
				}
			}
			// The session dogrun extracts with gives the same default cut.
			feats, err := m.Forward(x, len(imgs))
			if err != nil {
				t.Fatal(err)
			}
			if rel, _ := relDiff(feats, refs[0].Data); rel > tol {
				t.Errorf("Model.Forward differs from TF.js by %.2g relative", rel)
			}
		})
	}
}

// onnxOps counts the operators of an ONNX model's graph.
func onnxOps(t *testing.T, model []byte) map[string]int {
	t.Helper()
	// fields returns the length-delimited fields numbered num of a message.
	fields := func(b []byte, num protowire.Number) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			n, typ, k := protowire.ConsumeTag(b)
			if k < 0 {
				t.Fatal(protowire.ParseError(k))
			}
			m := protowire.ConsumeFieldValue(n, typ, b[k:])
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			if n == num && typ == protowire.BytesType {
				v, _ := protowire.ConsumeBytes(b[k:])
				out = append(out, v)
			}
			b = b[k+m:]
		}
		return out
	}
	ops := map[string]int{}
	for _, g := range fields(model, 7) { // ModelProto.graph
		for _, n := range fields(g, 1) { // GraphProto.node
			for _, op := range fields(n, 4) { // NodeProto.op_type
				ops[string(op)]++
			}
		}
	}
	return ops
}

// TestConversionFolds checks that batch norms, bias adds, paddings and
// Relu/Minimum/Maximum chains were folded into convolutions at conversion,
// leaving ONNX Runtime one fused Conv (+ Clip) per TF convolution.
func TestConversionFolds(t *testing.T) {
	cases := []struct {
		backbone string
		want     map[string]int
	}{
		{"vggface2-mobilenet", map[string]int{"Conv": 27, "Clip": 27}},
		{"mobilenetv2-imagenet", map[string]int{"Conv": 52, "Clip": 35, "Add": 10}}, // Adds: residuals
		{"inceptionv3", map[string]int{"Conv": 94, "Relu": 94 + 1}},                 // + dense_1's
	}
	ctx := context.Background()
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		spec, err := backbone.Lookup(tc.backbone)
		if err != nil {
			t.Fatal(err)
		}
		model, err := backbone.ONNX(ctx, cache, spec)
		if err != nil {
			t.Fatal(err)
		}
		ops := onnxOps(t, model)
		for op, n := range tc.want {
			if ops[op] != n {
				t.Errorf("%s: %d %s, want %d (all: %v)", tc.backbone, ops[op], op, n, ops)
			}
		}
		for _, op := range []string{"Mul", "Pad", "Min", "Max", "BatchNormalization"} {
			if ops[op] != 0 {
				t.Errorf("%s: %d %s left unfolded (all: %v)", tc.backbone, ops[op], op, ops)
			}
		}
	}
}
