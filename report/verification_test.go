package report

import (
	"math"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/verify"
)

// TestVerificationCard summarizes two draws of one variant worked by hand:
// the accuracies, TARs and ranks are means over draws, the TAR at 0.1%
// is flagged for resting on 5 impostor pairs, the ROC is averaged on a
// grid, and the paper's row sits under the matching columns.
func TestVerificationCard(t *testing.T) {
	draw := func(ga, ir int, auc float64, tar01 float64, hits []int) *results.Verification {
		return &results.Verification{Dogs: 48, Photos: 500, ThresholdDogs: 48, Genuine: 100, Impostor: 5000, Threshold: 0.5,
			GenuineAccepted: ga, ImpostorRejected: ir, BestAccuracy: 0.8, AUC: auc,
			TARs:    []verify.TAR{{TargetFAR: 0.001, TAR: tar01, Allowed: 5, Impostors: 5000}, {TargetFAR: 0.01, TAR: 0.3, Allowed: 50, Impostors: 5000}},
			ROC:     []verify.Point{{FAR: 0, TAR: 0}, {FAR: 0.001, TAR: tar01}, {FAR: 0.5, TAR: 0.9}, {FAR: 1, TAR: 1}},
			Gallery: 48, Queries: 200, CMC: hits}
	}
	vs := map[int64]*results.Verification{
		1: draw(70, 80, 0.80, 0.10, []int{60, 80, 90, 100, 120}),  // accuracy 150/200
		2: draw(80, 90, 0.84, 0.20, []int{80, 90, 100, 110, 140}), // accuracy 170/200
	}
	variants := []Variant{{Key: "none"}, {Key: "concat", Trials: []results.Trial{{ID: 1, Seed: 1}, {ID: 2, Seed: 2}}}}
	c := BuildVerificationCard(variants, vs)
	if c == nil || len(c.Rows) != 1 {
		t.Fatalf("card %+v, want one row", c)
	}
	r := c.Rows[0]
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if !near(r.Accuracy.Mean, 0.8) || !near(r.AUC.Mean, 0.82) || !near(r.TAR[0].Mean, 0.15) || r.Allowed[0] != 5 || r.Allowed[1] != 50 ||
		!near(r.Rank[0].Mean, 0.35) || !near(r.Rank[4].Mean, 0.65) || c.MaxRank != 5 {
		t.Errorf("row %+v", r)
	}
	// At FAR 0.001 the draws' TARs are 0.1 and 0.2: mean 0.15, band [0.1, 0.2].
	roc := c.rocCurves[0]
	for i, p := range roc.Points {
		if math.Abs(p.FAR-0.001) < 1e-12 && (!near(p.TAR, 0.15) || roc.Lo[i] != 0.1 || roc.Hi[i] != 0.2) {
			t.Errorf("ROC at 0.001: %v [%v, %v]", p.TAR, roc.Lo[i], roc.Hi[i])
		}
	}
	if roc.Points[0].FAR != 1.0/5000 || roc.Points[len(roc.Points)-1].FAR != 1 {
		t.Errorf("ROC grid from %v to %v, want 1/5000 to 1", roc.Points[0].FAR, roc.Points[len(roc.Points)-1].FAR)
	}
	md := c.Markdown()
	for _, want := range []string{
		"| variant | draws | accuracy (threshold from other dogs) | accuracy (best threshold on these pairs) | ROC AUC | TAR at FAR 0.1% | TAR at FAR 1% | one-shot rank-1 | one-shot rank-5 |",
		// Accuracies 0.75 and 0.85 (of 100 genuine and 100 impostor
		// pairs): mean 0.8, standard error 0.05, t(1) 12.706.
		"| concat | 2 | 0.800 [0.165, 1.000] | 0.800 [0.800, 0.800] | 0.820 [0.566, 1.000] | 0.150 [0.000, 0.785] (rests on 5 impostor pairs) | 0.300 [0.300, 0.300] | 0.350 [0.000, 0.985] | 0.650 [0.015, 1.000] |",
		"| DogFaceNet paper (48 unseen dogs, one split) |  |  | 0.92 |  |  |  |  | 0.88 |",
		"TAR at FAR 0.1% rests on 5 impostor pairs let through per draw (fewer than 10)",
		"Raise evaluation.impostor_pairs to 10000 or more",
		"### Differences from the DogFaceNet protocol",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "TAR at FAR 1% rests") {
		t.Error("TAR at 1% (50 pairs) flagged")
	}
	if BuildVerificationCard(variants, nil) != nil {
		t.Error("a card without verification trials")
	}
}
