package search

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// step is one report: trial i finished epoch e.
type step struct{ trial, epoch int }

// sequential is the reports of trials run one after another, each for
// epochs epochs (or until pruned).
func sequential(trials, epochs int) []step {
	var s []step
	for i := range trials {
		for e := 1; e <= epochs; e++ {
			s = append(s, step{i, e})
		}
	}
	return s
}

// simulate runs a search's reports in the given order against a pruner, as
// the runner will: after each epoch but the last the pruner sees the
// trial's curve so far and every other trial's as it stands; a pruned
// trial reports no more. It returns the epoch each trial was pruned at (0:
// ran to the end).
func simulate(pr Pruner, curves [][]float64, order []step) []int {
	state := make([]Curve, len(curves))
	pruned := make([]int, len(curves))
	for _, s := range order {
		if pruned[s.trial] > 0 {
			continue
		}
		c := &state[s.trial]
		c.Values = curves[s.trial][:s.epoch]
		if s.epoch == len(curves[s.trial]) {
			c.Complete = true // nothing left to save: the last epoch is not judged
			continue
		}
		var others []Curve
		for j := range state {
			if j != s.trial && len(state[j].Values) > 0 {
				others = append(others, state[j])
			}
		}
		if pr.Prune(c.Values, others) {
			pruned[s.trial] = s.epoch
		}
	}
	return pruned
}

// ashaCurves are eight trials of ten epochs, run one after another. Only
// epochs 1, 3 and 9 matter to ASHA with r = 1, η = 3, s = 0; the other
// epochs are filler.
var ashaCurves = [][]float64{
	{0.52, 0.54, 0.56, 0.58, 0.60, 0.62, 0.64, 0.66, 0.68, 0.70}, // T0
	{0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90}, // T1
	{0.60, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60}, // T2
	{0.31, 0.32, 0.33, 0.34, 0.35, 0.36, 0.37, 0.38, 0.39, 0.40}, // T3
	{0.58, 0.61, 0.64, 0.67, 0.70, 0.73, 0.76, 0.79, 0.82, 0.85}, // T4
	{0.28, 0.36, 0.44, 0.52, 0.60, 0.68, 0.76, 0.84, 0.92, 0.95}, // T5
	{0.63, 0.64, 0.65, 0.66, 0.67, 0.68, 0.69, 0.70, 0.71, 0.72}, // T6
	{0.61, 0.63, 0.65, 0.67, 0.69, 0.71, 0.73, 0.75, 0.77, 0.79}, // T7
}

// By hand, rungs ending at epochs 1, 3 and 9; a trial goes on when its
// value is among the best max(1, ⌊m/3⌋) of the m values at that epoch:
//
//	T0  e1 {.52}: m=1, best 1 -> on; e3 {.56} on; e9 {.68} on; completes.
//	T1  e1 {.45 .52}: best 1 is .52 -> pruned at 1 (it would have ended best).
//	T2  e1 {.60 .52 .45}: best 1 -> on; e3 {.60 .56}: on; e9 {.60 .68}: pruned at 9.
//	T3  e1 {.31 .52 .45 .60}: m=4, best 1 is .60 -> pruned at 1.
//	T4  e1 {.58 .52 .45 .60 .31}: m=5, best 1 -> pruned at 1.
//	T5  e1 {.28 .52 .45 .60 .31 .58}: m=6, best 2 are .60 .58 -> pruned at 1.
//	T6  e1 {.63 ...}: m=7, best 2 .63 .60 -> on; e3 {.65 .56 .60}: on;
//	    e9 {.71 .68 .60}: on; completes.
//	T7  e1 {.61 ...}: m=8, best 2 .63 .61 -> on; e3 {.65 .56 .60 .65}: m=4,
//	    best 1 is .65, a tie with T6, which goes on; e9 {.77 .68 .60 .71}: on.
func TestASHAByHand(t *testing.T) {
	a := ASHA{MinResource: 1, ReductionFactor: 3}
	got := simulate(a, ashaCurves, sequential(8, 10))
	if want := []int{0, 1, 9, 1, 1, 1, 0, 0}; !cmp.Equal(got, want) {
		t.Errorf("pruned at %v, want %v", got, want)
	}
}

