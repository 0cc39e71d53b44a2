package metrics

import (
	"fmt"
	"math"
)

// Summary describes a metric over replicates (e.g. seeds).
type Summary struct {
	N    int
	Mean float64
	Std  float64 // sample standard deviation (n-1); NaN when N < 2
	// Lo and Hi bound the two-sided 95% Student-t interval of the mean;
	// NaN when N < 2.
	Lo, Hi  float64
	Warning string // set when N is too small for the interval to mean much
}

// Summarize returns the mean, sample standard deviation and 95% Student-t
// confidence interval of xs.
func Summarize(xs []float64) Summary {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return summarize(len(xs), sum, func(mean float64) float64 {
		var ss float64
		for _, x := range xs {
			d := x - mean
			ss += d * d
		}
		return ss
	})
}

// SummarizeSums is Summarize of n values known only by their sum and the
// sum of their squares, as a database adds them up. The spread comes from
// the difference of two sums, so a standard deviation is off by up to about
// 1e-8 (the square root of their rounding): nothing at the three decimals
// accuracies are shown with.
func SummarizeSums(n int, sum, sumSq float64) Summary {
	return summarize(n, sum, func(mean float64) float64 {
		return max(sumSq-sum*mean, 0) // rounding can leave equal values a tiny negative spread
	})
}

// summarize is a Summary of n values adding up to sum, whose squared
// deviations from their mean add up to squares(mean).
func summarize(n int, sum float64, squares func(mean float64) float64) Summary {
	nan := math.NaN()
	s := Summary{N: n, Mean: nan, Std: nan, Lo: nan, Hi: nan}
	switch n {
	case 0:
		s.Warning = "no samples"
		return s
	case 1:
		s.Mean = sum
		s.Warning = "1 sample: no interval"
		return s
	case 2:
		s.Warning = "only 2 samples: interval is wide"
	}
	s.Mean = sum / float64(n)
	s.Std = math.Sqrt(squares(s.Mean) / float64(n-1))
	half := tQuantile(0.975, float64(n-1)) * s.Std / math.Sqrt(float64(n))
	s.Lo, s.Hi = s.Mean-half, s.Mean+half
	return s
}

// String renders the summary as "mean ± half-width [lo, hi] (n=N)".
func (s Summary) String() string {
	if s.N < 2 {
		return fmt.Sprintf("%.4g (n=%d)", s.Mean, s.N)
	}
	return fmt.Sprintf("%.4g ± %.2g [%.4g, %.4g] (n=%d)", s.Mean, (s.Hi-s.Lo)/2, s.Lo, s.Hi, s.N)
}

// tQuantile returns the p-quantile of Student's t distribution with df
// degrees of freedom, for 0 < p < 1 and df > 0.
func tQuantile(p, df float64) float64 {
	if !(p > 0 && p < 1) {
		return math.NaN()
	}
	if p < 0.5 {
		return -TUpper(p, df)
	}
	return TUpper(1-p, df)
}

// TUpper returns the t with P(T > t) = q for Student's t distribution with
// df degrees of freedom (0 < q < 1, df > 0). It takes the tail probability
// itself, not 1 - q, so that critical values for tiny q (the early looks of
// a sequential test spend 1e-10 and less) keep their precision.
//
// For t >= 0, P(T > t) = I_x(df/2, 1/2)/2 with x = df/(df+t²), where I is
// the regularized incomplete beta function, so t is found by solving
// I_x(df/2, 1/2) = 2q for x (betaQuantile).
func TUpper(q, df float64) float64 {
	switch {
	case !(q > 0 && q < 1) || !(df > 0):
		return math.NaN()
	case q > 0.5:
		return -TUpper(1-q, df)
	case q == 0.5:
		return 0
	}
	x := betaQuantile(2*q, df/2, 0.5)
	return math.Sqrt(df * (1 - x) / x)
}

// regIncBeta is the regularized incomplete beta function I_x(a, b).
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	// The continued fraction converges fast only on this side of the mean;
	// use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) on the other.
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

// betaCF evaluates the continued fraction of the incomplete beta function
// with the modified Lentz method.
func betaCF(a, b, x float64) float64 {
	const (
		eps  = 1e-15
		tiny = 1e-300
	)
	guard := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	c := 1.0
	d := 1 / guard(1-(a+b)*x/(a+1))
	h := d
	for m := 1; m <= 1000; m++ {
		fm := float64(m)
		// Even step: d_{2m} = m(b-m)x / ((a+2m-1)(a+2m)).
		num := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d = 1 / guard(1+num*d)
		c = guard(1 + num/c)
		h *= d * c
		// Odd step: d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
		num = -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d = 1 / guard(1+num*d)
		c = guard(1 + num/c)
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
