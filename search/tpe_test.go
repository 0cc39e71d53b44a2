package search

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var close12 = cmpopts.EquateApprox(0, 1e-12)

func oneParam(t *testing.T, p Param) Space {
	t.Helper()
	s, err := NewSpace(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGamma(t *testing.T) {
	// min(ceil(n/10), 25)
	for n, want := range map[int]int{0: 0, 1: 1, 10: 1, 11: 2, 25: 3, 100: 10, 241: 25, 1000: 25} {
		if got := gamma(n); got != want {
			t.Errorf("gamma(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestWeights(t *testing.T) {
	if got := weights(3); !cmp.Equal(got, []float64{1, 1, 1}) {
		t.Errorf("weights(3) = %v", got)
	}
	// 26: one old observation below the 25 newest, at the ramp's start 1/26.
	w := weights(26)
	if w[0] != 1.0/26 || w[1] != 1 || w[25] != 1 {
		t.Errorf("weights(26) = %v", w)
	}
	// 28: a ramp of 3 from 1/28 to 1: 1/28, (1/28+1)/2, 1.
	w = weights(28)
	if want := []float64{1.0 / 28, (1.0/28 + 1) / 2, 1, 1}; !cmp.Equal(w[:4], want, close12) {
		t.Errorf("weights(28)[:4] = %v, want %v", w[:4], want)
	}
}

// Twelve finished trials, maximising: gamma(12) = 2, so the two best
// complete ones are below. With one complete trial among eleven, the second
// place below goes to the pruned trial that got furthest, and among those
// pruned at the same epoch to the better value.
func TestSplit(t *testing.T) {
	tr := func(n int, s State, v float64, epoch int) Trial {
		return Trial{N: n, State: s, Value: v, Epoch: epoch}
	}
	nums := func(ts []Trial) []int {
		var out []int
		for _, t := range ts {
			out = append(out, t.N)
		}
		return out
	}
	h := []Trial{
		tr(0, Complete, 0.50, 0), tr(1, Complete, 0.71, 0), tr(2, Pruned, 0.90, 1), tr(3, Complete, 0.65, 0),
		tr(4, Complete, 0.72, 0), tr(5, Complete, 0.30, 0), tr(6, Pruned, 0.20, 4), tr(7, Complete, 0.70, 0),
		tr(8, Complete, 0.10, 0), tr(9, Complete, 0.69, 0), tr(10, Complete, math.NaN(), 0), tr(11, Complete, 0.40, 0),
	}
	below, above := NewTPE().split(h)
	if !cmp.Equal(nums(below), []int{1, 4}) || len(above) != 10 || nums(above)[0] != 0 || nums(above)[9] != 11 {
		t.Errorf("maximise: below %v above %v", nums(below), nums(above))
	}
	if below, _ := (TPE{Direction: Minimize}).split(h); !cmp.Equal(nums(below), []int{5, 8}) {
		t.Errorf("minimise: below %v, want [5 8] (claim order)", nums(below))
	}
	h = []Trial{
		tr(0, Pruned, 0.99, 2), tr(1, Pruned, 0.40, 5), tr(2, Complete, 0.10, 0), tr(3, Pruned, 0.60, 5),
		tr(4, Pruned, 0.80, 3), tr(5, Pruned, 0.70, 1), tr(6, Pruned, 0.20, 4), tr(7, Pruned, 0.50, 2),
		tr(8, Pruned, 0.55, 2), tr(9, Pruned, 0.35, 1), tr(10, Pruned, 0.90, 4),
	}
	if below, _ := NewTPE().split(h); !cmp.Equal(nums(below), []int{2, 3}) {
		t.Errorf("pruned ranking: below %v, want [2 3]", nums(below))
	}
}

// The Parzen estimator of a Uniform [0, 10] fitted to 1, 4, 6.5 and 7, by
// hand. Centres with the prior's (5) sorted: 1 4 5 6.5 7, neighbours 0 and
// 10 at the ends. Larger gap to a neighbour: 1 -> max(1, 3) = 3, 4 -> max(3,
// 1) = 3, 6.5 -> max(1.5, 0.5) = 1.5, 7 -> max(0.5, 3) = 3. Without the
// endpoints rule the lowest and highest centres take their inner gap: 1 ->
// 3, 7 -> 0.5. The magic clip raises each to at least 10/min(100, 4+2) =
// 10/6. The prior: centre 5, bandwidth 10. Weights all 1/5.
func TestParzenNumeric(t *testing.T) {
	p := oneParam(t, Param{Name: "x", Kind: Uniform, Low: 0, High: 10}).Params()[0]
	obs := []float64{1, 4, 6.5, 7}
	for _, c := range []struct {
		endpoints bool
		sigma     []float64
	}{
		{false, []float64{3, 3, 10.0 / 6, 10.0 / 6, 10}},
		{true, []float64{3, 3, 10.0 / 6, 3, 10}},
	} {
		tp := NewTPE()
		tp.ConsiderEndpoints = c.endpoints
		e := tp.parzen(p, obs)
		if !cmp.Equal(e.mu, []float64{1, 4, 6.5, 7, 5}) || !cmp.Equal(e.sigma, c.sigma, close12) ||
			!cmp.Equal(e.w, []float64{0.2, 0.2, 0.2, 0.2, 0.2}, close12) || e.lo != 0 || e.hi != 10 {
			t.Errorf("endpoints %v: mu %v sigma %v w %v [%g, %g], want sigma %v", c.endpoints, e.mu, e.sigma, e.w, e.lo, e.hi, c.sigma)
		}
	}
	// No observations: the prior alone.
	e := NewTPE().parzen(p, nil)
	if !cmp.Equal(e.mu, []float64{5}) || !cmp.Equal(e.sigma, []float64{10}) || !cmp.Equal(e.w, []float64{1}) {
		t.Errorf("empty: mu %v sigma %v w %v", e.mu, e.sigma, e.w)
	}
	// A prior weight of 3 against two observations: 1/5, 1/5, 3/5.
	tp := NewTPE()
	tp.PriorWeight = 3
	if e := tp.parzen(p, []float64{1, 9}); !cmp.Equal(e.w, []float64{0.2, 0.2, 0.6}, close12) {
		t.Errorf("prior weight 3: w %v", e.w)
	}
}

// Log and Int parameters live on their inside line: LogUniform [1e-4, 1e-1]
// on [ln 1e-4, ln 1e-1]; an Int [0, 8] widened by half a step to [-0.5,
// 8.5]; a log Int [1, 64] on [ln 0.5, ln 64.5].
func TestParzenInsideLine(t *testing.T) {
	lr := oneParam(t, Param{Name: "lr", Kind: LogUniform, Low: 1e-4, High: 1e-1}).Params()[0]
	e := NewTPE().parzen(lr, []float64{1e-3})
	lo, hi := math.Log(1e-4), math.Log(1e-1)
	// One observation at ln 1e-3 below the prior at the middle, ln 10^-2.5;
	// its inner gap 0.5 ln 10 is raised by the clip to (hi-lo)/3 = ln 10.
	want := []float64{math.Log(1e-3), (lo + hi) / 2}
	if !cmp.Equal(e.mu, want, close12) || !cmp.Equal(e.sigma, []float64{math.Log(10), hi - lo}, close12) {
		t.Errorf("loguniform: mu %v sigma %v", e.mu, e.sigma)
	}
	v := oneParam(t, Param{Name: "v", Kind: Int, Low: 0, High: 8}).Params()[0]
	if e := NewTPE().parzen(v, []float64{2}); e.lo != -0.5 || e.hi != 8.5 || !cmp.Equal(e.sigma, []float64{3, 9}) {
		t.Errorf("int: [%g, %g] sigma %v", e.lo, e.hi, e.sigma)
	}
	l := oneParam(t, Param{Name: "v", Kind: Int, Low: 1, High: 64, Log: true}).Params()[0]
	if e := NewTPE().parzen(l, nil); e.lo != math.Log(0.5) || e.hi != math.Log(64.5) {
		t.Errorf("log int: [%g, %g]", e.lo, e.hi)
	}
}

// Choices 0, 0 and 2 of three, prior weight 1: each observation's kernel
// puts 1 + 1/4 on its choice and 1/4 on the others (sum 7/4), the prior is
// uniform, the four kernels weigh 1/4 each. So P(0) = (5/7 + 5/7 + 1/7 +
// 1/3)/4 = 10/21, P(1) = (3/7 + 1/3)/4 = 4/21, P(2) = (1/7 + 1/7 + 5/7 +
// 1/3)/4 = 7/21.
func TestParzenChoice(t *testing.T) {
	h := oneParam(t, Param{Name: "h", Kind: Choice, Choices: []any{"a", "b", "c"}}).Params()[0]
	e := NewTPE().parzen(h, []float64{0, 0, 2})
	if want := []float64{5.0 / 7, 1.0 / 7, 1.0 / 7}; !cmp.Equal(e.probs[0], want, close12) {
		t.Errorf("kernel of choice 0: %v, want %v", e.probs[0], want)
	}
	for c, want := range []float64{10.0 / 21, 4.0 / 21, 7.0 / 21} {
		if got := math.Exp(e.logPDF(float64(c))); math.Abs(got-want) > 1e-12 {
			t.Errorf("P(%d) = %v, want %v", c, got, want)
		}
	}
}

// Densities of the pieces, from the normal distribution's table values.
func TestTruncatedNormal(t *testing.T) {
	// N(0, 1) on [-1, 1]: φ(0) / (Φ(1) - Φ(-1)) = 0.398942 / 0.682689.
	if got := math.Exp(logTruncNormalPDF(0, 0, 1, -1, 1)); math.Abs(got-0.3989422804014327/0.6826894921370859) > 1e-12 {
		t.Errorf("pdf(0) = %v", got)
	}
	// Its mass on [0, 1] is one half.
	if got := math.Exp(logTruncNormalMass(0, 1, 0, 1, -1, 1)); math.Abs(got-0.5) > 1e-12 {
		t.Errorf("mass [0, 1] = %v", got)
	}
	// Far in the upper tail a cell still has its mass: P(8 < Z < 9) =
	// Q(8) - Q(9) = 6.220961e-16 - 1.128588e-19, where 1 - Φ rounds to 0.
	if got := normalMass(8, 9); math.Abs(got-6.219832e-16)/6.219832e-16 > 1e-5 {
		t.Errorf("P(8 < Z < 9) = %v", got)
	}
	// Draws stay within the bounds and their mean is that of the truncated
	// law: for N(0, 1) on [0, 2], (φ(0) - φ(2)) / (Φ(2) - Φ(0)) = 0.7228.
	s := newStream(1, 0)
	var sum float64
	const n = 100000
	for range n {
		x := s.truncNormal(0, 1, 0, 2)
		if x < 0 || x > 2 {
			t.Fatalf("draw %v outside [0, 2]", x)
		}
		sum += x
	}
	want := (0.3989422804014327 - 0.05399096651318806) / (0.9772498680518208 - 0.5)
	if mean := sum / n; math.Abs(mean-want) > 0.005 {
		t.Errorf("mean %v, want %v", mean, want)
	}
}

// l fitted to 2 and g to 8 on [0, 10] mirror each other (same bandwidths
// 10/3 after the clip, same prior), so l/g falls from left to right and
// the expected-improvement argmax is the leftmost candidate, whatever the
// candidates' order. The score of 2 itself, by hand: l(2) = ½ φ(0)/(s Zs)
// + ½ φ(-0.3)/(10 Zp), g(2) = ½ φ(-1.8)/(s Zs) + ½ φ(-0.3)/(10 Zp) with s =
// 10/3, Zs = Φ(2.4) - Φ(-0.6) and Zp = Φ(0.5) - Φ(-0.5).
func TestExpectedImprovementArgmax(t *testing.T) {
	p := oneParam(t, Param{Name: "x", Kind: Uniform, Low: 0, High: 10}).Params()[0]
	l, g := NewTPE().parzen(p, []float64{2}), NewTPE().parzen(p, []float64{8})
	for _, xs := range [][]float64{{5, 9, 1.5, 3}, {1.5, 3, 5, 9}, {9, 5, 3, 1.5}} {
		if got := bestCandidate(xs, l, g); got != 1.5 {
			t.Errorf("candidates %v: best %v, want 1.5", xs, got)
		}
	}
	phi := func(z float64) float64 { return math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) }
	s := 10.0 / 3
	zs, zp := normalCDF(2.4)-normalCDF(-0.6), normalCDF(0.5)-normalCDF(-0.5)
	prior := phi(-0.3) / (10 * zp)
	want := math.Log(phi(0)/(s*zs)+prior) - math.Log(phi(-1.8)/(s*zs)+prior)
	if got := l.logPDF(2) - g.logPDF(2); math.Abs(got-want) > 1e-12 {
		t.Errorf("log l(2) - log g(2) = %v, want %v", got, want)
	}
}

// An Int's density is the mass of its cell: l fitted to 3 on [0, 8] gives
// 3 the mass of [2.5, 3.5] under each kernel.
func TestIntCellMass(t *testing.T) {
	p := oneParam(t, Param{Name: "v", Kind: Int, Low: 0, High: 8}).Params()[0]
	e := NewTPE().parzen(p, []float64{3})
	// Centres 3 and 4 (the prior), bandwidths max(1, 9/3) = 3 and 9.
	mass := func(mu, s float64) float64 {
		return (normalCDF((3.5-mu)/s) - normalCDF((2.5-mu)/s)) / (normalCDF((8.5-mu)/s) - normalCDF((-0.5-mu)/s))
	}
	want := math.Log(0.5*mass(3, 3) + 0.5*mass(4, 9))
	if got := e.logPDF(3); math.Abs(got-want) > 1e-12 {
		t.Errorf("log P(3) = %v, want %v", got, want)
	}
	// The nine cells' masses add up to one.
	var sum float64
	for x := range 9 {
		sum += math.Exp(e.logPDF(float64(x)))
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("masses sum to %v", sum)
	}
}
