package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// TPE is the tree-structured Parzen estimator (Bergstra et al. 2011) with
// the semantics of Optuna's TPESampler in its default, independent mode:
//
//   - Until StartupTrials trials have finished, points are drawn as Random
//     draws them (the same points: same stream).
//   - Then the n finished trials are ranked (complete ones by value, then
//     pruned ones by later epoch and then value) and the best gamma(n) =
//     min(ceil(n/10), 25) form the "below" group, the rest "above".
//   - For each parameter on its own, a Parzen estimator (a weighted mixture
//     of truncated normals, or of categorical distributions) is fitted to
//     each group, plus a prior component of weight PriorWeight; l is the
//     below one, g the above one.
//   - EICandidates candidates are drawn from l, and the one maximising
//     log l(x) - log g(x) (the expected-improvement criterion) is taken.
//
// The estimators' rules are in parzen. Densities are those of Optuna since
// 3.5 (a truncated normal's includes its scale) and, for a log Int, since
// 2025 (the mass of the value's cell on the log line); parity_test.go
// checks them against Optuna itself. Optuna's multivariate mode, its
// constant liar and its custom gamma and weight functions are not offered.
type TPE struct {
	StartupTrials     int     // finished trials before TPE takes over (Optuna: 10)
	EICandidates      int     // candidates drawn from l per parameter (24)
	PriorWeight       float64 // weight of the prior component (1)
	ConsiderEndpoints bool    // the bandwidth rule counts the range's ends as neighbours (false)
	Direction         Direction
}

// NewTPE is TPE with Optuna's defaults, maximising.
func NewTPE() TPE {
	return TPE{StartupTrials: 10, EICandidates: 24, PriorWeight: 1}
}

// Check reports settings TPE cannot run with.
func (t TPE) Check() error {
	switch {
	case t.StartupTrials < 0:
		return fmt.Errorf("search: tpe startup trials must be at least 0, got %d", t.StartupTrials)
	case t.EICandidates < 1:
		return fmt.Errorf("search: tpe candidates must be at least 1, got %d", t.EICandidates)
	case !(t.PriorWeight > 0) || math.IsInf(t.PriorWeight, 0):
		return fmt.Errorf("search: tpe prior weight must be a positive number, got %g", t.PriorWeight)
	}
	return nil
}

// Sample draws claim n's point from the trials finished before it.
func (t TPE) Sample(space Space, seed uint64, n int, history []Trial) (Point, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	h, err := sortedHistory(space, n, history)
	if err != nil {
		return nil, err
	}
	if len(h) < t.StartupTrials {
		return Random{}.Sample(space, seed, n, nil)
	}
	below, above := t.split(h)
	s := newStream(seed, n)
	pt := make(Point, len(space.params))
	for i, p := range space.params {
		l := t.parzen(p, column(below, i))
		g := t.parzen(p, column(above, i))
		pt[i] = bestCandidate(l.sample(s, t.EICandidates), l, g)
	}
	return pt, nil
}

// gamma is the size of the below group for n finished trials (Optuna's
// default_gamma).
func gamma(n int) int {
	return min(int(math.Ceil(0.1*float64(n))), 25)
}

// weights are the observations' weights in claim order, oldest first
// (Optuna's default_weights): all 1 up to 25; past that the 25 newest keep
// 1 and the older ones ramp linearly from 1/n up to 1.
func weights(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	if ramp := n - 25; ramp > 0 {
		for i := range ramp {
			if ramp == 1 {
				w[i] = 1 / float64(n)
				continue
			}
			w[i] = 1/float64(n) + (1-1/float64(n))*float64(i)/float64(ramp-1)
		}
	}
	return w
}

// split ranks the history (claim-ordered) and returns the below and above
// groups, each in claim order.
func (t TPE) split(h []Trial) (below, above []Trial) {
	ranked := slices.Clone(h)
	slices.SortStableFunc(ranked, func(a, b Trial) int {
		if a.State != b.State {
			return cmp.Compare(a.State, b.State) // complete before pruned
		}
		if a.State == Pruned && a.Epoch != b.Epoch {
			return cmp.Compare(b.Epoch, a.Epoch) // later epoch first
		}
		return cmp.Compare(t.Direction.score(a.Value), t.Direction.score(b.Value))
	})
	k := gamma(len(h))
	below, above = ranked[:k], ranked[k:]
	byN := func(a, b Trial) int { return cmp.Compare(a.N, b.N) }
	slices.SortFunc(below, byN)
	slices.SortFunc(above, byN)
	return below, above
}

func column(trials []Trial, i int) []float64 {
	c := make([]float64, len(trials))
	for j, t := range trials {
		c[j] = t.Point[i]
	}
	return c
}

// estimator is a Parzen estimator of one parameter: a mixture with weights
// w (summing to 1), the prior last.
type estimator struct {
	p      Param
	w      []float64
	mu     []float64   // numeric: kernel centres on the inside line
	sigma  []float64   // numeric: kernel bandwidths
	lo, hi float64     // numeric: the inside line's bounds
	probs  [][]float64 // Choice: each kernel's probability of each choice
}

