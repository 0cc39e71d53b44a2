package search

import (
	"fmt"
	"math"
	"slices"

	"github.com/dogrun/dogrun/stats"
)

// Curve is one trial's validation metric after each epoch so far: Values[0]
// after epoch 1. Curves have a value for every epoch; the runner asks a
// pruner after each one.
type Curve struct {
	Values   []float64
	Complete bool // trained to its end; false while running or once pruned
}

// Pruner decides whether a running trial stops after its latest epoch.
type Pruner interface {
	// Prune looks at the trial's curve up to its latest epoch,
	// len(curve), and at the curves of the search's other trials as they
	// stand (running, pruned or complete; not the trial itself).
	Prune(curve []float64, others []Curve) bool
	// Asks reports whether Prune can stop a trial after epoch at all, so a
	// runner fetches the others' curves only then.
	Asks(epoch int) bool
	Check() error
}

// Median is Optuna's MedianPruner counted in epochs: after the warm-up, at
// every Interval-th epoch, a trial stops when its best value so far is
// worse than the median of the complete trials' values at the same epoch.
// Optuna counts steps from 0: warm-up steps w are our first w epochs.
type Median struct {
	StartupTrials int // no pruning before this many trials are complete (Optuna: 5)
	WarmupEpochs  int // no pruning in the first epochs (0)
	Interval      int // epochs between checks, counted from the first after the warm-up (1)
	MinTrials     int // fewest complete trials with a value at the epoch to decide (1)
	Direction     Direction
}

// NewMedian is Median with Optuna's defaults, maximising.
func NewMedian() Median {
	return Median{StartupTrials: 5, Interval: 1, MinTrials: 1}
}

// Check reports settings the rule cannot run with.
func (m Median) Check() error {
	switch {
	case m.StartupTrials < 0:
		return fmt.Errorf("search: median startup trials must be at least 0, got %d", m.StartupTrials)
	case m.WarmupEpochs < 0:
		return fmt.Errorf("search: median warm-up epochs must be at least 0, got %d", m.WarmupEpochs)
	case m.Interval < 1:
		return fmt.Errorf("search: median interval must be at least 1 epoch, got %d", m.Interval)
	case m.MinTrials < 1:
		return fmt.Errorf("search: median min trials must be at least 1, got %d", m.MinTrials)
	}
	return nil
}

// Asks is every Interval-th epoch after the warm-up.
func (m Median) Asks(epoch int) bool {
	return m.Check() == nil && epoch > m.WarmupEpochs && (epoch-1-m.WarmupEpochs)%m.Interval == 0
}

// Prune applies the rule at epoch len(curve); settings that fail Check
// never prune.
func (m Median) Prune(curve []float64, others []Curve) bool {
	if m.Check() != nil {
		return false
	}
	epoch := len(curve)
	var complete []Curve
	for _, c := range others {
		if c.Complete {
			complete = append(complete, c)
		}
	}
	if !m.Asks(epoch) || len(complete) == 0 || len(complete) < m.StartupTrials {
		return false
	}
	best := math.NaN()
	for _, v := range curve {
		if !math.IsNaN(v) && (math.IsNaN(best) || m.Direction.score(v) < m.Direction.score(best)) {
			best = v
		}
	}
	if math.IsNaN(best) {
		return true
	}
	var at []float64
	for _, c := range complete {
		if len(c.Values) >= epoch {
			at = append(at, c.Values[epoch-1])
		}
	}
	if len(at) < m.MinTrials {
		return false
	}
	med := stats.Median(slices.DeleteFunc(at, math.IsNaN))
	if math.IsNaN(med) {
		return false
	}
	return m.Direction.score(best) > m.Direction.score(med)
}

// ASHA is asynchronous successive halving (Li et al. 2020) as a pruner, as
// Optuna's SuccessiveHalvingPruner runs it. Rung k ends at epoch
// MinResource × ReductionFactor^(MinEarlyStoppingRate+k). A trial reaching
// a rung's epoch goes on only if its value there is among the best
// max(1, ⌊m/ReductionFactor⌋) of the m values at that epoch of every trial
// that has reached it so far, itself included; otherwise it stops. The
// paper's scheduler could later resume a stopped trial once enough others
// fill the rung; a pruner cannot, so, as in Optuna, a stop is final.
type ASHA struct {
	MinResource          int // epochs of the first rung's unit, r in the paper (1)
	ReductionFactor      int // η: about 1/η of a rung goes on (Optuna: 4)
	MinEarlyStoppingRate int // s: the first rung ends at r·η^s epochs (0)
	Direction            Direction
}

// NewASHA is ASHA with Optuna's defaults, maximising, and a first rung of
// one epoch (Optuna's "auto" derives it from the first complete trial).
func NewASHA() ASHA {
	return ASHA{MinResource: 1, ReductionFactor: 4}
}

// Check reports settings ASHA cannot run with.
func (a ASHA) Check() error {
	switch {
	case a.MinResource < 1:
		return fmt.Errorf("search: asha min resource must be at least 1 epoch, got %d", a.MinResource)
	case a.ReductionFactor < 2:
		return fmt.Errorf("search: asha reduction factor must be at least 2, got %d", a.ReductionFactor)
	case a.MinEarlyStoppingRate < 0:
		return fmt.Errorf("search: asha min early-stopping rate must be at least 0, got %d", a.MinEarlyStoppingRate)
	}
	return nil
}

// Rungs returns the epochs at which rungs end, up to maxEpochs (none for
// settings that fail Check).
func (a ASHA) Rungs(maxEpochs int) []int {
	if a.Check() != nil {
		return nil
	}
	var rungs []int
	for e := a.MinResource * pow(a.ReductionFactor, a.MinEarlyStoppingRate); e <= maxEpochs; e *= a.ReductionFactor {
		rungs = append(rungs, e)
	}
	return rungs
}

func pow(b, e int) int {
	p := 1
	for range e {
		p *= b
	}
	return p
}

// Asks is a rung's last epoch.
func (a ASHA) Asks(epoch int) bool {
	return epoch > 0 && slices.Contains(a.Rungs(epoch), epoch)
}

// Prune decides at epoch len(curve): only a rung's last epoch can stop a
// trial.
func (a ASHA) Prune(curve []float64, others []Curve) bool {
	epoch := len(curve)
	if !a.Asks(epoch) {
		return false
	}
	v := curve[epoch-1]
	if math.IsNaN(v) {
		return true
	}
	competing := []float64{a.Direction.score(v)}
	for _, c := range others {
		if len(c.Values) >= epoch && !math.IsNaN(c.Values[epoch-1]) {
			competing = append(competing, a.Direction.score(c.Values[epoch-1]))
		}
	}
	slices.Sort(competing)
	keep := max(len(competing)/a.ReductionFactor, 1)
	return a.Direction.score(v) > competing[keep-1]
}
