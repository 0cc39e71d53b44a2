package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// PairedUnit is one test photo's record under two variants: how many times
// it was tested (one per seed, or per seed whose fold holds it) and how many
// of those A and B got it right.
type PairedUnit struct {
	N, A, B int
}

// Interval is a two-sided confidence interval of an estimate.
type Interval struct {
	Estimate float64
	Lo, Hi   float64
	Level    float64 // e.g. 0.95
	Reps     int
}

func (iv Interval) String() string {
	return fmt.Sprintf("%+.3f [%+.3f, %+.3f]", iv.Estimate, iv.Lo, iv.Hi)
}

// PairedBootstrap is the percentile bootstrap interval of the accuracy
// difference acc(A) - acc(B) = (sum A - sum B) / sum N. It resamples photos,
// not trials: a photo keeps all its replicate outcomes under both variants
// together, so the pairing of A and B on the same photo (and the correlation
// across seeds) survives resampling. Quantiles interpolate linearly between
// order statistics (numpy's default). The generator is PCG seeded with seed,
// so the interval is the same on every run.
func PairedBootstrap(units []PairedUnit, reps int, level float64, seed uint64) (Interval, error) {
	if len(units) == 0 {
		return Interval{}, fmt.Errorf("stats: bootstrap of no photos")
	}
	if reps < 1 || !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("stats: bootstrap needs reps >= 1 and 0 < level < 1, got %d, %g", reps, level)
	}
	diff := func(pick func(i int) PairedUnit) float64 {
		var n, d int
		for i := range units {
			u := pick(i)
			n += u.N
			d += u.A - u.B
		}
		if n == 0 {
			return 0
		}
		return float64(d) / float64(n)
	}
	iv := Interval{Level: level, Reps: reps, Estimate: diff(func(i int) PairedUnit { return units[i] })}
	r := rand.New(rand.NewPCG(seed, 0xb007))
	draws := make([]float64, reps)
	for k := range draws {
		draws[k] = diff(func(int) PairedUnit { return units[r.IntN(len(units))] })
	}
	slices.Sort(draws)
	iv.Lo = quantile(draws, (1-level)/2)
	iv.Hi = quantile(draws, 1-(1-level)/2)
	return iv, nil
}

// Median of xs (NaN when empty), the mean of the middle two for an even count.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return quantile(slices.Sorted(slices.Values(xs)), 0.5)
}

// quantile of sorted xs at q with linear interpolation (numpy "linear").
func quantile(xs []float64, q float64) float64 {
	pos := q * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(xs)-1)
	return xs[lo] + (xs[hi]-xs[lo])*(pos-float64(lo))
}
