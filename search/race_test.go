package search

import (
	"math"
	"testing"
)

// A run of five trials: the third was pruned, the best (0.8) comes last.
var race = []Spent{{2, 0.5}, {1, 0.7}, {0.5, math.NaN()}, {3, 0.6}, {1.5, 0.8}}

func TestReached(t *testing.T) {
	for _, tc := range []struct {
		budget float64
		want   float64
	}{
		{1, math.NaN()}, // the first trial alone takes 2 s
		{2, 0.5},
		{3, 0.7},
		{6.4, 0.7}, // the fourth ends at 6.5 s
		{6.5, 0.7},
		{7.9, 0.7},
		{8, 0.8},
		{math.Inf(1), 0.8},
	} {
		got := Reached(race, tc.budget, Maximize)
		if !(got == tc.want || math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("Reached(%g) = %g, want %g", tc.budget, got, tc.want)
		}
	}
	if got := Reached(race, math.Inf(1), Minimize); got != 0.5 {
		t.Errorf("minimising, reached %g, want 0.5", got)
	}
}

func TestTimeToReach(t *testing.T) {
	for _, tc := range []struct {
		target  float64
		seconds float64
		ok      bool
	}{
		{0.5, 2, true},
		{0.65, 3, true}, // the second trial's 0.7
		{0.75, 8, true},
		{0.9, 8, false}, // never: the whole run's compute
	} {
		s, ok := TimeToReach(race, tc.target, Maximize)
		if s != tc.seconds || ok != tc.ok {
			t.Errorf("TimeToReach(%g) = %g, %v; want %g, %v", tc.target, s, ok, tc.seconds, tc.ok)
		}
	}
	if s, ok := TimeToReach(race, 0.55, Minimize); s != 2 || !ok {
		t.Errorf("minimising to 0.55: %g, %v", s, ok)
	}
	if got := Total(race); got != 8 {
		t.Errorf("Total = %g, want 8", got)
	}
}
