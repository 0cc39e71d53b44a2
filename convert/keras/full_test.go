package keras_test

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dogrun/dogrun/convert/keras"
	"github.com/dogrun/dogrun/convert/keras/kerastest"
)

// TestFullSizeResNet50 imports a random ResNet50 of full size with its top
// (the shapes of rcmalli_vggface_tf_resnet50.h5), checks it with Check as
// dogrun validate does, converts it as the backbone registry does and runs it
// on ONNX Runtime. With DOGRUN_FULL_REFERENCE=1 it also compares the outputs
// with the GoMLX reference, which takes about 50 s more on 2 cores (measured:
// relative max diff 2.2e-07 for avg_pool, 3.8e-07 for classifier).
func TestFullSizeResNet50(t *testing.T) {
	kerastest.Need(t)
	if testing.Short() {
		t.Skip("full-size network")
	}
	const n = 2
	x := images(n, 5)
	p, err := kerastest.Generate(keras.ResNet50, 1, true, 21)
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string][]float64
	if os.Getenv("DOGRUN_FULL_REFERENCE") == "1" {
		start := time.Now()
		if ref, err = kerastest.Forward(keras.ResNet50, p, 1, true, x, n); err != nil {
			t.Fatal(err)
		}
		t.Logf("GoMLX reference: %s", time.Since(start))
	}
	path := filepath.Join(t.TempDir(), keras.WeightsFile(keras.ResNet50, true))
	start := time.Now()
	if err := kerastest.WriteH5(path, p, kerastest.Layout{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("h5py wrote %d MB in %s", st.Size()>>20, time.Since(start))
	outs, err := keras.Check(keras.ResNet50, path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(outs, []string{"avg_pool", "classifier"}) {
		t.Fatalf("Check: outputs %v", outs)
	}
	start = time.Now()
	model, err := keras.Convert(keras.ResNet50)([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("converted to %d MB of ONNX in %s", len(model)>>20, time.Since(start))
	got := runONNX(t, model, x, n, outs)
	if len(got["avg_pool"]) != n*2048 || len(got["classifier"]) != n*8631 {
		t.Fatalf("got %d avg_pool and %d classifier values", len(got["avg_pool"]), len(got["classifier"]))
	}
	for i := 0; i < n; i++ {
		var sum float64
		for _, v := range got["classifier"][i*8631 : (i+1)*8631] {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("image %d: classifier sums to %g, want 1", i, sum)
		}
	}
	for _, v := range got["avg_pool"] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("avg_pool has %g", v)
		}
	}
	for name, want := range ref {
		d := relDiff(got[name], want)
		t.Logf("%-10s %5d values, relative max diff %.2g", name, len(want), d)
		if d > relTol || math.IsNaN(d) {
			t.Errorf("%s: ONNX Runtime and GoMLX differ by %.3g of the output's scale (tolerance %g)", name, d, relTol)
		}
	}
}
