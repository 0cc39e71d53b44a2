package report

import (
	"cmp"
	"math"
	"slices"

	"github.com/dogrun/dogrun/metrics"
)

// maxConfusedPairs is how many pairs the tables list.
const maxConfusedPairs = 10

// ConfusedPair is two dogs the model mixes up, with how often in each
// direction. Rates are fractions of the true dog's test photos, the same
// row-normalised numbers as the heatmap.
type ConfusedPair struct {
	A, B           *Thumb
	AB, BA         int // photos of A predicted as B, and of B as A
	RateAB, RateBA float64
	SupportA       int
	SupportB       int
}

// Score ranks pairs: both directions' rates added, so a pair confused both
// ways outranks one confused once, and a dog with few photos is not hidden
// behind one with many.
func (p ConfusedPair) Score() float64 { return p.RateAB + p.RateBA }

// confusedPairs ranks the unordered class pairs of a confusion matrix by
// Score, dropping pairs never confused; ties go to more photos, then names.
func confusedPairs(confusion [][]int, classes []string, th *thumbs, limit int) []ConfusedPair {
	n := len(confusion)
	support := make([]int, n)
	for t, row := range confusion {
		for _, v := range row {
			support[t] += v
		}
	}
	rate := func(t, p int) float64 {
		if support[t] == 0 {
			return 0
		}
		return float64(confusion[t][p]) / float64(support[t])
	}
	type cand struct {
		a, b  int
		score float64
		count int
	}
	var cands []cand
	for a := range n {
		for b := a + 1; b < n; b++ {
			if c := confusion[a][b] + confusion[b][a]; c > 0 {
				cands = append(cands, cand{a, b, rate(a, b) + rate(b, a), c})
			}
		}
	}
	slices.SortFunc(cands, func(x, y cand) int {
		if c := cmp.Compare(y.score, x.score); c != 0 {
			return c
		}
		if c := cmp.Compare(y.count, x.count); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b))
	})
	if len(cands) > limit {
		cands = cands[:limit]
	}
	out := make([]ConfusedPair, len(cands))
	for i, c := range cands {
		a, b := c.a, c.b
		// The direction confused more often reads first.
		if rate(b, a) > rate(a, b) {
			a, b = b, a
		}
		out[i] = ConfusedPair{A: th.get(classes[a]), B: th.get(classes[b]),
			AB: confusion[a][b], BA: confusion[b][a], RateAB: rate(a, b), RateBA: rate(b, a),
			SupportA: support[a], SupportB: support[b]}
	}
	return out
}

// sumConfusion adds matrices of the same size (a variant's seeds).
func sumConfusion(ms [][][]int) [][]int {
	if len(ms) == 0 {
		return nil
	}
	n := len(ms[0])
	out := make([][]int, n)
	for i := range out {
		out[i] = make([]int, n)
	}
	for _, m := range ms {
		if len(m) != n {
			continue // a trial with other classes cannot be added; skipped
		}
		for i, row := range m {
			for j, v := range row {
				out[i][j] += v
			}
		}
	}
	return out
}

// ClassRow is one class's test scores, averaged over a variant's seeds with
// the lowest and highest seed for F1.
type ClassRow struct {
	Class                 string
	Thumb                 *Thumb // set only for the rows a table shows
	Precision, Recall, F1 float64
	F1Lo, F1Hi            float64
	Support               int // test photos per seed
}

// classRows averages per-class scores over reports with the same classes.
func classRows(reports []metrics.Report) []ClassRow {
	if len(reports) == 0 {
		return nil
	}
	k := len(reports[0].PerClass)
	rows := make([]ClassRow, k)
	for c := range k {
		r := ClassRow{F1Lo: math.Inf(1), F1Hi: math.Inf(-1)}
		n := 0
		for _, rep := range reports {
			if len(rep.PerClass) != k {
				continue
			}
			s := rep.PerClass[c]
			r.Precision += s.Precision
			r.Recall += s.Recall
			r.F1 += s.F1
			r.F1Lo, r.F1Hi = math.Min(r.F1Lo, s.F1), math.Max(r.F1Hi, s.F1)
			r.Support = s.Support
			n++
		}
		r.Precision /= float64(n)
		r.Recall /= float64(n)
		r.F1 /= float64(n)
		if n < 2 {
			r.F1Lo, r.F1Hi = math.NaN(), math.NaN()
		}
		r.Class = reports[0].PerClass[c].Name
		rows[c] = r
	}
	return rows
}

// worstClasses returns up to limit rows with the lowest F1 (ties by class
// order), with their thumbnails.
func worstClasses(rows []ClassRow, limit int, th *thumbs) []ClassRow {
	s := slices.Clone(rows)
	slices.SortStableFunc(s, func(a, b ClassRow) int { return cmp.Compare(a.F1, b.F1) })
	if len(s) > limit {
		s = s[:limit]
	}
	for i := range s {
		s[i].Thumb = th.get(s[i].Class)
	}
	return s
}
