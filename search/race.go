package search

import "math"

// Spent is one trial of a run of a search (or of a grid), in the order the
// run made them: the compute it took and the value it can be chosen for.
type Spent struct {
	CPU   float64 // seconds of the head's fit
	Value float64 // its objective; NaN when it cannot be chosen (pruned, failed)
}

// Reached is the best value a run has reached once it has spent budget
// seconds (all of it when budget is +Inf): the best of the trials whose
// cumulative compute, their own included, is within budget. NaN when none
// is.
func Reached(run []Spent, budget float64, d Direction) float64 {
	best, spent := math.NaN(), 0.0
	for _, t := range run {
		if spent += t.CPU; spent > budget {
			break
		}
		if !math.IsNaN(t.Value) && (math.IsNaN(best) || d.score(t.Value) < d.score(best)) {
			best = t.Value
		}
	}
	return best
}

// TimeToReach is the compute a run has spent when its best first reaches
// target (at least target when maximising, at most when minimising); ok is
// false when it never does.
func TimeToReach(run []Spent, target float64, d Direction) (seconds float64, ok bool) {
	for _, t := range run {
		seconds += t.CPU
		if !math.IsNaN(t.Value) && d.score(t.Value) <= d.score(target) {
			return seconds, true
		}
	}
	return seconds, false
}

// Total is the compute of a whole run.
func Total(run []Spent) float64 {
	var s float64
	for _, t := range run {
		s += t.CPU
	}
	return s
}
