package search

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// stream is the random numbers of one claim. ChaCha8's output is fixed by
// its seed across Go releases; the conversions to numbers below are ours,
// so a stored search draws the same points after an upgrade.
type stream struct{ src *rand.ChaCha8 }

// newStream keys the stream by the search's seed and the claim's index only.
func newStream(seed uint64, n int) stream {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(n))
	copy(key[16:], "dogrun search")
	return stream{rand.NewChaCha8(key)}
}

// open is uniform in (0, 1), never 0 or 1, so that inverse CDFs stay finite.
func (s stream) open() float64 {
	return (float64(s.src.Uint64()>>11) + 0.5) / (1 << 53)
}

// index is uniform in 0..n-1.
func (s stream) index(n int) int {
	return min(int(s.open()*float64(n)), n-1)
}

// pick draws an index with probability proportional to w.
func (s stream) pick(w []float64) int {
	var total float64
	for _, x := range w {
		total += x
	}
	u := s.open() * total
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// normalCDF is Φ(z).
func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// normalMass is P(za < Z < zb), computed in the tail where both lie so that
// far cells do not round to zero.
func normalMass(za, zb float64) float64 {
	if za > 0 {
		return 0.5 * (math.Erfc(za/math.Sqrt2) - math.Erfc(zb/math.Sqrt2))
	}
	return normalCDF(zb) - normalCDF(za)
}

// truncNormal draws from the normal (mu, sigma) truncated to [lo, hi] by
// inverting its CDF. The samplers only use it with lo <= mu <= hi.
func (s stream) truncNormal(mu, sigma, lo, hi float64) float64 {
	pa, pb := normalCDF((lo-mu)/sigma), normalCDF((hi-mu)/sigma)
	p := pa + s.open()*(pb-pa)
	z := -math.Sqrt2 * math.Erfcinv(2*p)
	return min(max(mu+sigma*z, lo), hi)
}

// logTruncNormalPDF is the log density at y of the normal (mu, sigma)
// truncated to [lo, hi].
func logTruncNormalPDF(y, mu, sigma, lo, hi float64) float64 {
	z := (y - mu) / sigma
	return -z*z/2 - math.Log(sigma*math.Sqrt(2*math.Pi)) - math.Log(normalMass((lo-mu)/sigma, (hi-mu)/sigma))
}

// logTruncNormalMass is the log probability of [a, b] under the normal
// (mu, sigma) truncated to [lo, hi].
func logTruncNormalMass(a, b, mu, sigma, lo, hi float64) float64 {
	return math.Log(normalMass((a-mu)/sigma, (b-mu)/sigma)) - math.Log(normalMass((lo-mu)/sigma, (hi-mu)/sigma))
}

// logSumExp is log Σ exp(x).
func logSumExp(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = max(m, x)
	}
	if math.IsInf(m, -1) {
		return m
	}
	var s float64
	for _, x := range xs {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}
