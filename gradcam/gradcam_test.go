package gradcam

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/convert/onnx"
	"github.com/dogrun/dogrun/gradcam/gradcamtest"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/train"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// userBackbone writes g as an ONNX file and binds it as the "onnx" backbone
// with pixels scaled to [0, 1].
func userBackbone(t *testing.T, g onnx.Graph) (backbone.Spec, backbone.Cut) {
	t.Helper()
	b, err := (&onnx.Model{Producer: "dogrun-test", Graph: g}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "net.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := backbone.Lookup(backbone.UserONNX)
	if err != nil {
		t.Fatal(err)
	}
	spec, err = spec.WithONNX(path, backbone.ONNXContract{Scale: [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255}, Output: g.Outputs[0].Name})
	if err != nil {
		t.Fatal(err)
	}
	return spec, spec.Cuts[0]
}

// setHead overwrites a saved head's weights by variable name and loads it.
func setHead(t *testing.T, h *train.Head, values map[string][]float32) *train.Head {
	t.Helper()
	dir := t.TempDir()
	if err := h.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := gradcamtest.SetWeights(dir, values); err != nil {
		t.Fatal(err)
	}
	loaded, err := train.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

func fit(t *testing.T, cfg train.Config, d train.Data, classes int) *train.Head {
	t.Helper()
	h, _, err := train.Fit(context.Background(), cfg, d, train.Data{}, classes, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func open(t *testing.T, spec backbone.Spec, cut backbone.Cut, h *train.Head, classes ...string) *Explainer {
	t.Helper()
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(context.Background(), cache, spec, cut, h, classes, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestKnownHeatmap: the net's map is the photo's red and green channels
// (a 1x1 convolution and a ReLU), pooled globally; the head's logits are
// 2*red - green and 2*green - red. The gradient of logit c with respect to
// the map is W[k, c]/16 everywhere, so the heatmap of class "red" is
// ReLU(2*A_red - A_green)/16: 1/8 on red pixels and 0 on green ones, and the
// reverse for class "green".
func TestKnownHeatmap(t *testing.T) {
	spec, cut := userBackbone(t, gradcamtest.RedGreen(1, 4))
	h := fit(t, train.Config{LR: 0.01, BatchSize: 2, Epochs: 1, Seed: 1}, train.Data{X: []float32{1, 0, 0, 1}, Y: []int32{0, 1}, Dim: 2}, 2)
	h = setHead(t, h, map[string][]float32{"/logits/weights": {2, -1, -1, 2}, "/logits/biases": {0, 0}})
	e := open(t, spec, cut, h, "red", "green")
	if e.Map != "map" {
		t.Fatalf("feature map %q, want map", e.Map)
	}
	// Red in the three left columns, green in the right one.
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			img.Set(x, y, color.RGBA{255, 0, 0, 255})
		}
		img.Set(3, y, color.RGBA{0, 255, 0, 255})
	}
	for _, tc := range []struct {
		class      int
		red, green float32 // heat on red and green pixels
	}{{-1, 0.125, 0}, {0, 0.125, 0}, {1, 0, 0.125}} {
		r, err := e.Explain(img, tc.class)
		if err != nil {
			t.Fatal(err)
		}
		// Features (0.75, 0.25): logits 1.25 and -0.25.
		if r.Pred != 0 || math.Abs(float64(r.Probs[0])-1/(1+math.Exp(-1.5))) > 1e-5 {
			t.Errorf("class %d: predicted %d with %v, want red at %.4f", tc.class, r.Pred, r.Probs, 1/(1+math.Exp(-1.5)))
		}
		if want := max(tc.class, 0); r.Class != want {
			t.Errorf("explained class %d, want %d", r.Class, want)
		}
		if r.W != 4 || r.H != 4 {
			t.Fatalf("heatmap %dx%d, want 4x4", r.W, r.H)
		}
		for i, v := range r.Heat {
			want := tc.red
			if i%4 == 3 {
				want = tc.green
			}
			if math.Abs(float64(v-want)) > 1e-6 {
				t.Errorf("class %d: heat %v, want %g on red and %g on green pixels", tc.class, r.Heat, tc.red, tc.green)
				break
			}
		}
	}
	if _, err := e.Explain(img, 2); err == nil {
		t.Error("class 2 of 2 explained")
	}
}

// gdcNet is shaped like MobileFaceNet's end: a padded 3x3 convolution and a
// PReLU make the 6x6 map; a depthwise convolution over the whole map
// (MobileFaceNet's "GDC"), a 1x1 convolution, a batch normalisation and a
// Reshape make 3 features.
func gdcNet(seed uint64) onnx.Graph {
	rng := rand.New(rand.NewPCG(seed, 9))
	w := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.5)
		}
		return v
	}
	pos := func(n int) []float32 {
		v := w(n)
		for i := range v {
			v[i] = 0.5 + float32(math.Abs(float64(v[i])))
		}
		return v
	}
	return onnx.Graph{
		Name:    "gdc",
		Inputs:  []onnx.Value{{Name: "img", Shape: []int64{1, 3, 6, 6}}},
		Outputs: []onnx.Value{{Name: "emb", Shape: []int64{1, 3}}},
		Initializers: []onnx.Tensor{
			{Name: "k3", Dims: []int64{4, 3, 3, 3}, Float: w(4 * 3 * 9)}, {Name: "b3", Dims: []int64{4}, Float: w(4)},
			{Name: "slope", Dims: []int64{4, 1, 1}, Float: w(4)},
			{Name: "gdc", Dims: []int64{4, 1, 6, 6}, Float: w(4 * 36)}, {Name: "gdcb", Dims: []int64{4}, Float: w(4)},
			{Name: "k1", Dims: []int64{3, 4, 1, 1}, Float: w(12)}, {Name: "b1", Dims: []int64{3}, Float: w(3)},
			{Name: "gamma", Dims: []int64{3}, Float: pos(3)}, {Name: "beta", Dims: []int64{3}, Float: w(3)},
			{Name: "mean", Dims: []int64{3}, Float: w(3)}, {Name: "var", Dims: []int64{3}, Float: pos(3)},
			{Name: "shape", Dims: []int64{2}, Int64: []int64{1, -1}},
		},
		Nodes: []onnx.Node{
			{Op: "Conv", Name: "c3", Inputs: []string{"img", "k3", "b3"}, Outputs: []string{"c3"},
				Attrs: []onnx.Attr{onnx.Ints("kernel_shape", 3, 3), onnx.Ints("pads", 1, 1, 1, 1)}},
			{Op: "PRelu", Name: "prelu", Inputs: []string{"c3", "slope"}, Outputs: []string{"map"}},
			{Op: "Conv", Name: "gdc", Inputs: []string{"map", "gdc", "gdcb"}, Outputs: []string{"g"},
				Attrs: []onnx.Attr{onnx.Ints("kernel_shape", 6, 6), onnx.Int("group", 4)}},
			{Op: "Conv", Name: "c1", Inputs: []string{"g", "k1", "b1"}, Outputs: []string{"c1"}, Attrs: []onnx.Attr{onnx.Ints("kernel_shape", 1, 1)}},
			{Op: "BatchNormalization", Name: "bn", Inputs: []string{"c1", "gamma", "beta", "mean", "var"}, Outputs: []string{"bn"},
				Attrs: []onnx.Attr{onnx.Float32("epsilon", 1e-3)}},
			{Op: "Reshape", Name: "flat", Inputs: []string{"bn", "shape"}, Outputs: []string{"emb"}},
		},
	}
}

// TestGradientMatchesFiniteDifferences replays a MobileFaceNet-like end (its
// features must match ONNX Runtime's, which Explain checks) under a head with
// a hidden layer, and compares the gradient of the class logit with respect
// to the map with central differences.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	spec, cut := userBackbone(t, gdcNet(1))
	rng := rand.New(rand.NewPCG(3, 4))
	d := train.Data{Dim: 3}
	for i := 0; i < 30; i++ {
		for j := 0; j < 3; j++ {
			d.X = append(d.X, float32(rng.NormFloat64()))
		}
		d.Y = append(d.Y, int32(i%3))
	}
	h := fit(t, train.Config{Hidden: []int{5}, Activation: "tanh", LR: 0.05, BatchSize: 10, Epochs: 5, Seed: 2}, d, 3)
	e := open(t, spec, cut, h, "a", "b", "c")
	if e.Map != "map" {
		t.Fatalf("feature map %q, want map", e.Map)
	}
	img := image.NewRGBA(image.Rect(0, 0, 6, 6))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	r, err := e.Explain(img, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.W != 6 || r.H != 6 || r.Class != 1 {
		t.Fatalf("heatmap %dx%d of class %d, want 6x6 of class 1", r.W, r.H, r.Class)
	}

	in := make([]float32, 3*36)
	spec.Fill(in, img)
	ts, err := e.probe.Run(in, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := ts[0].Data
	run := func(a []float32) (logit float32, grad []float32) {
		out, err := e.exec.Exec(tensors.FromFlatDataAndDimensions(a, 1, 4, 6, 6), []int32{1})
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[1])[1], tensors.MustCopyFlatData[float32](out[3])
	}
	_, grad := run(a)
	const eps = 1e-2
	var worst float64
	for _, i := range []int{0, 7, 20, 35, 36, 50, 77, 100, 143} {
		up, down := append([]float32(nil), a...), append([]float32(nil), a...)
		up[i] += eps
		down[i] -= eps
		lu, _ := run(up)
		ld, _ := run(down)
		fd := float64(lu-ld) / (2 * eps)
		worst = math.Max(worst, math.Abs(fd-float64(grad[i])))
	}
	var scale float64
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(float64(g)))
	}
	if scale == 0 || worst > 1e-3*scale+1e-4 {
		t.Errorf("gradient differs from central differences by %.3g (largest gradient %.3g)", worst, scale)
	}
}

