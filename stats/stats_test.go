package stats

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) != math.IsNaN(want) {
		t.Errorf("%s = %.12g, want %.12g (±%g)", name, got, want, tol)
	}
}

// outcomes builds paired outcomes: both right, only A right (b), only B right
// (c), both wrong.
func outcomes(both, b, c, neither int) (Bools, Bools) {
	var x, y Bools
	add := func(n int, ca, cb bool) {
		for range n {
			x, y = append(x, ca), append(y, cb)
		}
	}
	add(both, true, true)
	add(b, true, false)
	add(c, false, true)
	add(neither, false, false)
	return x, y
}

func TestMcNemarKnownValues(t *testing.T) {
	for _, tc := range []struct {
		both, b, c, neither int
		p                   float64
		source              string
	}{
		// 2 * P(X <= 1), X ~ Bin(8, 1/2) = 2 * (1 + 8) / 256; scipy.stats.binomtest(1, 8)
		// and statsmodels' mcnemar([[10, 1], [7, 2]], exact=True) both give 0.0703125.
		{10, 1, 7, 2, 0.0703125, "2*9/256"},
		{0, 0, 6, 0, 2.0 / 64, "2 * 0.5^6"},
		{0, 0, 5, 0, 2.0 / 32, "2 * 0.5^5"},
		{4, 3, 3, 4, 1, "b = c: capped at 1"},
		{5, 0, 0, 5, 1, "no discordant photos"},
		// 2 * (C(20,0)+...+C(20,5)) / 2^20 = 2 * 21700 / 1048576.
		{50, 15, 5, 30, 2 * 21700.0 / 1048576, "2*21700/2^20"},
	} {
		a, b := outcomes(tc.both, tc.b, tc.c, tc.neither)
		r, err := McNemar(a, b)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "p ("+tc.source+")", r.P, tc.p, 1e-12)
		if r.B != tc.b || r.C != tc.c || r.N != tc.b+tc.c {
			t.Errorf("%s: B, C, N = %d, %d, %d", tc.source, r.B, r.C, r.N)
		}
		n := tc.both + tc.b + tc.c + tc.neither
		near(t, "effect", r.Effect, float64(tc.b-tc.c)/float64(n), 1e-15)
	}
	a, b := outcomes(0, 0, 5, 0)
	if r, _ := McNemar(a, b); !strings.Contains(r.Warning, "cannot reach") {
		t.Errorf("5 discordant photos: no warning, got %q", r.Warning)
	}
	if _, err := McNemar(Bools{true}, Bools{}); err == nil {
		t.Error("unequal lengths accepted")
	}
}

func TestWilcoxonDarwinMaize(t *testing.T) {
	// Darwin's Zea mays data (cross- minus self-fertilized heights, in eighths
	// of an inch; Fisher 1935), the example of scipy.stats.wilcoxon's docs:
	// negative differences -48 and -67 have ranks 10 and 14, so W- = 24 and
	// W+ = 120 - 24 = 96; scipy 1.10.1 gives statistic 24, exact p =
	// 0.041259765625 = 2 * 676 / 2^15.
	d := Values{6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75}
	zero := make(Values, len(d))
	r, err := Wilcoxon(d, zero)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exact || r.N != 15 || r.WPlus != 96 || r.WMinus != 24 || r.Statistic != 24 {
		t.Errorf("got %+v", r)
	}
	near(t, "p", r.P, 0.041259765625, 1e-12)
	near(t, "rank-biserial", r.Effect, (96.0-24)/120, 1e-12)
	if r.Warning != "" {
		t.Errorf("unexpected warning %q", r.Warning)
	}
}

func TestWilcoxonSmallSamplesWarn(t *testing.T) {
	// Five pairs all favouring x: W- = 0, p = 2/2^5 = 0.0625, the smallest
	// possible, so the test must say it cannot reach 0.05.
	r, _ := Wilcoxon(Values{1, 2, 3, 4, 5}, Values{0, 0, 0, 0, 0})
	near(t, "p n=5", r.P, 0.0625, 1e-15)
	if !strings.Contains(r.Warning, "smallest possible p is 0.0625") {
		t.Errorf("warning %q", r.Warning)
	}
	r, _ = Wilcoxon(Values{1, 2, 3, 4, 5, 6}, Values{0, 0, 0, 0, 0, 0})
	near(t, "p n=6", r.P, 2.0/64, 1e-15)
	if r.Warning != "" {
		t.Errorf("n=6: warning %q", r.Warning)
	}
	// Zeros are dropped (zero_method="wilcox").
	r, _ = Wilcoxon(Values{0.5, 0.5, 0.7}, Values{0.5, 0.5, 0.6})
	if r.Zeros != 2 || r.N != 1 || r.P != 1 {
		t.Errorf("zeros: %+v", r)
	}
	r, _ = Wilcoxon(Values{0.5}, Values{0.5})
	if r.N != 0 || r.P != 1 || r.Warning == "" {
		t.Errorf("all zero: %+v", r)
	}
}

