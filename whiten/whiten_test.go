package whiten

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFitPCAByHand whitens four points on the axes: variance 2 along x and
// 0.5 along y (population), so x is divided by √2 and y by √0.5.
func TestFitPCAByHand(t *testing.T) {
	x := []float32{2, 0, -2, 0, 0, 1, 0, -1}
	p, err := FitPCA(x, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.Variance[0]-2) > 1e-9 || math.Abs(p.Variance[1]-0.5) > 1e-9 {
		t.Errorf("variances %v, want [2 0.5]", p.Variance)
	}
	got, err := p.Apply([]float32{2, 0, 0, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	s := float32(math.Sqrt2)
	want := []float32{s, 0, 0, s, 1 / s, s}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("whitened %v, want %v", got, want)
		}
	}
	one, _ := FitPCA(x, 2, 1)
	if got, _ := one.Apply([]float32{1, 1}); len(got) != 1 || math.Abs(float64(got[0]-1/s)) > 1e-6 {
		t.Errorf("keeping 1 axis: %v, want [%v]", got, 1/s)
	}
}

// TestFitPCAWhitensItsRows checks on correlated random rows that the fitted
// rows come out centred with identity covariance, largest variance first.
func TestFitPCAWhitensItsRows(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, dim, keep = 400, 6, 4
	x := make([]float32, n*dim)
	for i := range n {
		a, b, c := r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
		row := []float64{3*a + 1, a + b, 2 * c, b - c, 0.5 * r.NormFloat64(), a + 0.1*r.NormFloat64() - 4}
		for j, v := range row {
			x[i*dim+j] = float32(v)
		}
	}
	p, err := FitPCA(x, dim, keep)
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k < keep; k++ {
		if p.Variance[k] > p.Variance[k-1] {
			t.Errorf("variances not descending: %v", p.Variance)
		}
	}
	w, _ := p.Apply(x)
	for a := range keep {
		var mean float64
		for i := range n {
			mean += float64(w[i*keep+a])
		}
		if math.Abs(mean/n) > 1e-4 {
			t.Errorf("axis %d: mean %v, want 0", a, mean/n)
		}
		for b := range keep {
			var c float64
			for i := range n {
				c += float64(w[i*keep+a]) * float64(w[i*keep+b])
			}
			want := 0.0
			if a == b {
				want = 1
			}
			if math.Abs(c/n-want) > 1e-4 {
				t.Errorf("covariance[%d][%d] = %v, want %v", a, b, c/n, want)
			}
		}
	}
	again, _ := FitPCA(x, dim, keep)
	for i := range p.W {
		if p.W[i] != again.W[i] {
			t.Fatal("two fits of the same rows differ")
		}
	}
	fitTwo, _ := FitPCA(x, dim, 2)
	firstTwo, err := p.First(2)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := fitTwo.Apply(x)
	b, _ := firstTwo.Apply(x)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			t.Fatalf("First(2) row value %d: %v, fitting 2 axes gives %v", i, b[i], a[i])
		}
	}
	if _, err := p.First(keep + 1); err == nil {
		t.Errorf("First(%d) of %d axes: no error", keep+1, keep)
	}
}

// TestFitPCARefuses checks the errors: rows that do not fit the dimension,
// more axes than rows or than the rows' rank.
func TestFitPCARefuses(t *testing.T) {
	line := []float32{1, 2, 3, 2, 4, 6, 3, 6, 9, -1, -2, -3} // rank 1 in 3-D
	for _, tc := range []struct {
		x         []float32
		dim, keep int
		want      string
	}{
		{[]float32{1, 2, 3}, 2, 1, "not rows of 2"},
		{line, 3, 4, "keep 4 of 3"},
		{line[:6], 3, 2, "2 rows cannot span 2 axes"},
		{line, 3, 2, "only 1 of the 3 axes"},
	} {
		if _, err := FitPCA(tc.x, tc.dim, tc.keep); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FitPCA(%d values, %d, %d): err = %v, want %q", len(tc.x), tc.dim, tc.keep, err, tc.want)
		}
	}
	p, _ := FitPCA(line, 3, 1)
	if _, err := p.Apply([]float32{1, 2}); err == nil {
		t.Error("Apply of a short row: no error")
	}
}

// TestFitPCAUpToStopsAtTheRank: rows of 4 values that vary along 2 axes
// only (the last two values copy the first two, scaled). FitPCA refuses to
// keep 3 axes; FitPCAUpTo keeps the 2 there are, and no more than the rows
// allow.
func TestFitPCAUpToStopsAtTheRank(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 50
	x := make([]float32, 0, 4*n)
	for range n {
		a, b := float32(r.NormFloat64()), float32(r.NormFloat64())
		x = append(x, a, b, 2*a, -b)
	}
	if _, err := FitPCA(x, 4, 3); err == nil || !strings.Contains(err.Error(), "only 2 of the 4 axes") {
		t.Errorf("FitPCA keeping 3 of rank 2: %v", err)
	}
	p, err := FitPCAUpTo(x, 4, 3)
	if err != nil || p.Keep() != 2 || len(p.W) != 2*4 {
		t.Fatalf("FitPCAUpTo: %v axes, %d weights, %v; want the 2 there are", p.Keep(), len(p.W), err)
	}
	w, _ := p.Apply(x)
	for k := range 2 {
		var ss float64
		for i := range n {
			ss += float64(w[i*2+k]) * float64(w[i*2+k])
		}
		if v := ss / n; math.Abs(v-1) > 1e-3 {
			t.Errorf("axis %d: variance %g after whitening, want 1", k, v)
		}
	}
	few, err := FitPCAUpTo(x[:3*4], 4, 3)
	if err != nil || few.Keep() != 2 {
		t.Errorf("3 rows: %v axes, %v; want 2 (fewer than the rows)", few, err)
	}
}

// TestSaveLoad: a saved whitening loads as the same transform; a file of
// the wrong length is refused.
func TestSaveLoad(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := make([]float32, 30*5)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	p, err := FitPCA(x, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w", "fit.bin")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, q); diff != "" {
		t.Errorf("loaded whitening differs (-saved +loaded):\n%s", diff)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, b[:len(b)-8], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("a truncated file loaded: %v", err)
	}
}