// TestWrongReplayIsCaught: a head whose features disagree with ONNX
// Runtime's must make Explain fail rather than draw a wrong heatmap.
func TestWrongReplayIsCaught(t *testing.T) {
	spec, cut := userBackbone(t, gdcNet(2))
	h := fit(t, train.Config{LR: 0.01, BatchSize: 2, Epochs: 1, Seed: 1}, train.Data{X: make([]float32, 6), Y: []int32{0, 1}, Dim: 3}, 2)
	e := open(t, spec, cut, h, "a", "b")
	// The graph is built at the first explanation, so this tail is the one used.
	e.tail.nodes = append(e.tail.nodes[:len(e.tail.nodes)-2:len(e.tail.nodes)-2], backbone.Node{Op: "Flatten"}) // no batch norm
	img := image.NewRGBA(image.Rect(0, 0, 6, 6))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if _, err := e.Explain(img, -1); err == nil || !strings.Contains(err.Error(), "differ from ONNX Runtime's features") {
		t.Errorf("a replay without the batch norm: got %v, want a disagreement with ONNX Runtime", err)
	}
}

// TestKerasFlattenedTop: VGG16's fc cuts flatten pool5 in Keras' NHWC order
// (a Transpose) before fc6. The map is the pooled tensor before the
// Transpose, and the replay of Transpose, Flatten, Gemm and Relu must give
// ONNX Runtime's features.
func TestKerasFlattenedTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	w := make([]float32, 2*2*3*4)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	spec, cut := userBackbone(t, onnx.Graph{
		Name:         "vggtop",
		Inputs:       []onnx.Value{{Name: "img", Shape: []int64{1, 3, 4, 4}}},
		Outputs:      []onnx.Value{{Name: "fc", Shape: []int64{1, 4}}},
		Initializers: []onnx.Tensor{{Name: "w", Dims: []int64{12, 4}, Float: w}, {Name: "b", Dims: []int64{4}, Float: []float32{0.1, -0.1, 0.2, 0}}},
		Nodes: []onnx.Node{
			{Op: "MaxPool", Name: "pool", Inputs: []string{"img"}, Outputs: []string{"pool"},
				Attrs: []onnx.Attr{onnx.Ints("kernel_shape", 2, 2), onnx.Ints("strides", 2, 2)}},
			{Op: "Transpose", Name: "nhwc", Inputs: []string{"pool"}, Outputs: []string{"nhwc"}, Attrs: []onnx.Attr{onnx.Ints("perm", 0, 2, 3, 1)}},
			{Op: "Flatten", Name: "flat", Inputs: []string{"nhwc"}, Outputs: []string{"flat"}},
			{Op: "Gemm", Name: "fc", Inputs: []string{"flat", "w", "b"}, Outputs: []string{"fc_pre"}},
			{Op: "Relu", Name: "relu", Inputs: []string{"fc_pre"}, Outputs: []string{"fc"}},
		},
	})
	h := fit(t, train.Config{LR: 0.01, BatchSize: 2, Epochs: 1, Seed: 1}, train.Data{X: make([]float32, 8), Y: []int32{0, 1}, Dim: 4}, 2)
	e := open(t, spec, cut, h, "a", "b")
	if e.Map != "pool" {
		t.Fatalf("feature map %q, want pool", e.Map)
	}
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	// The Grad-CAM half alone: with this random head its map may be empty,
	// and Explain would then show occlusion instead.
	in := make([]float32, spec.InputLen())
	spec.Fill(in, img)
	ts, err := e.probe.Run(in, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.explainMap(ts[0], ts[1].Data, -1)
	if err != nil {
		t.Fatal(err)
	}
	if r.W != 2 || r.H != 2 {
		t.Errorf("heatmap %dx%d, want 2x2", r.W, r.H)
	}
}

