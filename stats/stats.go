// Package stats compares variants of an experiment the way a reviewer asks
// for: a mean with its interval per variant, and between two variants on the
// same test photos McNemar's exact test, a paired bootstrap interval of the
// accuracy difference, the Wilcoxon signed-rank test across seeds, Holm's
// correction for several comparisons, and an effect size next to every
// p-value. Small samples get a Warning rather than a confident-looking number.
// To settle a question, a group-sequential design adds seeds round by round
// until each comparison is better, worse, equivalent or out of seeds
// (settle.go, sequential.go).
//
// The API follows benchstat: small value types in, plain result structs out.
package stats

import (
	"fmt"
	"math"

	"github.com/dogrun/dogrun/metrics"
)

// Alpha is the significance level verdicts use.
const Alpha = 0.05

// Sample is replicate measurements of one variant (a metric per seed and
// fold), in a fixed order so that two Samples can be paired.
type Sample interface {
	Values() []float64
}

// Values is a Sample of plain numbers.
type Values []float64

// Values returns v.
func (v Values) Values() []float64 { return v }

// Outcomes is the per-photo correctness of one trial on its test photos, in
// an order shared with the trial it is compared with.
type Outcomes interface {
	Len() int
	Correct(i int) bool
}

// Bools is Outcomes as a plain slice.
type Bools []bool

// Len is the number of photos.
func (b Bools) Len() int { return len(b) }

// Correct reports whether photo i was classified right.
func (b Bools) Correct(i int) bool { return b[i] }

// Estimate is a mean over replicates with its two-sided 95% Student-t
// interval (Lo, Hi are NaN below 2 replicates).
type Estimate struct {
	N            int
	Mean, Lo, Hi float64
	Std          float64
	Warning      string
}

// MinSeeds is the fewest replicates for which dogrun states a verdict
// without a warning: below 6 pairs the Wilcoxon signed-rank test cannot reach
// p < 0.05 at all (its smallest two-sided p is 2/2^n = 0.0625 at n = 5).
const MinSeeds = 6

// Mean summarizes s with a t interval, warning when there are too few
// replicates for it to mean much.
func Mean(s Sample) Estimate {
	m := metrics.Summarize(s.Values())
	e := Estimate{N: m.N, Mean: m.Mean, Lo: m.Lo, Hi: m.Hi, Std: m.Std, Warning: m.Warning}
	if e.Warning == "" {
		e.Warning = FewSeeds(m.N)
	}
	return e
}

// FewSeeds is the warning for n replicates, or "" when n is enough.
func FewSeeds(n int) string {
	if n >= MinSeeds {
		return ""
	}
	return fmt.Sprintf("only %d replicates: use at least %d seeds (x folds) for a verdict", n, MinSeeds)
}

// Test is the result of a hypothesis test, always with an effect size.
type Test struct {
	Name       string
	N          int     // pairs the test used (after dropping ties or zeros)
	Statistic  float64 // the test's own statistic
	P          float64 // two-sided p-value
	Effect     float64
	EffectName string
	Warning    string
}

func (t Test) String() string {
	s := fmt.Sprintf("%s: n=%d statistic=%.4g p=%.4g %s=%.3g", t.Name, t.N, t.Statistic, t.P, t.EffectName, t.Effect)
	if t.Warning != "" {
		s += " (" + t.Warning + ")"
	}
	return s
}

// binomTwoSided is the exact two-sided p-value of k successes in n fair coin
// flips: twice the smaller tail, capped at 1 (the binomial is symmetric at 1/2,
// so this equals summing every outcome as unlikely as k).
func binomTwoSided(k, n int) float64 {
	if n == 0 {
		return 1
	}
	k = min(k, n-k)
	var tail float64
	if n <= 1000 {
		// pmf(0) = 2^-n is exact and pmf(i+1) = pmf(i) (n-i)/(i+1) keeps
		// small cases exact to the last bit (2 * 9/256 is 0.0703125 exactly).
		pmf := math.Ldexp(1, -n)
		for i := 0; i <= k; i++ {
			tail += pmf
			pmf = pmf * float64(n-i) / float64(i+1)
		}
	} else {
		for i := 0; i <= k; i++ {
			tail += math.Exp(lchoose(n, i) - float64(n)*math.Ln2)
		}
	}
	return math.Min(1, 2*tail)
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// meanSD is the mean and sample standard deviation (n-1) of xs, len(xs) >= 2.
func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1))
}

// normalSF is P(Z > z) for a standard normal Z.
func normalSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }
