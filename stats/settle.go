package stats

import (
	"fmt"
	"math"
)

// Settling a comparison: seeds are added in rounds and after every round the
// paired differences (variant minus reference, same seed and split) are
// looked at, until the comparison is decided or the cap is reached. The
// differences have an unknown variance, 4 to 48 of them, effects of interest
// around 0.01-0.03 against a per-seed SD around 0.01-0.03; docs/settle.md
// has the reasoning at length and the simulations.
//
// Method: a group-sequential design on the paired t statistic, with
// Lan-DeMets alpha spending (O'Brien-Fleming type by default) over the looks
// fixed by the round and the cap. Not an anytime-valid confidence sequence:
// the looks and the cap are known in advance, and a sequence valid at every n
// pays for it in width: at 48 seeds a normal-mixture sequence is 1.3 times
// as wide as the last boundary even when told the variance. Nor a
// distribution-free one (betting, Hoeffding): no interval valid for every
// distribution of differences in [-1, 1] can be narrower than
// 1-α^(1/n) = 0.074 after 48 zero differences (α = 0.025), seven times a
// margin of 0.01. The price is an assumption: differences near normal.
//
// Unknown variance: boundaries are computed for a known-variance statistic
// by recursive numerical integration, then calibrated for the t statistic on
// simulated null studies (see calibrateT): the t path is pivotal under
// normal differences, so this is exact up to the simulation's error.
//
// Decisions: better or worse when the two-sided test of no difference
// rejects (α/2 a side); equivalent when both one-sided tests against -margin
// and +margin reject (two one-sided tests, each at α, spent the same way).
// Each stopping rule only removes chances for the other to err, so each
// error rate is bounded by its own design. When both hold at once (a real
// gain smaller than the margin) the verdict is equivalent: the margin is the
// declared size that matters. Several comparisons share α by Bonferroni (α/m
// each): valid for any dependence (they share the reference's seeds), and
// each comparison's boundaries are fixed from the start; Holm's step-down
// would reassign the level of a decided comparison, which it cannot do when
// that comparison's equivalence null may still be true.

// SettleDesign is the plan of a sequential comparison, fixed before the first
// seed. Stored with the results, it recomputes every decision from the
// per-seed outcomes alone.
type SettleDesign struct {
	Looks       []int   // cumulative paired seeds at each look, increasing; the last is the cap
	Alpha       float64 // family-wise error rate over all Comparisons
	Comparisons int     // comparisons sharing Alpha (variants against one reference)
	Margin      float64 // equivalence margin, in the units of the differences; 0 never finds equivalence
	Spending    Spending
}

// SettleLooks is the looks of a design that adds round seeds at a time up to
// maxSeeds: round, 2 round, ..., and maxSeeds itself when round does not
// divide it.
func SettleLooks(round, maxSeeds int) ([]int, error) {
	if round < 2 {
		return nil, fmt.Errorf("stats: settle round %d: need at least 2 seeds per round to estimate a variance", round)
	}
	if maxSeeds < round {
		return nil, fmt.Errorf("stats: settle max seeds %d is below one round of %d", maxSeeds, round)
	}
	var looks []int
	for n := round; n < maxSeeds; n += round {
		looks = append(looks, n)
	}
	return append(looks, maxSeeds), nil
}

// SettleBoundary is what one look of a design requires.
type SettleBoundary struct {
	Seeds    int     // paired seeds at this look
	Fraction float64 // information fraction Seeds / cap
	// Cumulative one-sided error spent by this look, by each side of the
	// difference test (α/2m by the cap) and by each one-sided equivalence
	// test (α/m by the cap), for m comparisons.
	SpentDiff, SpentEq float64
	ZDiff, ZEq         float64 // the boundaries for a known variance
	TDiff, TEq         float64 // the boundaries for the paired t statistic, which Settle uses
}

// SettlePlan is a validated design with its boundaries.
type SettlePlan struct {
	Design SettleDesign
	Bounds []SettleBoundary
}

// PlanSettle validates d and computes its boundaries.
func PlanSettle(d SettleDesign) (SettlePlan, error) {
	switch {
	case len(d.Looks) == 0:
		return SettlePlan{}, fmt.Errorf("stats: settle design without looks")
	case d.Looks[0] < 2:
		return SettlePlan{}, fmt.Errorf("stats: settle first look at %d seeds: need at least 2", d.Looks[0])
	case !(d.Alpha > 0 && d.Alpha < 0.5):
		return SettlePlan{}, fmt.Errorf("stats: settle alpha %g: want 0 < alpha < 0.5", d.Alpha)
	case d.Comparisons < 1:
		return SettlePlan{}, fmt.Errorf("stats: settle needs at least 1 comparison, got %d", d.Comparisons)
	case !(d.Margin >= 0) || math.IsInf(d.Margin, 0):
		return SettlePlan{}, fmt.Errorf("stats: settle margin %g: want a finite margin >= 0", d.Margin)
	case d.Spending != OBrienFleming && d.Spending != Pocock:
		return SettlePlan{}, fmt.Errorf("stats: settle spending %s: want %s or %s", d.Spending, OBrienFleming, Pocock)
	}
	for i := 1; i < len(d.Looks); i++ {
		if d.Looks[i] <= d.Looks[i-1] {
			return SettlePlan{}, fmt.Errorf("stats: settle looks %v: not increasing", d.Looks)
		}
	}
	p := SettlePlan{Design: d, Bounds: make([]SettleBoundary, len(d.Looks))}
	maxSeeds := float64(d.Looks[len(d.Looks)-1])
	each := d.Alpha / float64(d.Comparisons)
	// The difference test spends each/2 on either side, the equivalence
	// tests each apiece (an intersection-union test needs no split).
	levels := []float64{each / 2, each}
	spent := make([][]float64, len(levels))
	z := make([][]float64, len(levels))
	for j, a := range levels {
		spent[j] = make([]float64, len(d.Looks))
		for i, n := range d.Looks {
			spent[j][i] = d.Spending.spent(float64(n)/maxSeeds, a)
		}
		z[j] = spendingBoundaries(d.Looks, spent[j])
	}
	t := calibrateT(d.Looks, spent, z)
	for i, n := range d.Looks {
		p.Bounds[i] = SettleBoundary{
			Seeds:     n,
			Fraction:  float64(n) / maxSeeds,
			SpentDiff: spent[0][i], SpentEq: spent[1][i],
			ZDiff: z[0][i], ZEq: z[1][i],
			TDiff: t[0][i], TEq: t[1][i],
		}
	}
	return p, nil
}

// Decision is the state of a settled comparison.
type Decision int

const (
	Continue   Decision = iota // not decided: add the next round of seeds
	Better                     // the variant beats the reference
	Worse                      // the reference beats the variant
	Equivalent                 // the difference lies within ±margin (even when it is significant)
	Undecided                  // the cap was reached without a decision
)

func (d Decision) String() string {
	switch d {
	case Continue:
		return "continue"
	case Better:
		return "better"
	case Worse:
		return "worse"
	case Equivalent:
		return "equivalent"
	case Undecided:
		return "undecided"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// SettleLook is one look of a comparison's path.
type SettleLook struct {
	SettleBoundary
	Mean, SE float64 // mean paired difference and its standard error
	// The repeated confidence interval of the difference test: better when
	// Lo > 0, worse when Hi < 0.
	Lo, Hi float64
	// The interval of the equivalence tests: equivalent when it lies
	// inside (-margin, +margin).
	EqLo, EqHi float64
	Decision   Decision // Continue except at the last look of the path
}

// Settled is a comparison's path so far and what it says.
type Settled struct {
	Decision Decision
	Seeds    int          // paired seeds used: at the stopping look, else at the last look reached
	Next     int          // paired seeds the next look needs when Decision is Continue, else 0
	Looks    []SettleLook // one per look reached, up to the stopping one
	// Skew is the sample skewness of the differences used (NaN below 3 or
	// without spread). The error rates hold for normal differences; beyond
	// |Skew| of about 1 one side's rate can double (docs/settle.md).
	Skew float64
}

// Settle walks the looks of p over diffs, the paired differences in seed
// order (the order is part of the design: a restarted run must present the
// same seeds in the same order). Looks beyond len(diffs) are not reached yet;
// differences beyond the stopping look are ignored, so more seeds arriving
// for a decided comparison never change its verdict.
func (p SettlePlan) Settle(diffs []float64) Settled {
	s := Settled{Looks: make([]SettleLook, 0, len(p.Bounds))}
	margin := p.Design.Margin
	for i, b := range p.Bounds {
		if len(diffs) < b.Seeds {
			s.Next = b.Seeds
			break
		}
		mean, sd := meanSD(diffs[:b.Seeds])
		l := SettleLook{SettleBoundary: b, Mean: mean, SE: sd / math.Sqrt(float64(b.Seeds))}
		l.Lo, l.Hi = l.Mean-b.TDiff*l.SE, l.Mean+b.TDiff*l.SE
		l.EqLo, l.EqHi = l.Mean-b.TEq*l.SE, l.Mean+b.TEq*l.SE
		switch {
		case l.EqLo > -margin && l.EqHi < margin:
			l.Decision = Equivalent
		case l.Lo > 0:
			l.Decision = Better
		case l.Hi < 0:
			l.Decision = Worse
		case i == len(p.Bounds)-1:
			l.Decision = Undecided
		}
		s.Looks = append(s.Looks, l)
		s.Seeds = b.Seeds
		if l.Decision != Continue {
			s.Decision = l.Decision
			break
		}
	}
	s.Skew = skewness(diffs[:s.Seeds])
	return s
}
