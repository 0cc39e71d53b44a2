package keras_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/convert/keras"
	"github.com/dogrun/dogrun/convert/keras/kerastest"
	"github.com/dogrun/dogrun/internal/workspace"
)

// relTol bounds max|ORT - reference| / max|reference| per output: ONNX Runtime
// computes in float32, the GoMLX reference in float64.
const relTol = 1e-4

// images returns n random preprocessed inputs, channels-last as Keras takes
// them: BGR pixels minus about their mean.
func images(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*keras.InputSize*keras.InputSize*3)
	for i := range x {
		x[i] = float32(rng.Float64()*255 - 128)
	}
	return x
}

// nchw turns channels-last images into the importer's channels-first input.
func nchw(x []float32, n int) []float32 {
	const s = keras.InputSize
	out := make([]float32, len(x))
	for i := 0; i < n; i++ {
		for y := 0; y < s; y++ {
			for v := 0; v < s; v++ {
				for c := 0; c < 3; c++ {
					out[((i*3+c)*s+y)*s+v] = x[((i*s+y)*s+v)*3+c]
				}
			}
		}
	}
	return out
}

func runONNX(t *testing.T, model []byte, x []float32, n int, outputs []string) map[string][]float32 {
	t.Helper()
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	res, err := backbone.Eval(context.Background(), cache, model, "input",
		backbone.Tensor{Shape: []int64{int64(n), 3, keras.InputSize, keras.InputSize}, Data: nchw(x, n)}, outputs...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for i, name := range outputs {
		out[name] = res[i].Data
	}
	return out
}

// relDiff is max|got - want| / max|want|.
func relDiff(got []float32, want []float64) float64 {
	var diff, scale float64
	for i, w := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-w))
		scale = math.Max(scale, math.Abs(w))
	}
	return diff / scale
}

func outputNames(t *testing.T, path string, a keras.Arch, opt keras.Options) ([]byte, []string) {
	t.Helper()
	f, err := keras.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := keras.Build(a, f, opt)
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range m.Graph.Outputs {
		names = append(names, v.Name)
	}
	return data, names
}

// TestImportMatchesGoMLX writes each architecture's random weights as Keras
// does (with and without the top, in a different file layout per
// architecture), imports them, and compares ONNX Runtime's outputs with the
// GoMLX implementation on two images. Widths are divided to keep the float64
// GoMLX pass fast; names, topology and the 224 input are the real ones.
func TestImportMatchesGoMLX(t *testing.T) {
	kerastest.Need(t)
	cases := []struct {
		arch   keras.Arch
		div    int
		layout kerastest.Layout
	}{
		{keras.VGG16, 16, kerastest.Layout{ModelWeights: true, Gzip: true}},
		{keras.ResNet50, 16, kerastest.Layout{Scope: "_1"}},
		{keras.SENet50, 8, kerastest.Layout{LayerNamePieces: 3}},
	}
	for i, tc := range cases {
		t.Run(string(tc.arch), func(t *testing.T) {
			const n = 2
			x := images(n, uint64(i))
			p := kerastest.NewParams(uint64(10 + i))
			if tc.arch != keras.VGG16 {
				// Random weights give activations of 1e4 and more: scale the
				// classifier so its softmax is not one-hot and its values count.
				ref, err := kerastest.Forward(tc.arch, p, tc.div, false, x, n)
				if err != nil {
					t.Fatal(err)
				}
				feats := ref["avg_pool"]
				var ss float64
				for _, v := range feats {
					ss += v * v
				}
				p = kerastest.NewParams(p.Seed)
				p.KernelStd["classifier"] = 2 / math.Sqrt(ss/float64(n))
			}
			ref, err := kerastest.Forward(tc.arch, p, tc.div, true, x, n)
			if err != nil {
				t.Fatal(err)
			}
			for _, top := range []bool{false, true} {
				params := p
				if !top {
					params = p.Without(kerastest.TopLayers(tc.arch)...)
				}
				path := filepath.Join(t.TempDir(), keras.WeightsFile(tc.arch, top))
				if err := kerastest.WriteH5(path, params, tc.layout); err != nil {
					t.Fatal(err)
				}
				model, names := outputNames(t, path, tc.arch, keras.Options{WidthDivisor: tc.div})
				var want []string
				for _, o := range keras.Outputs(tc.arch) {
					if top || !o.Top {
						want = append(want, o.Name)
					}
				}
				if !slices.Equal(names, want) {
					t.Fatalf("top=%v: outputs %v, want %v", top, names, want)
				}
				got := runONNX(t, model, x, n, names)
				for _, name := range names {
					if len(got[name]) != len(ref[name]) {
						t.Fatalf("top=%v %s: %d values, reference has %d", top, name, len(got[name]), len(ref[name]))
					}
					if name == "classifier" && slices.Max(ref[name]) > 0.5 {
						t.Fatalf("reference softmax is nearly one-hot (max %g): the comparison would say little", slices.Max(ref[name]))
					}
					d := relDiff(got[name], ref[name])
					t.Logf("top=%v %-10s %6d values/image, relative max diff %.2g", top, name, len(ref[name])/n, d)
					if d > relTol || math.IsNaN(d) {
						t.Errorf("top=%v %s: ONNX Runtime and GoMLX differ by %.3g of the output's scale (tolerance %g)", top, name, d, relTol)
					}
				}
			}
		})
	}
}

// TestWrongFileIsRefused checks that a file of another architecture, or not
// a Keras file at all, is refused with the reason.
func TestWrongFileIsRefused(t *testing.T) {
	kerastest.Need(t)
	dir := t.TempDir()
	write := func(a keras.Arch) string {
		p, err := kerastest.Generate(a, 16, false, 1)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, string(a)+".h5")
		if err := kerastest.WriteH5(path, p, kerastest.Layout{}); err != nil {
			t.Fatal(err)
		}
		return path
	}
	resnet, senet, vgg := write(keras.ResNet50), write(keras.SENet50), write(keras.VGG16)
	notH5 := filepath.Join(dir, "x.h5")
	if err := os.WriteFile(notH5, []byte("not hdf5"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		arch keras.Arch
		want []string
	}{
		{resnet, keras.SENet50, []string{"not a keras-vggface senet50", `no layer "conv2_1_1x1_down"`}},
		{senet, keras.ResNet50, []string{"not a keras-vggface resnet50", "conv2_1_1x1_down"}},
		{vgg, keras.ResNet50, []string{`no layer "conv1/7x7_s2"`}},
		{resnet, keras.VGG16, []string{`no layer "conv1_1"`}},
		{notH5, keras.VGG16, []string{"not an HDF5 file"}},
	} {
		f, err := keras.Open(tc.path)
		if err == nil {
			_, err = keras.Build(tc.arch, f, keras.Options{WidthDivisor: 16})
			f.Close()
		}
		if err == nil {
			t.Errorf("%s as %s: no error", filepath.Base(tc.path), tc.arch)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s as %s: error %q does not say %q", filepath.Base(tc.path), tc.arch, err, w)
			}
		}
	}
}
