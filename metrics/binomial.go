package metrics

import "fmt"

// ClopperPearson is the exact two-sided confidence interval at level (e.g.
// 0.95) of a rate seen as k of n: the rates under which k or more, and k or
// fewer, would be seen with probability (1 - level)/2 each. It never covers
// less than level, which matters when the claim is a bound ("at most 5% of
// unknown dogs accepted"). Its bounds are quantiles of Beta distributions,
// found by bisection on the regularized incomplete beta function.
func ClopperPearson(k, n int, level float64) (lo, hi float64, err error) {
	if n <= 0 || k < 0 || k > n || !(level > 0 && level < 1) {
		return 0, 0, fmt.Errorf("metrics: interval of %d of %d at level %g", k, n, level)
	}
	tail := (1 - level) / 2
	lo, hi = 0, 1
	if k > 0 {
		lo = betaQuantile(tail, float64(k), float64(n-k+1))
	}
	if k < n {
		hi = betaQuantile(1-tail, float64(k+1), float64(n-k))
	}
	return lo, hi, nil
}

// betaQuantile is the x with I_x(a, b) = p. I is monotone in x, so
// bisection is robust and, at 200 halvings, exact to float64 precision down
// to x of about 1e-60.
func betaQuantile(p, a, b float64) float64 {
	lo, hi := 0.0, 1.0
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if regIncBeta(a, b, mid) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
