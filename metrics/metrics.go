// Package metrics scores classifier predictions (accuracy, top-k, log loss,
// per-class precision/recall/F1, confusion matrix) and summarizes a metric
// over replicate runs with a Student-t confidence interval.
//
// Conventions follow scikit-learn with zero_division=0: the precision of a
// class that is never predicted is 0, the recall of a class absent from the
// labels is 0, and F1 is 0 when precision+recall is 0.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// ClassScore holds the scores of one class.
type ClassScore struct {
	Class     int
	Name      string
	Precision float64 // 0 when the class is never predicted (zero_division=0)
	Recall    float64 // 0 when the class has no samples
	F1        float64 // 0 when precision+recall is 0
	Support   int     // number of samples whose true class is Class
}

// Averages are precision, recall and F1 averaged over classes.
type Averages struct {
	Precision, Recall, F1 float64
}

// Report is the evaluation of one set of predictions.
type Report struct {
	N        int
	Accuracy float64
	Top5     float64 // top-k accuracy with k = min(5, number of classes)
	LogLoss  float64 // mean cross-entropy of the true class, probabilities clipped to [1e-12, 1]
	PerClass []ClassScore
	// Macro is the unweighted mean over the classes that occur in the labels
	// or the predictions (scikit-learn's default label set), so a class that
	// is absent from the test set and never predicted does not drag it down.
	Macro Averages
	// Weighted is the mean over classes weighted by support.
	Weighted  Averages
	Confusion [][]int // [true][pred]
}

// probClip keeps log loss finite when the true class got probability 0.
const probClip = 1e-12

// Evaluate scores predictions. probs[i] holds the class probabilities of
// sample i and labels[i] its true class. The predicted class is the most
// probable one (ties go to the lower index). classNames may be nil, in which
// case classes are named by their index; otherwise it must have one name per
// class.
func Evaluate(labels []int, probs [][]float32, classNames []string) (Report, error) {
	if len(labels) != len(probs) {
		return Report{}, fmt.Errorf("metrics: %d labels but %d probability rows", len(labels), len(probs))
	}
	if len(labels) == 0 {
		return Report{}, errors.New("metrics: no samples to evaluate")
	}
	k := len(probs[0])
	if classNames != nil && len(classNames) != k {
		return Report{}, fmt.Errorf("metrics: %d class names but %d probabilities per sample", len(classNames), k)
	}
	if k == 0 {
		return Report{}, errors.New("metrics: no classes")
	}
	names := classNames
	if names == nil {
		names = make([]string, k)
		for c := range names {
			names[c] = strconv.Itoa(c)
		}
	}

	conf := make([][]int, k)
	for c := range conf {
		conf[c] = make([]int, k)
	}
	topK := min(5, k)
	var correct, topHits int
	var loss float64
	for i, y := range labels {
		p := probs[i]
		if len(p) != k {
			return Report{}, fmt.Errorf("metrics: sample %d has %d probabilities, want %d", i, len(p), k)
		}
		if y < 0 || y >= k {
			return Report{}, fmt.Errorf("metrics: sample %d has label %d outside [0,%d)", i, y, k)
		}
		top := TopK(p, topK)
		pred := top[0]
		conf[y][pred]++
		if pred == y {
			correct++
		}
		if slices.Contains(top, y) {
			topHits++
		}
		q := float64(p[y])
		if !math.IsNaN(q) {
			q = min(max(q, probClip), 1)
		}
		loss -= math.Log(q)
	}

	n := len(labels)
	r := Report{
		N:         n,
		Accuracy:  float64(correct) / float64(n),
		Top5:      float64(topHits) / float64(n),
		LogLoss:   loss / float64(n),
		PerClass:  make([]ClassScore, k),
		Confusion: conf,
	}
	predicted := make([]int, k)
	for t := range conf {
		for p, v := range conf[t] {
			predicted[p] += v
		}
	}
	var present int
	for c := range k {
		tp := conf[c][c]
		support := 0
		for _, v := range conf[c] {
			support += v
		}
		cs := ClassScore{Class: c, Name: names[c], Support: support}
		cs.Precision = ratio(tp, predicted[c])
		cs.Recall = ratio(tp, support)
		if s := cs.Precision + cs.Recall; s > 0 {
			cs.F1 = 2 * cs.Precision * cs.Recall / s
		}
		r.PerClass[c] = cs
		if support > 0 || predicted[c] > 0 {
			present++
			r.Macro.Precision += cs.Precision
			r.Macro.Recall += cs.Recall
			r.Macro.F1 += cs.F1
		}
		w := float64(support)
		r.Weighted.Precision += w * cs.Precision
		r.Weighted.Recall += w * cs.Recall
		r.Weighted.F1 += w * cs.F1
	}
	// present >= 1 because n > 0.
	r.Macro.Precision /= float64(present)
	r.Macro.Recall /= float64(present)
	r.Macro.F1 /= float64(present)
	r.Weighted.Precision /= float64(n)
	r.Weighted.Recall /= float64(n)
	r.Weighted.F1 /= float64(n)
	return r, nil
}

// ratio is a/b, or 0 when b is 0 (zero_division=0).
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Argmax is the class TopK(probs, 1) names, found without sorting: the first
// largest score, NaN never winning over a number.
func Argmax(probs []float32) int {
	best := 0
	for i, p := range probs {
		if p > probs[best] || probs[best] != probs[best] {
			best = i
		}
	}
	return best
}

// TopK returns the indices of the k largest probabilities, largest first;
// ties go to the lower index and NaN ranks below every number. k is clamped
// to [0, len(probs)].
func TopK(probs []float32, k int) []int {
	k = min(max(k, 0), len(probs))
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		pa, pb := probs[a], probs[b]
		na, nb := pa != pa, pb != pb
		switch {
		case na && nb:
			return 0
		case na:
			return 1
		case nb:
			return -1
		case pa > pb:
			return -1
		case pa < pb:
			return 1
		}
		return 0
	})
	return idx[:k:k]
}