// TestEmptyMapFallsBackToOcclusion: with logits -red and +red, the gradient
// of class 0 with respect to the map is negative on the red channel and zero
// on the green one, so ReLU(sum_k w_k A_k) is zero everywhere. Explain must
// then show occlusion sensitivity: greying a square of the green half
// (red 0 -> 128/255) raises red, lowering class 0's probability; greying the
// red half raises it, which is no evidence.
func TestEmptyMapFallsBackToOcclusion(t *testing.T) {
	const side = 16
	spec, cut := userBackbone(t, gradcamtest.RedGreen(1, side))
	h := fit(t, train.Config{LR: 0.01, BatchSize: 2, Epochs: 1, Seed: 1}, train.Data{X: []float32{1, 0, 0, 1}, Y: []int32{0, 1}, Dim: 2}, 2)
	h = setHead(t, h, map[string][]float32{"/logits/weights": {-1, 1, 0, 0}, "/logits/biases": {0, 0}})
	e := open(t, spec, cut, h, "a", "b")
	img := halves(side)
	r, err := e.Explain(img, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != MethodOcclusion || r.W != OcclusionGrid || r.H != OcclusionGrid || r.Empty() {
		t.Fatalf("explained by %s on a %dx%d map (empty %v), want a non-empty %dx%d occlusion map", r.Method, r.W, r.H, r.Empty(), OcclusionGrid, OcclusionGrid)
	}
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	// Red is 0.5 on average; a 4x4 grey square on green adds 16*(128/255)/256.
	drop := sigmoid(-1) - sigmoid(-2*(0.5+16*128.0/255/(side*side)))
	for y := 0; y < OcclusionGrid; y++ {
		for x := 0; x < OcclusionGrid; x++ {
			v := float64(r.Heat[y*OcclusionGrid+x])
			switch {
			case x <= 2 && v != 0:
				t.Errorf("cell (%d, %d) on the red half: heat %g, want 0", x, y, v)
			case x >= 5 && math.Abs(v-drop) > 1e-5:
				t.Errorf("cell (%d, %d) on the green half: heat %g, want the drop %g", x, y, v, drop)
			}
		}
	}
	// The overlay blends the hottest colour into the green half at alpha 0.5
	// and the coldest into the red half at 0.2.
	o := Overlay(img, r)
	blend := func(photo, heat color.RGBA, a float64) color.RGBA {
		mix := func(p, h uint8) uint8 { return uint8(math.Round((1-a)*float64(p) + a*float64(h))) }
		return color.RGBA{mix(photo.R, heat.R), mix(photo.G, heat.G), mix(photo.B, heat.B), 255}
	}
	for _, tc := range []struct {
		x    int
		want color.RGBA
	}{{side - 2, blend(img.RGBAAt(side-2, 8), jet(1), 0.5)}, {1, blend(img.RGBAAt(1, 8), jet(0), 0.2)}} {
		if got := o.RGBAAt(tc.x, 8); got != tc.want {
			t.Errorf("overlay at x=%d: %v, want %v (photo %v)", tc.x, got, tc.want, img.RGBAAt(tc.x, 8))
		}
	}

	// Class 1's Grad-CAM map is A_red/256: no fallback.
	if r, err = e.Explain(img, 1); err != nil || r.Method != MethodGradCAM || r.Empty() {
		t.Errorf("class 1: %v, err %v; want a non-empty Grad-CAM map", r, err)
	}
}

// halves is a side x side photo, red on the left half, green on the right.
func halves(side int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= side/2 {
				c = color.RGBA{0, 255, 0, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// TestRenderVersion pins how a tile is drawn to RenderVersion: reports reuse
// stored tiles of the same version, so a change in the drawing needs a new
// version (then record its fingerprint here).
func TestRenderVersion(t *testing.T) {
	r := &Result{Heat: []float32{0, 1, 2, 3, 0.5, 0, 0, 1, 2}, W: 3, H: 3}
	sum := sha256.New()
	sum.Write(Overlay(halves(10), r).Pix)
	fmt.Fprint(sum, OcclusionGrid, occlusionGrey)
	got := hex.EncodeToString(sum.Sum(nil))
	pinned := map[int]string{2: "27858ea29fd55c62c1169b3e5e9a5944d9700d9b5b3d63de03e4c1f06f6a0bf3"}
	if pinned[RenderVersion] != got {
		t.Errorf("tiles of version %d draw as %s, pinned %q: bump RenderVersion when the drawing changes, and pin the new fingerprint", RenderVersion, got, pinned[RenderVersion])
	}
}