// TestWilcoxonExactWithTiesMatchesEnumeration checks the dynamic programme
// against brute force over all 2^n sign patterns of tied ranks.
func TestWilcoxonExactWithTiesMatchesEnumeration(t *testing.T) {
	d := Values{0.02, -0.02, 0.04, 0.02, 0.01, -0.04, 0.03, 0.03, 0.05, 0.01, -0.01, 0.06}
	r, err := Wilcoxon(d, make(Values, len(d)))
	if err != nil {
		t.Fatal(err)
	}
	ranks, _ := absRanks(d)
	n := len(ranks)
	var lower, upper int
	for mask := range 1 << n {
		var w float64
		for i := range n {
			if mask&(1<<i) != 0 {
				w += ranks[i]
			}
		}
		if w <= r.WPlus {
			lower++
		}
		if w >= r.WPlus {
			upper++
		}
	}
	all := float64(int(1) << n)
	want := math.Min(1, 2*math.Min(float64(lower)/all, float64(upper)/all))
	near(t, "exact p with ties", r.P, want, 1e-12)
}

func TestWilcoxonNormalApproximation(t *testing.T) {
	// 130 pairs, 5 of them zero and many ties; scipy 1.10.1:
	// wilcoxon(d, method="approx", zero_method="wilcox", correction=False)
	// = (statistic 2678, p 0.0018961361657521452).
	var d Values
	for i := range 130 {
		d = append(d, float64((i*37)%23-9)*0.5)
	}
	r, err := Wilcoxon(d, make(Values, len(d)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Exact || r.N != 125 || r.Statistic != 2678 {
		t.Errorf("got %+v", r)
	}
	near(t, "p", r.P, 0.0018961361657521452, 1e-12)
}

func TestHolm(t *testing.T) {
	// Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> 0.06
	// (kept non-decreasing); statsmodels multipletests(method="holm") agrees.
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-15)); d != "" {
		t.Errorf("Holm (-want +got):\n%s", d)
	}
	got = Holm([]float64{0.5, math.NaN(), 0.4})
	want = []float64{0.8, math.NaN(), 0.8}
	if d := cmp.Diff(want, got, cmpopts.EquateNaNs(), cmpopts.EquateApprox(0, 1e-15)); d != "" {
		t.Errorf("Holm with NaN (-want +got):\n%s", d)
	}
}

func TestPairedBootstrap(t *testing.T) {
	// 1000 photos tested once: 100 only A right, 60 only B right. The
	// difference is 0.04 with standard error sqrt((b+c)/n² - d²/n) = 0.012586,
	// so the normal 95% interval is 0.04 ± 0.024668 = [0.0153, 0.0647].
	var units []PairedUnit
	for i := range 1000 {
		u := PairedUnit{N: 1}
		switch {
		case i < 100:
			u.A = 1
		case i < 160:
			u.B = 1
		case i < 700:
			u.A, u.B = 1, 1
		}
		units = append(units, u)
	}
	iv, err := PairedBootstrap(units, 4000, 0.95, 1)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "estimate", iv.Estimate, 0.04, 1e-15)
	near(t, "lo", iv.Lo, 0.0153, 0.003)
	near(t, "hi", iv.Hi, 0.0647, 0.003)
	again, _ := PairedBootstrap(units, 4000, 0.95, 1)
	if again != iv {
		t.Errorf("same seed, different interval: %v vs %v", again, iv)
	}
	// Equal outcomes: every resample has difference 0.
	same := []PairedUnit{{N: 5, A: 3, B: 3}, {N: 5, A: 5, B: 5}, {N: 5}}
	iv, _ = PairedBootstrap(same, 200, 0.95, 3)
	if iv.Lo != 0 || iv.Hi != 0 || iv.Estimate != 0 {
		t.Errorf("identical variants: %v", iv)
	}
	if _, err := PairedBootstrap(nil, 10, 0.95, 1); err == nil {
		t.Error("empty bootstrap accepted")
	}
}

func TestCohenDzAndMean(t *testing.T) {
	// Differences 1, 2, 3: mean 2, sample sd 1.
	near(t, "d_z", CohenDz(Values{2, 4, 6}, Values{1, 2, 3}), 2, 1e-15)
	if !math.IsNaN(CohenDz(Values{1}, Values{0})) {
		t.Error("d_z of one pair is not NaN")
	}
	// Mean 0.8, sample variance 0.025/4, t(0.975, 4) = 2.776445.
	e := Mean(Values{0.7, 0.8, 0.9, 0.75, 0.85})
	near(t, "mean", e.Mean, 0.8, 1e-12)
	near(t, "lo", e.Lo, 0.8-2.7764451051977987*math.Sqrt(0.025/4)/math.Sqrt(5), 1e-9)
	if !strings.Contains(e.Warning, "only 5 replicates") {
		t.Errorf("5 seeds: warning %q", e.Warning)
	}
	if w := Mean(Values{1, 2, 3, 4, 5, 6}).Warning; w != "" {
		t.Errorf("6 seeds: warning %q", w)
	}
}

func TestMedian(t *testing.T) {
	in := []float64{5, 1, 3}
	near(t, "odd", Median(in), 3, 0)
	near(t, "even", Median([]float64{4, 1, 3, 10}), 3.5, 0)
	near(t, "one", Median([]float64{7}), 7, 0)
	near(t, "empty", Median(nil), math.NaN(), 0)
	if in[0] != 5 || in[1] != 1 {
		t.Errorf("Median sorted its argument: %v", in)
	}
}