// Asynchrony: T0 and T1 run side by side, each reporting epoch e before
// the other reports e+1. Which one reaches a rung first matters: alone at
// epoch 1 a trial goes on; the second to arrive is compared with it.
//
//	T1 first at e1 {.45}: on. T0 at e1 {.52 .45}: best 1 -> on.
//	T1 first at e3 {.55}: on. T0 at e3 {.56 .55}: on.
//	T1 first at e9 {.85}: on. T0 at e9 {.68 .85}: pruned at 9.
//
// Run one after the other (T0 first), T1 was pruned at epoch 1 instead.
func TestASHAAsynchronous(t *testing.T) {
	a := ASHA{MinResource: 1, ReductionFactor: 3}
	var order []step
	for e := 1; e <= 10; e++ {
		order = append(order, step{1, e}, step{0, e})
	}
	if got, want := simulate(a, ashaCurves[:2], order), []int{9, 0}; !cmp.Equal(got, want) {
		t.Errorf("side by side: pruned at %v, want %v", got, want)
	}
}

// Minimising a loss: the same ranks reversed. A NaN at a rung stops the
// trial; another trial's NaN does not compete.
func TestASHAMinimiseAndNaN(t *testing.T) {
	a := ASHA{MinResource: 1, ReductionFactor: 2, Direction: Minimize}
	others := []Curve{{Values: []float64{0.9, 0.5}}, {Values: []float64{math.NaN(), math.NaN()}}}
	// At epoch 2 (rungs at 1, 2, 4): {0.6, 0.5}, m=2, best 1 is 0.5.
	if !a.Prune([]float64{0.9, 0.6}, others) {
		t.Error("0.6 against 0.5 went on")
	}
	if a.Prune([]float64{0.9, 0.4}, others) {
		t.Error("0.4 against 0.5 was pruned")
	}
	if a.Prune([]float64{0.9, 0.6, 0.7}, others) {
		t.Error("pruned at epoch 3, which ends no rung")
	}
	if !a.Prune([]float64{math.NaN()}, nil) {
		t.Error("a NaN at a rung went on")
	}
}

func TestASHARungs(t *testing.T) {
	for _, c := range []struct {
		a    ASHA
		max  int
		want []int
	}{
		{NewASHA(), 100, []int{1, 4, 16, 64}},
		{ASHA{MinResource: 2, ReductionFactor: 3, MinEarlyStoppingRate: 1}, 100, []int{6, 18, 54}},
		{ASHA{MinResource: 5, ReductionFactor: 2}, 4, nil},
	} {
		if got := c.a.Rungs(c.max); !cmp.Equal(got, c.want) {
			t.Errorf("%+v up to %d: rungs %v, want %v", c.a, c.max, got, c.want)
		}
	}
}

// Three complete trials of six epochs, then trials judged against them
// with 2 startup trials, 1 warm-up epoch and an interval of 2: checks at
// epochs 2, 4 and 6 only (Optuna's steps 1, 3, 5). Medians of the complete
// trials: epoch 2 {.50 .45 .47} -> .47; epoch 4 {.65 .62} -> .635 (the
// third stopped early after 3 epochs); epoch 6 {.72 .70} -> .71.
var medianComplete = []Curve{
	{Values: []float64{0.40, 0.50, 0.60, 0.65, 0.70, 0.72}, Complete: true},
	{Values: []float64{0.30, 0.45, 0.55, 0.62, 0.66, 0.70}, Complete: true},
	{Values: []float64{0.35, 0.47, 0.49}, Complete: true},
	{Values: []float64{0.01, 0.01, 0.01, 0.01}}, // running: never counts
}

