package backbone

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/internal/workspace"
)

// openTestModel fetches the real backbone into the shared cache (idempotent).
func openTestModel(t testing.TB, name string) *Model {
	t.Helper()
	dir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(context.Background(), dir, spec, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestBatchedForwardMatchesSingleImages(t *testing.T) {
	m := openTestModel(t, "mobilefacenet")
	const n = 5
	rng := rand.New(rand.NewPCG(1, 2))
	input := make([]float32, n*m.InputLen())
	for i := range input {
		input[i] = rng.Float32()*2 - 1
	}
	batch, err := m.Forward(input, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != n*m.Cut.Dim {
		t.Fatalf("got %d floats, want %d", len(batch), n*m.Cut.Dim)
	}
	for i := 0; i < n; i++ {
		one, err := m.Forward(input[i*m.InputLen():(i+1)*m.InputLen()], 1)
		if err != nil {
			t.Fatal(err)
		}
		var maxDiff, norm float64
		for j, v := range one {
			maxDiff = math.Max(maxDiff, math.Abs(float64(v-batch[i*m.Cut.Dim+j])))
			norm += float64(v) * float64(v)
		}
		if norm == 0 {
			t.Fatalf("image %d: all-zero features", i)
		}
		if maxDiff > 1e-4 {
			t.Errorf("image %d: batched and single features differ by %g", i, maxDiff)
		}
	}
}

func TestFetchRejectsWrongChecksum(t *testing.T) {
	dir := t.TempDir()
	src := Source{Package: "example-pkg", Version: "1.0.0", Files: []File{{Path: "model/x.onnx", SHA256: strings.Repeat("0", 64)}}}
	dst := filepath.Join(dir, "npm", "example-pkg@1.0.0", "model", "x.onnx")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("not the model"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Fetch(context.Background(), dir, src)
	if err == nil || !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), dst) {
		t.Fatalf("got %v, want a sha256 mismatch naming %s", err, dst)
	}
}

func TestLookupUnknownListsKnown(t *testing.T) {
	_, err := Lookup("vgg99")
	if err == nil || !strings.Contains(err.Error(), "mobilefacenet") {
		t.Fatalf("got %v, want an error listing mobilefacenet", err)
	}
}

// BenchmarkForward reports images per second at several batch sizes; batching is
// worth its graph rewrite only if larger batches are faster per image.
func BenchmarkForward(b *testing.B) {
	m := openTestModel(b, "mobilefacenet")
	for _, n := range []int{1, 8, 32} {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) {
			input := make([]float32, n*m.InputLen())
			for i := 0; i < b.N; i++ {
				if _, err := m.Forward(input, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// TestFillIsTheFormula: Fill's lookup table must give, bit for bit,
// (pixel - mean) * scale per channel, in each backbone's layout and order.
func TestFillIsTheFormula(t *testing.T) {
	for _, spec := range []Spec{
		{Name: "nchw-rgb", InputSize: 5, Layout: "NCHW", Channels: "RGB", Mean: [3]float32{127, 127, 127}, Scale: [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128}},
		{Name: "nhwc-bgr", InputSize: 5, Layout: "NHWC", Channels: "BGR", Mean: [3]float32{103.939, 116.779, 123.68}, Scale: [3]float32{1, 1, 1}},
		{Name: "nhwc-rgb", InputSize: 5, Layout: "NHWC", Channels: "RGB", Mean: [3]float32{0, 0, 0}, Scale: [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255}},
	} {
		rng := rand.New(rand.NewPCG(3, 4))
		img := image.NewRGBA(image.Rect(0, 0, 5, 5))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.IntN(256))
		}
		got := make([]float32, 3*25)
		spec.Fill(got, img)
		for y := range 5 {
			for x := range 5 {
				for c := range 3 {
					src := c
					if spec.Channels == "BGR" {
						src = 2 - c
					}
					want := (float32(img.Pix[4*(5*y+x)+src]) - spec.Mean[c]) * spec.Scale[c]
					i := c*25 + 5*y + x
					if spec.Layout == "NHWC" {
						i = 3*(5*y+x) + c
					}
					if math.Float32bits(got[i]) != math.Float32bits(want) {
						t.Fatalf("%s: (%d,%d) channel %d = %v, want %v", spec.Name, x, y, c, got[i], want)
					}
				}
			}
		}
	}
}
