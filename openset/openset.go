// Package openset decides when a prediction names a dog the head never saw:
// it scores each prediction (the largest softmax probability, or the cosine
// of its backbone features to the nearest class centroid), calibrates a
// threshold on unseen dogs to a target false-accept rate, and counts how a
// rule does on known and unknown photos.
//
// Both scores are "higher means more like a known dog", so every rule is the
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
	// CentroidCosine scores it by the cosine between the photo's backbone
	// features and the nearest training centroid: softmax can be confident
	// far from every training photo, feature distance cannot.
	CentroidCosine = "centroid_cosine"
)

// Kinds lists the rule kinds in the order ties are broken (simplest first).
var Kinds = []string{MaxSoftmax, CentroidCosine}

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

// MaxProb is the MaxSoftmax score of one row of probabilities.
func MaxProb(p []float32) float64 {
	m := math.Inf(-1)
	for _, v := range p {
		m = math.Max(m, float64(v))
	}
	return m
}

// Score is a photo's score under kind, from the head's probabilities or
// the photo's backbone features.
func Score(kind string, probs, features []float32, c Centroids) float64 {
	if kind == MaxSoftmax {
		return MaxProb(probs)
	}
	return c.Score(features)
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
		var dot float64
		for j, x := range f {
			dot += float64(x) * float64(v[j])
		}
		if dot/n > cos || class < 0 {
			class, cos = k, dot/n
		}
	}
	return class, cos
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
