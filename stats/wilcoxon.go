package stats

import (
	"fmt"
	"math"
	"slices"
)

// exactLimit is the largest n for which Wilcoxon uses its exact null
// distribution; above it the normal approximation is within 1e-3 of it.
const exactLimit = 100

// WilcoxonResult is the Wilcoxon signed-rank test of paired samples.
type WilcoxonResult struct {
	Test
	WPlus, WMinus float64 // rank sums of the positive and negative differences
	Zeros         int     // pairs with no difference, left out
	Exact         bool    // exact null distribution (else normal approximation)
}

// Wilcoxon tests whether the paired differences x[i] - y[i] are symmetric
// about zero. Conventions, stated because textbooks differ:
//   - zero differences are dropped (Wilcoxon's original method and scipy's
//     default, zero_method="wilcox"); N counts the pairs left;
//   - tied |differences| share their average rank;
//   - for N <= 100 the p-value is exact: the distribution of W+ over all 2^N
//     sign patterns of the actual ranks (ties included), by dynamic
//     programming over doubled ranks, so ties need no approximation;
//   - above that, the normal approximation with the tie-corrected variance
//     N(N+1)(2N+1)/24 - sum(t³-t)/48 and no continuity correction;
//   - the two-sided p is twice the smaller tail, capped at 1;
//   - differences are rounded to 12 decimals first, so that accuracies that
//     differ by the same fraction of photos tie exactly despite float64 noise.
//
// The statistic is min(W+, W-), as scipy.stats.wilcoxon reports it; the
// effect is the matched-pairs rank-biserial correlation (W+ - W-)/(W+ + W-)
// (Kerby 2014): +1 when every difference favours x.
func Wilcoxon(x, y Sample) (WilcoxonResult, error) {
	xs, ys := x.Values(), y.Values()
	if len(xs) != len(ys) {
		return WilcoxonResult{}, fmt.Errorf("stats: Wilcoxon of %d and %d paired values", len(xs), len(ys))
	}
	var d []float64
	r := WilcoxonResult{}
	for i := range xs {
		v := math.Round((xs[i]-ys[i])*1e12) / 1e12
		if math.IsNaN(v) {
			return WilcoxonResult{}, fmt.Errorf("stats: Wilcoxon: pair %d is NaN", i)
		}
		if v == 0 {
			r.Zeros++
			continue
		}
		d = append(d, v)
	}
	n := len(d)
	r.Test = Test{Name: "Wilcoxon signed-rank", N: n, P: 1, EffectName: "rank-biserial r", Effect: math.NaN()}
	if n == 0 {
		r.Warning = "no pair differs"
		return r, nil
	}
	ranks, ties := absRanks(d)
	for i, v := range d {
		if v > 0 {
			r.WPlus += ranks[i]
		} else {
			r.WMinus += ranks[i]
		}
	}
	total := r.WPlus + r.WMinus
	r.Statistic = math.Min(r.WPlus, r.WMinus)
	r.Effect = (r.WPlus - r.WMinus) / total
	if n <= exactLimit {
		r.Exact = true
		r.Name += " (exact)"
		r.P = exactSignedRankP(ranks, r.WPlus)
	} else {
		r.Name += " (normal approximation)"
		mean := total / 2
		variance := float64(n)*float64(n+1)*float64(2*n+1)/24 - ties/48
		z := (r.WPlus - mean) / math.Sqrt(variance)
		r.P = math.Min(1, 2*normalSF(math.Abs(z)))
	}
	if minP := minSignedRankP(ranks); minP > Alpha {
		r.Warning = fmt.Sprintf("only %d non-zero pairs: the smallest possible p is %.3g, so no difference can reach p < %g", n, minP, Alpha)
	}
	return r, nil
}

// absRanks ranks |d| from 1, ties sharing their average rank, and returns
// sum(t³ - t) over tie groups of size t.
func absRanks(d []float64) (ranks []float64, ties float64) {
	order := make([]int, len(d))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmpFloat(math.Abs(d[a]), math.Abs(d[b]))
	})
	ranks = make([]float64, len(d))
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && math.Abs(d[order[j]]) == math.Abs(d[order[i]]) {
			j++
		}
		avg := float64(i+1+j) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			ranks[order[k]] = avg
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	return ranks, ties
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// signedRankDist is the null distribution of W+ for the given ranks: each
// rank joins W+ with probability 1/2. Ranks are halves at worst, so doubled
// they are integers; dist[s] = P(2 W+ = s).
func signedRankDist(ranks []float64) []float64 {
	total := 0
	dr := make([]int, len(ranks))
	for i, r := range ranks {
		dr[i] = int(math.Round(2 * r))
		total += dr[i]
	}
	dist := make([]float64, total+1)
	dist[0] = 1
	hi := 0
	for _, v := range dr {
		for s := hi; s >= 0; s-- {
			if dist[s] != 0 {
				dist[s+v] += dist[s] / 2
				dist[s] /= 2
			}
		}
		hi += v
	}
	return dist
}

// exactSignedRankP is twice the smaller tail of W+ at the observed value.
func exactSignedRankP(ranks []float64, wPlus float64) float64 {
	dist := signedRankDist(ranks)
	obs := int(math.Round(2 * wPlus))
	var lo, hi float64
	for s, p := range dist {
		if s <= obs {
			lo += p
		}
		if s >= obs {
			hi += p
		}
	}
	return math.Min(1, 2*math.Min(lo, hi))
}

// minSignedRankP is the smallest two-sided p any sign pattern of these ranks
// can give: all differences on one side.
func minSignedRankP(ranks []float64) float64 {
	if len(ranks) > exactLimit {
		return 0
	}
	return exactSignedRankP(ranks, 0)
}

// CohenDz is the standardized mean difference of paired samples,
// mean(x - y) / sd(x - y): the effect size that goes with a paired mean.
// NaN with fewer than 2 pairs or no spread.
func CohenDz(x, y Sample) float64 {
	xs, ys := x.Values(), y.Values()
	if len(xs) != len(ys) || len(xs) < 2 {
		return math.NaN()
	}
	d := make([]float64, len(xs))
	for i := range xs {
		d[i] = xs[i] - ys[i]
	}
	mean, sd := meanSD(d)
	if sd == 0 {
		return math.NaN()
	}
	return mean / sd
}
