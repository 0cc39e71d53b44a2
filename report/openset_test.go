package report

import (
	"math"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/openset"
	"github.com/dogrun/dogrun/results"
)

func TestOpenSetCard(t *testing.T) {
	res := func(kind, part string, c openset.Counts) results.OpenSetResult {
		return results.OpenSetResult{Kind: kind, Part: part, Threshold: 0.5, Counts: c}
	}
	val := openset.Counts{Known: 10, KnownCorrect: 8, Unknown: 20, FalseAccepts: 1}
	// Trial 1 keeps max_softmax: FAR 1/10, open-set accuracy (6+9)/20, 3/10 known rejected.
	// Trial 2 keeps centroid_cosine: FAR 3/10, open-set accuracy (5+7)/20, 4/10 known rejected.
	soft1 := openset.Counts{Known: 10, KnownCorrect: 6, KnownRejected: 3, Unknown: 10, FalseAccepts: 1}
	cent2 := openset.Counts{Known: 10, KnownCorrect: 5, KnownRejected: 4, Unknown: 10, FalseAccepts: 3}
	other := openset.Counts{Known: 10, Unknown: 10, FalseAccepts: 10}
	sets := map[int64]*results.OpenSet{
		1: {Rule: openset.Rule{Kind: openset.MaxSoftmax, TargetFAR: 0.05}, UnknownVal: []string{"lassie"}, UnknownTest: []string{"hooch"},
			Results: []results.OpenSetResult{res(openset.MaxSoftmax, results.PartVal, val), res(openset.MaxSoftmax, results.PartTest, soft1),
				res(openset.CentroidCosine, results.PartVal, val), res(openset.CentroidCosine, results.PartTest, other)}},
		2: {Rule: openset.Rule{Kind: openset.CentroidCosine, TargetFAR: 0.05},
			Results: []results.OpenSetResult{res(openset.MaxSoftmax, results.PartVal, val), res(openset.MaxSoftmax, results.PartTest, other),
				res(openset.CentroidCosine, results.PartVal, val), res(openset.CentroidCosine, results.PartTest, cent2)}},
	}
	variants := []Variant{{Key: "none"}, {Key: "a", Trials: []results.Trial{{ID: 1, Seed: 1}, {ID: 2, Seed: 2}}}}
	c := BuildOpenSetCard(variants, sets)
	if c == nil || len(c.Rows) != 3 {
		t.Fatalf("card %+v, want 3 rows for variant a", c)
	}
	chosen := c.Rows[0]
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if chosen.Rule != chosenRule || chosen.Chosen != 2 || !near(chosen.FAR.Mean, 0.2) ||
		!near(chosen.OpenAccuracy.Mean, 0.675) || !near(chosen.KnownRejected.Mean, 0.35) || !near(chosen.ValFAR.Mean, 0.05) {
		t.Errorf("chosen row %+v", chosen)
	}
	if c.Rows[1].Chosen != 1 || c.Rows[2].Chosen != 1 || !near(c.Rows[1].FAR.Mean, 0.55) {
		t.Errorf("per-rule rows %+v %+v", c.Rows[1], c.Rows[2])
	}
	if c.ValPhotos != 20 || c.TestPhotos != 10 || c.KnownTest != 10 {
		t.Errorf("photo counts %d %d %d", c.ValPhotos, c.TestPhotos, c.KnownTest)
	}
	md := c.Markdown()
	for _, want := range []string{"lassie (20 photos) and hooch (10 photos). All 20 photos of the first calibrated",
		"| a | chosen on validation | 2/2 | 0.500 | 0.050 [0.050, 0.050] | 0.200 [0.000, 1.000] | 0.675 ",
		// 1 of 10: the exact interval is [0.0025, 0.4450].
		"| a | 1 | max_softmax | 0.0000 | 1/20 = 0.050 | 1/10 = 0.100 [0.003, 0.445] | 3/10 = 0.300 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if BuildOpenSetCard(variants, nil) != nil {
		t.Error("a card without open-set trials")
	}

	// Calibrated on the pool: the measuring dogs get a column, and the
	// rules are those stored, max_logit among them.
	pool := func(o *results.OpenSet, cal int) *results.OpenSet {
		o.Calibration = results.Calibration{On: results.CalibratedOnPool, Dogs: 315, Photos: cal}
		for _, kind := range []string{openset.MaxSoftmax, openset.CentroidCosine} {
			o.Unknowns = append(o.Unknowns,
				results.UnknownCount{Kind: kind, Set: results.UnknownsCalibration, Dogs: 315, Photos: cal, FalseAccepts: cal / 20},
				results.UnknownCount{Kind: kind, Set: results.UnknownsPool, Dogs: 315, Photos: 1500, FalseAccepts: 90},
				results.UnknownCount{Kind: kind, Set: results.UnknownsTaskVal, Dogs: 1, Photos: 12, FalseAccepts: 2},
				results.UnknownCount{Kind: kind, Set: results.UnknownsTaskTest, Dogs: 1, Photos: 10, FalseAccepts: 1})
		}
		o.Results = append(o.Results, res(openset.MaxLogit, results.PartVal, val), res(openset.MaxLogit, results.PartTest, other))
		return o
	}
	sets[1], sets[2] = pool(sets[1], 1520), pool(sets[2], 1500)
	c = BuildOpenSetCard(variants, sets)
	if len(c.Rows) != 4 || c.Rows[2].Rule != openset.MaxLogit || !c.Pool || c.CalPhotosLo != 1500 || c.CalPhotosHi != 1520 || !near(c.Rows[0].PoolFAR.Mean, 0.06) {
		t.Fatalf("pool card: %+v", c)
	}
	md = c.Markdown()
	// The held-out validation dog's own 12 photos, not the 20 unknown ones of validation.
	for _, want := range []string{"lassie (12 photos) and hooch (10 photos).", "on all photos (1500 to 1520) of a third of the folder's dogs", "FAR on the measuring dogs",
		"| 90/1500 = 0.060 [0.049, 0.073] |"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}