func TestMedianByHand(t *testing.T) {
	m := Median{StartupTrials: 2, WarmupEpochs: 1, Interval: 2, MinTrials: 1}
	for _, c := range []struct {
		name  string
		curve []float64
		want  int // the epoch it is pruned at, 0 for never
	}{
		// Best so far .48 > .47 at 2; at 4 the best is .60 < .635.
		{"slow", []float64{0.20, 0.48, 0.10, 0.60, 0.90, 0.90}, 4},
		// Its best is its first value: the rule looks at the best so far.
		{"early peak", []float64{0.90, 0.10, 0.10, 0.10, 0.10, 0.10}, 0},
		{"below at 2", []float64{0.10, 0.46, 0.99, 0.99, 0.99, 0.99}, 2},
		// Bad at epochs 1, 3 and 5, never checked there.
		{"bad off the checks", []float64{0.00, 0.50, 0.00, 0.70, 0.00, 0.80}, 0},
		{"equal to the median", []float64{0.00, 0.47, 0.00, 0.00, 0.00, 0.00}, 4},
		{"NaN", []float64{math.NaN(), math.NaN(), 0.9, 0.9, 0.9, 0.9}, 2},
	} {
		got := 0
		for e := 1; e <= len(c.curve) && got == 0; e++ {
			if m.Prune(c.curve[:e], medianComplete) {
				got = e
			}
		}
		if got != c.want {
			t.Errorf("%s: pruned at epoch %d, want %d", c.name, got, c.want)
		}
	}
	slow := []float64{0.20, 0.48, 0.10, 0.60}
	if m.Prune(slow, medianComplete[:1]) {
		t.Error("pruned with 1 complete trial of 2 startup trials")
	}
	m.MinTrials = 3
	if m.Prune(slow, medianComplete) {
		t.Error("pruned with 2 complete values at epoch 4 of 3 required")
	}
}

// Sequential runs of the ASHA family under the median rule with Optuna's
// defaults (5 startup trials): T0-T4 complete without a check; then T5
// (.28 at epoch 1 against the median .52 of T0-T4's) is pruned at epoch 1;
// T6 (.63, .64 ...) stays above; T7 at epoch 1: .61 against the median of
// T0-T4, T6 {.52 .45 .60 .31 .58 .63} = .55 -> on, and stays on.
func TestMedianDefaults(t *testing.T) {
	got := simulate(NewMedian(), ashaCurves, sequential(8, 10))
	if want := []int{0, 0, 0, 0, 0, 1, 0, 0}; !cmp.Equal(got, want) {
		t.Errorf("pruned at %v, want %v", got, want)
	}
}

func TestPrunerChecks(t *testing.T) {
	for _, p := range []Pruner{
		Median{StartupTrials: -1, Interval: 1, MinTrials: 1},
		Median{WarmupEpochs: -1, Interval: 1, MinTrials: 1},
		Median{Interval: 0, MinTrials: 1},
		Median{Interval: 1, MinTrials: 0},
		ASHA{MinResource: 0, ReductionFactor: 2},
		ASHA{MinResource: 1, ReductionFactor: 1},
		ASHA{MinResource: 1, ReductionFactor: 2, MinEarlyStoppingRate: -1},
	} {
		if p.Check() == nil {
			t.Errorf("%+v passed its check", p)
		}
	}
	// Settings that fail the check neither loop nor divide by zero.
	if got := (ASHA{MinResource: 1, ReductionFactor: 1}).Rungs(10); got != nil {
		t.Errorf("rungs of η = 1: %v", got)
	}
	if (Median{Interval: 0}).Prune([]float64{0}, medianComplete) {
		t.Error("interval 0 pruned")
	}
	if NewMedian().Check() != nil || NewASHA().Check() != nil || NewTPE().Check() != nil {
		t.Error("a default fails its check")
	}
}

// Asks names the epochs at which Prune can stop a trial, and no others.
func TestPrunersAsk(t *testing.T) {
	asks := func(p Pruner) []int {
		var out []int
		for e := range 31 {
			if p.Asks(e) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, tc := range []struct {
		p    Pruner
		want []int
	}{
		{ASHA{MinResource: 1, ReductionFactor: 3}, []int{1, 3, 9, 27}},
		{ASHA{MinResource: 2, ReductionFactor: 2, MinEarlyStoppingRate: 1}, []int{4, 8, 16}},
		{Median{StartupTrials: 1, WarmupEpochs: 2, Interval: 10, MinTrials: 1}, []int{3, 13, 23}},
		{Median{Interval: 0}, nil}, // fails Check
	} {
		if got := asks(tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("%+v asks at %v, want %v", tc.p, got, tc.want)
		}
	}
}
