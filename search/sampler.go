package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Direction says which way the objective is better.
type Direction int

const (
	Maximize Direction = iota // accuracy, the default
	Minimize                  // a loss
)

// score orders values best first whatever the direction: lower is better,
// and NaN is worst.
func (d Direction) score(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return math.Inf(1)
	case d == Minimize:
		return v
	}
	return -v
}

// State is how a finished trial ended.
type State int

const (
	Complete State = iota // ran to its end; Value is the objective
	Pruned                // stopped by a pruner; Value is its last reported value
)

// Trial is one finished trial of a search, as the samplers see it.
type Trial struct {
	N     int     // the claim's index: the search's chronological order
	Point Point   //
	State State   //
	Value float64 // the objective, or the last value a pruned trial reported
	Epoch int     // Pruned: the epoch of that last value
}

// Sampler draws the point of claim n of a search.
type Sampler interface {
	// Sample is a pure function of its arguments: history holds the trials
	// finished before claim n was made, in any order.
	Sample(space Space, seed uint64, n int, history []Trial) (Point, error)
}

// Random draws every parameter independently and uniformly: uniform on
// [Low, High], uniform in the logarithm for LogUniform, each Int value or
// Choice alike likely (a log Int uniform in the logarithm of its widened
// range, as Optuna's RandomSampler does).
type Random struct{}

// Sample ignores the history.
func (Random) Sample(space Space, seed uint64, n int, _ []Trial) (Point, error) {
	if err := checkClaim(n); err != nil {
		return nil, err
	}
	s := newStream(seed, n)
	pt := make(Point, len(space.params))
	for i, p := range space.params {
		pt[i] = p.random(s)
	}
	return pt, nil
}

func (p Param) random(s stream) float64 {
	if p.Kind == Choice {
		return float64(s.index(len(p.Choices)))
	}
	lo, hi := p.bounds()
	return p.outside(lo + s.open()*(hi-lo))
}

func checkClaim(n int) error {
	if n < 0 {
		return fmt.Errorf("search: claim index %d is negative", n)
	}
	return nil
}

// sortedHistory checks the claim index and the history against the space
// and returns the history in claim order.
func sortedHistory(space Space, n int, history []Trial) ([]Trial, error) {
	if err := checkClaim(n); err != nil {
		return nil, err
	}
	h := slices.Clone(history)
	slices.SortFunc(h, func(a, b Trial) int { return cmp.Compare(a.N, b.N) })
	for i, t := range h {
		if t.N < 0 || t.N >= n {
			return nil, fmt.Errorf("search: trial %d cannot be in the history of claim %d", t.N, n)
		}
		if i > 0 && t.N == h[i-1].N {
			return nil, fmt.Errorf("search: trial %d is in the history twice", t.N)
		}
		if err := space.checkPoint(t.Point); err != nil {
			return nil, fmt.Errorf("trial %d: %w", t.N, err)
		}
	}
	return h, nil
}

// Top returns the best k complete trials, best first (ties by claim
// order): the configurations a confirmation re-runs. Pruned trials never
// count, since their value is from an earlier epoch than the others'.
func Top(trials []Trial, k int, d Direction) []Trial {
	var c []Trial
	for _, t := range trials {
		if t.State == Complete {
			c = append(c, t)
		}
	}
	slices.SortFunc(c, func(a, b Trial) int {
		return cmp.Or(cmp.Compare(d.score(a.Value), d.score(b.Value)), cmp.Compare(a.N, b.N))
	})
	return c[:max(0, min(k, len(c)))]
}
