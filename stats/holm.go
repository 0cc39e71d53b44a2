package stats

import (
	"math"
	"slices"
)

// Holm adjusts p-values for testing several hypotheses at once with Holm's
// step-down method, which controls the family-wise error rate without
// Bonferroni's loss of power: with p sorted ascending, the i-th smallest
// (from 1) is multiplied by m - i + 1, made non-decreasing and capped at 1.
// A hypothesis is rejected at level alpha when its adjusted p <= alpha. NaN
// p-values (tests that could not run) stay NaN and do not count in m.
func Holm(p []float64) []float64 {
	out := make([]float64, len(p))
	var idx []int
	for i, v := range p {
		out[i] = math.NaN()
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmpFloat(p[a], p[b]) })
	m := len(idx)
	running := 0.0
	for k, i := range idx {
		running = math.Max(running, math.Min(1, float64(m-k)*p[i]))
		out[i] = running
	}
	return out
}
