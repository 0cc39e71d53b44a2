package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/openset"
)

// table is a header and rows of cells, built apart from its rendering.
type table struct {
	header []string
	rows   [][]string
}

func markdown(t table) string {
	var b strings.Builder
	line := func(cells []string) { fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | ")) }
	line(t.header)
	sep := make([]string, len(t.header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}

// summary is a metric over draws: its mean and 95% t interval.
func summary(xs []float64) string {
	s := metrics.Summarize(xs)
	if math.IsNaN(s.Lo) {
		return fmt.Sprintf("%.3f", s.Mean)
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", s.Mean, s.Lo, s.Hi)
}

func verificationTable(res map[string][]verifyResult) table {
	t := table{header: []string{"features", "accuracy (threshold from other dogs)", "accuracy (best threshold on these pairs)", "ROC AUC", "TAR at FAR 1%", "TAR at FAR 0.1%", "one-shot rank-1", "one-shot rank-5"}}
	for _, cfg := range verifyConfigs {
		rs := res[cfg.Name]
		col := func(f func(verifyResult) float64) string {
			xs := make([]float64, len(rs))
			for i, r := range rs {
				xs[i] = f(r)
			}
			return summary(xs)
		}
		tar := func(k int) string {
			s := col(func(r verifyResult) float64 { return r.TAR[k].TAR })
			for _, r := range rs {
				if !r.TAR[k].Measurable() {
					return s + " (not measurable: too few impostor pairs)"
				}
			}
			return s
		}
		t.rows = append(t.rows, []string{cfg.Name,
			col(func(r verifyResult) float64 { return r.Accuracy }),
			col(func(r verifyResult) float64 { return r.AccuracySelf }),
			col(func(r verifyResult) float64 { return r.AUC }),
			tar(0), tar(1),
			col(func(r verifyResult) float64 { return r.CMC[0] }),
			col(func(r verifyResult) float64 { return r.CMC[4] }),
		})
	}
	return t
}

// verificationCounts says how many pairs and queries each draw had, and how
// many impostor pairs the 0.1% operating point rests on.
func verificationCounts(res map[string][]verifyResult) string {
	rs := res[verifyConfigs[0].Name]
	lo, hi := rs[0], rs[0]
	for _, r := range rs {
		if r.Genuine < lo.Genuine {
			lo = r
		}
		if r.Genuine > hi.Genuine {
			hi = r
		}
	}
	minQ, maxQ := rs[0].Queries, rs[0].Queries
	for _, r := range rs {
		minQ, maxQ = min(minQ, r.Queries), max(maxQ, r.Queries)
	}
	return fmt.Sprintf("Per draw: %d to %d genuine pairs and as many impostor pairs; at FAR 0.1%% the threshold may let %d to %d impostor pairs through; %d to %d one-shot queries against a gallery of one photo per dog.",
		lo.Genuine, hi.Genuine, lo.TAR[1].Allowed, hi.TAR[1].Allowed, minQ, maxQ)
}

func opensetTable(draws []opensetDraw) table {
	t := table{header: []string{"features", "score", "calibrated on", "chosen on validation", "known rejected (validation)", "known rejected (test)", "FAR on the measuring dogs", "FAR on the task's 5 held-out test dogs", "closed-set accuracy (no rejection)"}}
	for i, first := range draws[0].Results {
		var valRej, rej, farPool, farTask, closed []float64
		chosen := 0
		for _, d := range draws {
			r := d.Results[i]
			valRej = append(valRej, r.ValKnownRejected)
			rej = append(rej, r.Pool.FRR())
			farPool = append(farPool, r.Pool.FAR())
			farTask = append(farTask, r.Task.FAR())
			closed = append(closed, r.ClosedAccuracy)
			if d.Chosen == i {
				chosen++
			}
		}
		t.rows = append(t.rows, []string{first.Config, first.Score, first.Calibration, fmt.Sprintf("%d of %d", chosen, len(draws)),
			summary(valRej), summary(rej), summary(farPool), summary(farTask), summary(closed)})
	}
	return t
}

// chosenTable is, draw by draw, the rule validation chose and its counts,
// the false-accept rate with its exact (Clopper-Pearson) 95% interval over
// the measuring dogs' photos.
func chosenTable(draws []opensetDraw) table {
	t := table{header: []string{"draw", "rule", "threshold", "FAR on the measuring dogs [95% Clopper-Pearson]", "known rejected (test)", "FAR on the task's held-out test dogs"}}
	for i, d := range draws {
		r := d.Results[d.Chosen]
		lo, hi, err := metrics.ClopperPearson(r.Pool.FalseAccepts, r.Pool.Unknown, 0.95)
		far := fmt.Sprintf("%s [%.3f, %.3f]", frac(r.Pool.FalseAccepts, r.Pool.Unknown), lo, hi)
		if err != nil {
			far = err.Error()
		}
		t.rows = append(t.rows, []string{fmt.Sprint(i + 1), r.Config + ", " + r.Score, fmt.Sprintf("%.4f", r.Threshold), far,
			frac(r.Pool.KnownRejected, r.Pool.Known), frac(r.Task.FalseAccepts, r.Task.Unknown)})
	}
	return t
}

func frac(k, n int) string {
	return fmt.Sprintf("%d/%d = %.3f", k, n, openset.Counts{FalseAccepts: k, Unknown: n}.FAR())
}