// parzen fits the estimator of parameter p to observations xs (claim
// order), with Optuna's rules:
//   - weights: weights(len(xs)), then PriorWeight for the prior, normalised;
//     with no observations the prior alone.
//   - numeric kernels: centred on the observations (on the inside line);
//     the prior centred mid-range with the range as bandwidth. An
//     observation's bandwidth is the larger distance to its neighbours
//     among the sorted centres (prior included) with the range's ends as
//     outer neighbours (equal centres in claim order); unless
//     ConsiderEndpoints, the lowest and highest centres use their one inner
//     neighbour instead. Then the "magic clip"
//     keeps each bandwidth within [range/min(100, n+2), range].
//   - Choice kernels: each observation's kernel gives its choice weight 1 +
//     PriorWeight/(n+1) and every choice PriorWeight/(n+1), normalised; the
//     prior is uniform.
func (t TPE) parzen(p Param, xs []float64) estimator {
	n := len(xs)
	e := estimator{p: p, w: append(weights(n), t.PriorWeight)}
	if n == 0 {
		e.w = []float64{1}
	}
	var total float64
	for _, w := range e.w {
		total += w
	}
	for i := range e.w {
		e.w[i] /= total
	}
	if p.Kind == Choice {
		k := len(p.Choices)
		base := t.PriorWeight / float64(n+1)
		for _, x := range xs {
			row := make([]float64, k)
			for c := range row {
				row[c] = base / (1 + float64(k)*base)
			}
			row[int(x)] = (1 + base) / (1 + float64(k)*base)
			e.probs = append(e.probs, row)
		}
		prior := make([]float64, k)
		for c := range prior {
			prior[c] = 1 / float64(k)
		}
		e.probs = append(e.probs, prior)
		return e
	}
	e.lo, e.hi = p.bounds()
	span := e.hi - e.lo
	for _, x := range xs {
		e.mu = append(e.mu, p.inside(x))
	}
	e.mu = append(e.mu, (e.lo+e.hi)/2)
	e.sigma = t.bandwidths(e.mu, e.lo, e.hi)
	for i := range n {
		e.sigma[i] = min(max(e.sigma[i], span/min(100, float64(n+2))), span)
	}
	e.sigma[n] = span
	return e
}

// bandwidths is the neighbour rule for centres mu (the prior's last; its
// entry is overwritten by the caller).
func (t TPE) bandwidths(mu []float64, lo, hi float64) []float64 {
	order := make([]int, len(mu))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(mu[a], mu[b]) })
	// ends[j+1] is the j-th smallest centre; ends[0] and ends[last] the range's ends.
	ends := make([]float64, 0, len(mu)+2)
	ends = append(ends, lo)
	for _, i := range order {
		ends = append(ends, mu[i])
	}
	ends = append(ends, hi)
	sigma := make([]float64, len(mu))
	for j, i := range order {
		sigma[i] = max(ends[j+1]-ends[j], ends[j+2]-ends[j+1])
	}
	if !t.ConsiderEndpoints && len(mu) >= 2 {
		first, last := order[0], order[len(order)-1]
		sigma[first] = ends[2] - ends[1]
		sigma[last] = ends[len(ends)-2] - ends[len(ends)-3]
	}
	return sigma
}

// sample draws count values (as a Point holds them) from the mixture.
func (e estimator) sample(s stream, count int) []float64 {
	xs := make([]float64, count)
	for j := range xs {
		k := s.pick(e.w)
		if e.p.Kind == Choice {
			xs[j] = float64(s.pick(e.probs[k]))
			continue
		}
		xs[j] = e.p.outside(s.truncNormal(e.mu[k], e.sigma[k], e.lo, e.hi))
	}
	return xs
}

// logPDF is the log density of value x: on the inside line for Uniform and
// LogUniform, the log probability of x's cell for Int and of x for Choice.
// (The log kinds' Jacobian is the same in l and g, so it cancels.)
func (e estimator) logPDF(x float64) float64 {
	terms := make([]float64, len(e.w))
	for k, w := range e.w {
		var lp float64
		switch {
		case e.p.Kind == Choice:
			lp = math.Log(e.probs[k][int(x)])
		case e.p.Kind == Int:
			a, b := e.p.cell(x)
			lp = logTruncNormalMass(a, b, e.mu[k], e.sigma[k], e.lo, e.hi)
		default:
			lp = logTruncNormalPDF(e.p.inside(x), e.mu[k], e.sigma[k], e.lo, e.hi)
		}
		terms[k] = math.Log(w) + lp
	}
	return logSumExp(terms)
}

// bestCandidate is the candidate maximising log l - log g, the first of
// equals.
func bestCandidate(xs []float64, l, g estimator) float64 {
	best, bestScore := xs[0], math.Inf(-1)
	for _, x := range xs {
		if s := l.logPDF(x) - g.logPDF(x); s > bestScore {
			best, bestScore = x, s
		}
	}
	return best
}
