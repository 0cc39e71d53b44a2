// Package openset decides when a prediction names a dog the head never saw:
// it scores each prediction (from the head's outputs, or from how close the
// photo's backbone features are to the known dogs'), calibrates a threshold
// on unseen dogs to a target false-accept rate, and counts how a rule does
// on known and unknown photos.
//
// Every score is "higher means more like a known dog", so every rule is the
// same shape: accept when score > threshold, otherwise answer "unknown".
package openset

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// The rule kinds.
const (
	// MaxSoftmax scores a prediction by the head's largest class probability.
	MaxSoftmax = "max_softmax"
	// MaxLogit scores it by the head's largest logit (the output before
	// softmax): softmax divides by the sum over classes, so a photo close to
	// two known dogs looks unsure, and one far from all of them can look sure.
	MaxLogit = "max_logit"
	// Energy scores it by the log of the sum of the exponentiated logits
	// (the negated free energy at temperature 1): like MaxLogit it keeps the
	// logits' scale, and it counts every class a photo is close to.
	Energy = "energy"
	// CentroidCosine scores it by the cosine between the photo's backbone
	// features and the nearest training centroid: softmax can be confident
	// far from every training photo, feature distance cannot.
	CentroidCosine = "centroid_cosine"
	// CentroidMinusCohort is CentroidCosine less the mean cosine to the
	// photo's nearest centroids among a cohort of other dogs (Cohort): a photo
	// close to every dog, as a blurred or generic face is, is not thereby
	// close to a known one.
	CentroidMinusCohort = "centroid_cosine_minus_cohort"
)

// Kinds lists the rule kinds a trial calibrates when the experiment does
// not name its own (open_set.scores), in the order ties are broken
// (simplest first).
var Kinds = []string{MaxSoftmax, CentroidCosine}

// AllKinds lists every rule kind, in the order ties are broken.
var AllKinds = []string{MaxSoftmax, MaxLogit, Energy, CentroidCosine, CentroidMinusCohort}

// NeedsLogits says whether kind scores the head's logits.
func NeedsLogits(kind string) bool { return kind == MaxLogit || kind == Energy }

// Rule accepts a prediction when its score is above Threshold.
type Rule struct {
	Kind      string
	Threshold float64
	TargetFAR float64 // the rate it was calibrated to
}

// Accept says whether a prediction with this score names a known dog.
func (r Rule) Accept(score float64) bool { return score > r.Threshold }

// Calibrate returns the threshold at which at most floor(far·n) of the n
// unknown scores are accepted: the (k+1)-th largest score, k = floor(far·n).
// Accepting only scores strictly above it lets through at most k unknowns
// (fewer on ties), so the false-accept rate on these photos never exceeds far.
func Calibrate(unknown []float64, far float64) (float64, error) {
	if len(unknown) == 0 {
		return 0, errors.New("openset: no unknown photos to calibrate on")
	}
	if far <= 0 || far >= 1 {
		return 0, fmt.Errorf("openset: target false-accept rate %g is not in (0, 1)", far)
	}
	s := slices.Clone(unknown)
	slices.Sort(s)
	slices.Reverse(s)
	return s[Allowed(len(s), far)], nil
}

// Allowed is how many of n unknown scores a threshold calibrated to far may
// let through: floor(far·n). Below 1/far scores it is 0, and the threshold is
// the highest unknown score whatever the target.
func Allowed(n int, far float64) int {
	// The epsilon keeps 0.05·20 = 1 from flooring to 0 in binary floating point.
	return int(math.Floor(far*float64(n) + 1e-9))
}

// Largest is the largest value of a row: the MaxSoftmax score of
// probabilities, the MaxLogit score of logits; -Inf for an empty row.
func Largest(p []float32) float64 {
	m := math.Inf(-1)
	for _, v := range p {
		m = math.Max(m, float64(v))
	}
	return m
}

// Scorer scores photos under every kind: from the head's probabilities or
// logits, or from the photo's backbone features and the known dogs'
// centroids (and, for CentroidMinusCohort, a cohort of other dogs).
type Scorer struct {
	Centroids Centroids
	Cohort    Cohort
}

// Score is a photo's score under kind. logits may be nil for a kind that
// does not read them.
func (s Scorer) Score(kind string, probs, logits, features []float32) float64 {
	switch kind {
	case MaxSoftmax:
		return Largest(probs)
	case MaxLogit:
		return Largest(logits)
	case Energy:
		return LogSumExp(logits)
	case CentroidMinusCohort:
		return s.Centroids.Score(features) - s.Cohort.Score(features)
	}
	return s.Centroids.Score(features)
}

// LogSumExp is log(sum exp(v)), computed without overflow; -Inf for no values.
func LogSumExp(v []float32) float64 {
	m := Largest(v)
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, x := range v {
		s += math.Exp(float64(x) - m)
	}
	return m + math.Log(s)
}

