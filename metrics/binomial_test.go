package metrics

import (
	"math"
	"testing"
)

// binomTail is P(X >= k) for X ~ Binomial(n, p), summed term by term: the
// definition the Clopper-Pearson bounds solve, computed without the beta
// function.
func binomTail(k, n int, p float64) float64 {
	var s float64
	for i := k; i <= n; i++ {
		lc, _ := math.Lgamma(float64(n + 1))
		la, _ := math.Lgamma(float64(i + 1))
		lb, _ := math.Lgamma(float64(n - i + 1))
		s += math.Exp(lc - la - lb + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p))
	}
	return s
}

// TestClopperPearson checks the bounds against closed forms (none or all
// seen), a published value (5 of 10: 0.1871 to 0.8129) and the binomial
// tails they are defined by.
func TestClopperPearson(t *testing.T) {
	lo, hi, err := ClopperPearson(0, 20, 0.95)
	if err != nil || lo != 0 || math.Abs(hi-(1-math.Pow(0.025, 1.0/20))) > 1e-9 {
		t.Errorf("0 of 20: [%v, %v] %v; want [0, 1 - 0.025^(1/20)]", lo, hi, err)
	}
	lo, hi, _ = ClopperPearson(20, 20, 0.95)
	if hi != 1 || math.Abs(lo-math.Pow(0.025, 1.0/20)) > 1e-9 {
		t.Errorf("20 of 20: [%v, %v]; want [0.025^(1/20), 1]", lo, hi)
	}
	lo, hi, _ = ClopperPearson(5, 10, 0.95)
	if math.Abs(lo-0.187086) > 1e-6 || math.Abs(hi-0.812914) > 1e-6 {
		t.Errorf("5 of 10: [%v, %v]; want [0.187086, 0.812914]", lo, hi)
	}
	for _, c := range []struct{ k, n int }{{3, 50}, {47, 900}, {1, 2000}, {150, 160}} {
		lo, hi, _ := ClopperPearson(c.k, c.n, 0.95)
		if got := binomTail(c.k, c.n, lo); math.Abs(got-0.025) > 1e-7 {
			t.Errorf("%d of %d: P(X >= k | lower bound %v) = %v, want 0.025", c.k, c.n, lo, got)
		}
		if got := 1 - binomTail(c.k+1, c.n, hi); math.Abs(got-0.025) > 1e-7 {
			t.Errorf("%d of %d: P(X <= k | upper bound %v) = %v, want 0.025", c.k, c.n, hi, got)
		}
		if p := float64(c.k) / float64(c.n); !(lo < p && p < hi) {
			t.Errorf("%d of %d: [%v, %v] misses the rate %v", c.k, c.n, lo, hi, p)
		}
	}
	for _, bad := range []struct {
		k, n  int
		level float64
	}{{1, 0, 0.95}, {-1, 5, 0.95}, {6, 5, 0.95}, {1, 5, 1}, {1, 5, 0}} {
		if _, _, err := ClopperPearson(bad.k, bad.n, bad.level); err == nil {
			t.Errorf("ClopperPearson(%d, %d, %g): no error", bad.k, bad.n, bad.level)
		}
	}
}
