package metrics

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTQuantileTable(t *testing.T) {
	// Two-sided 95% critical values from printed t tables (3 decimals) and
	// more precise reference values.
	cases := []struct {
		df           float64
		table, exact float64
	}{
		{1, 12.706, 12.706204736},
		{2, 4.303, 4.302652730},
		{4, 2.776, 2.776445105},
		{10, 2.228, 2.228138852},
		{30, 2.042, 2.042272456},
	}
	for _, c := range cases {
		got := tQuantile(0.975, c.df)
		if math.Abs(got-c.table) > 1e-3 {
			t.Errorf("t(0.975, %v) = %v, table says %v", c.df, got, c.table)
		}
		if math.Abs(got-c.exact) > 1e-6 {
			t.Errorf("t(0.975, %v) = %v, want %v", c.df, got, c.exact)
		}
	}
	// Symmetry, the median, and the normal limit.
	if got := tQuantile(0.025, 4); math.Abs(got+2.776445105) > 1e-6 {
		t.Errorf("t(0.025, 4) = %v", got)
	}
	if got := tQuantile(0.5, 3); got != 0 {
		t.Errorf("t(0.5, 3) = %v", got)
	}
	if got := tQuantile(0.975, 1e7); math.Abs(got-1.959964) > 1e-5 {
		t.Errorf("t(0.975, 1e7) = %v, want about 1.959964", got)
	}
	if got := tQuantile(1, 3); !math.IsNaN(got) {
		t.Errorf("t(1, 3) = %v, want NaN", got)
	}
}

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	// {1,2,3}: mean 2, std 1, half = 4.302652730/√3 = 2.484138.
	h3 := 4.302652730 / math.Sqrt(3)
	cases := []struct {
		xs   []float64
		want Summary
	}{
		{nil, Summary{Mean: nan, Std: nan, Lo: nan, Hi: nan, Warning: "no samples"}},
		{[]float64{5}, Summary{N: 1, Mean: 5, Std: nan, Lo: nan, Hi: nan, Warning: "1 sample: no interval"}},
		// {2,4}: mean 3, std √2, half = 12.7062·√2/√2 = 12.7062.
		{[]float64{2, 4}, Summary{N: 2, Mean: 3, Std: math.Sqrt2, Lo: 3 - 12.706204736, Hi: 3 + 12.706204736,
			Warning: "only 2 samples: interval is wide"}},
		{[]float64{1, 2, 3}, Summary{N: 3, Mean: 2, Std: 1, Lo: 2 - h3, Hi: 2 + h3}},
		{[]float64{0.9, 0.9, 0.9, 0.9}, Summary{N: 4, Mean: 0.9, Std: 0, Lo: 0.9, Hi: 0.9}},
	}
	opts := cmp.Options{cmpopts.EquateApprox(0, 1e-8), cmpopts.EquateNaNs()}
	for _, c := range cases {
		if d := cmp.Diff(c.want, Summarize(c.xs), opts); d != "" {
			t.Errorf("Summarize(%v) (-want +got):\n%s", c.xs, d)
		}
	}
}

func TestSummaryString(t *testing.T) {
	got := Summarize([]float64{1, 2, 3}).String()
	if want := "2 ± 2.5 [-0.4841, 4.484] (n=3)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestTUpperTails(t *testing.T) {
	// Closed forms: df = 1 is Cauchy, P(T > t) = 1/2 - atan(t)/π, so
	// t = 1/tan(πq); df = 2 has P(T > t) = (1 - t/√(t²+2))/2, so
	// t = (1-2q)/√(2q(1-q)). The tiny q are where sequential tests look.
	for _, q := range []float64{0.25, 0.025, 1e-4, 1e-8, 1e-12} {
		cauchy := 1 / math.Tan(math.Pi*q)
		if got := TUpper(q, 1); math.Abs(got-cauchy) > 1e-9*cauchy {
			t.Errorf("TUpper(%g, 1) = %.12g, want %.12g", q, got, cauchy)
		}
		two := (1 - 2*q) / math.Sqrt(2*q*(1-q))
		if got := TUpper(q, 2); math.Abs(got-two) > 1e-9*two {
			t.Errorf("TUpper(%g, 2) = %.12g, want %.12g", q, got, two)
		}
	}
	if got := TUpper(0.975, 4); math.Abs(got+2.776445105) > 1e-6 {
		t.Errorf("TUpper(0.975, 4) = %v, want -2.776445105", got)
	}
	if !math.IsNaN(TUpper(0, 3)) || !math.IsNaN(TUpper(0.1, 0)) {
		t.Error("TUpper outside its domain is not NaN")
	}
}

// Sums as a database adds them give the summary of the values themselves.
func TestSummarizeSumsAgreesWithSummarize(t *testing.T) {
	for _, xs := range [][]float64{nil, {0.5}, {0.5, 0.75}, {0.45, 0.47, 0.46, 0.44, 0.48, 0.45, 0.46, 0.47}, {0.3, 0.3, 0.3}} {
		var sum, sumSq float64
		for _, x := range xs {
			sum, sumSq = sum+x, sumSq+x*x
		}
		want, got := Summarize(xs), SummarizeSums(len(xs), sum, sumSq)
		if d := cmp.Diff(want, got, cmpopts.EquateNaNs(), cmpopts.EquateApprox(0, 1e-7)); d != "" {
			t.Errorf("%v (-Summarize +SummarizeSums):\n%s", xs, d)
		}
	}
}