// Cohort is other dogs' centroids (dogs neither known nor measured), and
// how many of the nearest to a photo its score averages.
type Cohort struct {
	K         int
	Centroids Centroids
}

// Score is the mean cosine of the feature row to its K nearest cohort
// centroids (fewer when the cohort is smaller); 0 for an empty cohort or a
// row without direction.
func (c Cohort) Score(f []float32) float64 {
	n := norm(f)
	if n == 0 || c.K < 1 {
		return 0
	}
	var cos []float64
	for _, v := range c.Centroids.Vectors {
		if v != nil {
			cos = append(cos, Dot(f, v)/n)
		}
	}
	if len(cos) == 0 {
		return 0
	}
	slices.Sort(cos)
	top := cos[len(cos)-min(c.K, len(cos)):]
	var sum float64
	for _, x := range top {
		sum += x
	}
	return sum / float64(len(top))
}

// Centroids are each class's mean training feature, all at unit length.
type Centroids struct {
	Dim     int
	Vectors [][]float32 // per class; nil for a class without training rows
}

// NewCentroids averages the unit-length rows of x (rows of dim values,
// labelled y) per class and scales each mean back to unit length, so that
// a centroid is a direction, as cosine similarity compares.
func NewCentroids(x []float32, dim int, y []int32, classes int) Centroids {
	sums := make([][]float64, classes)
	for i, c := range y {
		row := x[i*dim : (i+1)*dim]
		n := norm(row)
		if n == 0 {
			continue
		}
		if sums[c] == nil {
			sums[c] = make([]float64, dim)
		}
		for j, v := range row {
			sums[c][j] += float64(v) / n
		}
	}
	out := Centroids{Dim: dim, Vectors: make([][]float32, classes)}
	for c, s := range sums {
		if s == nil {
			continue
		}
		var n float64
		for _, v := range s {
			n += v * v
		}
		n = math.Sqrt(n)
		if n == 0 {
			continue
		}
		out.Vectors[c] = make([]float32, dim)
		for j, v := range s {
			out.Vectors[c][j] = float32(v / n)
		}
	}
	return out
}

// Score is the CentroidCosine score of one feature row: its largest cosine
// similarity to any centroid, -1 when it has no direction (all zeros).
func (c Centroids) Score(f []float32) float64 {
	_, cos := c.Nearest(f)
	return cos
}

// Nearest is the class whose centroid is closest in angle to the feature row
// and their cosine; -1 and -1 when the row has no direction (all zeros) or no
// class has a centroid.
func (c Centroids) Nearest(f []float32) (class int, cos float64) {
	class, cos = -1, -1.0
	n := norm(f)
	if n == 0 {
		return class, cos
	}
	for k, v := range c.Vectors {
		if v == nil {
			continue
		}
		if d := Dot(f, v) / n; d > cos || class < 0 {
			class, cos = k, d
		}
	}
	return class, cos
}

// Dot is the dot product of a and b (the cosine when both are at unit
// length), summed in float64.
func Dot(a, b []float32) float64 {
	var s float64
	for j, x := range a {
		s += float64(x) * float64(b[j])
	}
	return s
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// Counts is how a rule did on known dogs' and unknown dogs' photos.
type Counts struct {
	Known         int // photos of dogs the head was trained on
	KnownCorrect  int // of those, accepted and named right
	KnownRejected int // of those, answered "unknown"
	Unknown       int // photos of dogs never trained on
	FalseAccepts  int // of those, named as a known dog
}

// Count applies rule to known photos (score and whether the head's top class
// is right) and unknown photos (score).
func Count(r Rule, knownScores []float64, knownRight []bool, unknownScores []float64) Counts {
	c := Counts{Known: len(knownScores), Unknown: len(unknownScores)}
	for i, s := range knownScores {
		switch {
		case !r.Accept(s):
			c.KnownRejected++
		case knownRight[i]:
			c.KnownCorrect++
		}
	}
	for _, s := range unknownScores {
		if r.Accept(s) {
			c.FalseAccepts++
		}
	}
	return c
}

// FAR is the false-accept rate: the share of unknown photos named as a known
// dog. NaN without unknown photos.
func (c Counts) FAR() float64 { return ratio(c.FalseAccepts, c.Unknown) }

// FRR is the false-reject rate: the share of known photos answered "unknown".
func (c Counts) FRR() float64 { return ratio(c.KnownRejected, c.Known) }

// OpenAccuracy is the share of all photos answered right: a known dog by its
// name, an unknown dog by "unknown". It depends on the mix of known and
// unknown photos, so FAR and FRR are reported beside it.
func (c Counts) OpenAccuracy() float64 {
	return ratio(c.KnownCorrect+c.Unknown-c.FalseAccepts, c.Known+c.Unknown)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
