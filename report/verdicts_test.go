package report

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

// verdictTrial is a planned fixture trial: a variant, a seed and which of
// the 20 test photos it gets right.
type fixtureTrial struct {
	variant, value string
	seed           int64
	config         string
	photos         []string
	right          func(photo int) bool
}

func photoNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d.jpg", prefix, i)
	}
	return out
}

// verdictStore stores finished trials with the given per-photo outcomes.
func verdictStore(t *testing.T, name string, specs []fixtureTrial) (*results.Store, results.Experiment) {
	t.Helper()
	ctx := context.Background()
	st, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	id, err := st.PutExperiment(ctx, results.Experiment{Name: name, File: name + ".yaml"})
	if err != nil {
		t.Fatal(err)
	}
	var trials []results.Trial
	for i, s := range specs {
		cfg := s.config
		if cfg == "" {
			cfg = `{"split":{"leaky":false}}`
		}
		trials = append(trials, results.Trial{Hash: fmt.Sprintf("%064d", i), Index: i, Seed: s.seed,
			VariantKey: s.variant + "=" + s.value, VariantJSON: `{"` + s.variant + `":` + s.value + `}`, ConfigJSON: cfg})
	}
	if _, err := st.RegisterTrials(ctx, id, trials); err != nil {
		t.Fatal(err)
	}
	classes := []string{"a", "b"}
	for _, s := range specs {
		tr, err := st.Claim(ctx, id, "w", time.Minute, 1)
		if err != nil || tr == nil {
			t.Fatal(tr, err)
		}
		var labels []int
		var probs [][]float32
		var preds []results.Prediction
		for i, photo := range s.photos {
			y := i % 2
			pred := y
			if !s.right(i) {
				pred = 1 - y
			}
			p := []float32{0.1, 0.1}
			p[pred] = 0.9
			labels, probs = append(labels, y), append(probs, p)
			preds = append(preds, results.Prediction{Photo: photo, True: y, Pred: pred})
		}
		rep, err := metrics.Evaluate(labels, probs, classes)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Finish(ctx, tr.ID, "w", results.Outcome{Classes: classes, Report: rep, Predictions: preds}); err != nil {
			t.Fatal(err)
		}
	}
	exp, err := st.Experiment(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return st, exp
}

// dropoutFixture: on 20 test photos the reference (dropout 0) gets photos
// 0-9 right in every seed; 0.25 swaps photo 0 for photo 10 (same accuracy,
// one discordant photo each way); 0.5 also gets photos 10..10+seed-1 right,
// so it beats the reference by seed/20 in seed 1..6.
func dropoutFixture(values ...string) []fixtureTrial {
	photos := photoNames("p", 20)
	var specs []fixtureTrial
	for _, v := range values {
		for seed := int64(1); seed <= 6; seed++ {
			right := func(i int) bool { return i < 10 }
			switch v {
			case "0.25":
				right = func(i int) bool { return i >= 1 && i <= 10 }
			case "0.5":
				right = func(i int) bool { return i < 10+int(seed) }
			}
			specs = append(specs, fixtureTrial{variant: "head.dropout", value: v, seed: seed, photos: photos, right: right})
		}
	}
	return specs
}

func TestVerdictsKnownValues(t *testing.T) {
	st, exp := verdictStore(t, "dropout", dropoutFixture("0", "0.25", "0.5"))
	v, err := ComputeVerdicts(context.Background(), st, exp, "head.dropout", "0.0")
	if err != nil {
		t.Fatal(err)
	}
	if v.By != "head.dropout" || v.Reference != "0" || len(v.Rows) != 3 {
		t.Fatalf("verdicts: %+v", v)
	}
	ref, same, better := v.Rows[0], v.Rows[1], v.Rows[2]
	if !ref.Reference || ref.Accuracy.N != 6 || ref.Accuracy.Mean != 0.5 || ref.Verdict != "reference" {
		t.Errorf("reference row: %+v", ref)
	}

	// 0.25: every paired difference is 0, so Wilcoxon has no pair left
	// (p = 1); McNemar has b = c = 1 in each seed (p = 1).
	if same.Wilcoxon == nil || same.Wilcoxon.N != 0 || same.Wilcoxon.P != 1 || len(same.McNemar) != 6 || same.McNemar[0].P != 1 {
		t.Errorf("0.25 row: %+v", same)
	}

	// 0.5: differences 1/20..6/20, all positive: W+ = 21, W- = 0, exact p =
	// 2/2^6 = 0.03125, rank-biserial r = 1. McNemar per seed s has b = s,
	// c = 0: p = 2 * 0.5^s = 1, .5, .25, .125, .0625, .03125 -> one below
	// 0.05, median (of 6, the 4th smallest) 0.25.
	w := better.Wilcoxon
	if w == nil || w.N != 6 || w.WPlus != 21 || w.WMinus != 0 || math.Abs(w.P-0.03125) > 1e-15 || w.Effect != 1 {
		t.Fatalf("0.5 Wilcoxon: %+v", w)
	}
	var ps []float64
	for _, m := range better.McNemar {
		ps = append(ps, m.P)
	}
	if d := cmp.Diff([]float64{1, 0.5, 0.25, 0.125, 0.0625, 0.03125}, ps); d != "" {
		t.Errorf("McNemar p per seed (-want +got):\n%s", d)
	}
	if better.McNemarSig != 1 {
		t.Errorf("McNemar significant in %d seeds, want 1", better.McNemarSig)
	}
	// Paired bootstrap: photo 10 is right under 0.5 in 6 seeds, photo 11 in
	// 5, ..., photo 15 in 1: (6+5+4+3+2+1) / (20 photos x 6 seeds) = 0.175.
	if better.Diff == nil || math.Abs(better.Diff.Estimate-0.175) > 1e-15 || !(better.Diff.Lo > 0 && better.Diff.Hi > better.Diff.Estimate) {
		t.Errorf("0.5 bootstrap: %+v", better.Diff)
	}
	if math.Abs(better.MeanDiff-0.175) > 1e-12 {
		t.Errorf("mean paired difference %v, want 0.175", better.MeanDiff)
	}
	// Holm over the two comparisons: 0.03125 * 2 = 0.0625 > 0.05, so even
	// the clear winner is "no significant difference" once both are tested.
	if math.Abs(better.PHolm-0.0625) > 1e-15 || same.PHolm != 1 {
		t.Errorf("Holm: 0.5 %v, 0.25 %v; want 0.0625 and 1", better.PHolm, same.PHolm)
	}
	if better.Verdict != "no significant difference (too few replicates to show one)" {
		t.Errorf("0.5 verdict %q", better.Verdict)
	}
	// 6 pairs and 2 comparisons: the best possible Holm p is 2 * 2/2^6.
	if !strings.Contains(strings.Join(v.Table().Notes, " "), "with 6 paired replicates and 2 comparisons the smallest possible Holm-adjusted p is 0.0625 > 0.05") {
		t.Errorf("notes: %q", v.Table().Notes)
	}

	// Alone with the reference, Holm leaves 0.03125: better.
	st2, exp2 := verdictStore(t, "pair", dropoutFixture("0", "0.5"))
	v2, err := ComputeVerdicts(context.Background(), st2, exp2, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := v2.Rows[1]; got.Verdict != "better" || got.PHolm != 0.03125 {
		t.Errorf("two variants: verdict %q, Holm p %v", got.Verdict, got.PHolm)
	}
	if notes := v2.Table().Notes; len(notes) != 0 {
		t.Errorf("6 pairs, 1 comparison: notes %q", notes)
	}
	// With 0.5 as the reference, 0 is worse.
	v3, err := ComputeVerdicts(context.Background(), st2, exp2, "head.dropout", "0.5")
	if err != nil {
		t.Fatal(err)
	}
	if got := v3.Rows[0]; got.Value != "0" || got.Verdict != "worse" {
		t.Errorf("reversed: %+v", got)
	}

	md := v.Markdown()
	for _, want := range []string{"## Verdicts: head.dropout", "| head.dropout=0.5 | 6 | 0.675 ± ", "+0.175 [+0.", "median 0.250, 1/6 < 0.05", "0.031 | 0.062 | +1.00 / ", "| head.dropout=0 | 6 | 0.500 ± 0.000 [0.500, 0.500] | reference |", "the same accuracy in every replicate"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if html := string(v.HTML()); !strings.Contains(html, "<th>Holm p</th>") || !strings.Contains(html, "Δ vs head.dropout=0") {
		t.Errorf("html:\n%s", html)
	}
}

func TestVerdictsErrors(t *testing.T) {
	st, exp := verdictStore(t, "dropout", dropoutFixture("0", "0.5"))
	ctx := context.Background()
	if _, err := ComputeVerdicts(ctx, st, exp, "train.lr", ""); err == nil || !strings.Contains(err.Error(), "axes: head.dropout") {
		t.Errorf("unknown axis: %v", err)
	}
	if _, err := ComputeVerdicts(ctx, st, exp, "", "0.9"); err == nil || !strings.Contains(err.Error(), "values: 0, 0.5") {
		t.Errorf("unknown reference: %v", err)
	}
}

func TestVerdictsLeakyVersusHonest(t *testing.T) {
	// The leaky rows test other photos (copies named photo#view), so only the
	// across-seed test applies and the row says LEAKY.
	var specs []fixtureTrial
	for seed := int64(1); seed <= 6; seed++ {
		specs = append(specs,
			fixtureTrial{variant: "split.leaky", value: "false", seed: seed, photos: photoNames("p", 20), right: func(i int) bool { return i < 10 }},
			fixtureTrial{variant: "split.leaky", value: "true", seed: seed, config: `{"split":{"leaky":true}}`, photos: photoNames("p#", 20),
				right: func(i int) bool { return i < 17 }})
	}
	st, exp := verdictStore(t, "leaky", specs)
	v, err := ComputeVerdicts(context.Background(), st, exp, "", "")
	if err != nil {
		t.Fatal(err)
	}
	leaky := v.Rows[1]
	if !leaky.Leaky || leaky.Diff != nil || leaky.McNemar != nil || leaky.Wilcoxon == nil || math.Abs(leaky.MeanDiff-0.35) > 1e-12 {
		t.Errorf("leaky row: %+v", leaky)
	}
	md := v.Markdown()
	if !strings.Contains(md, "split.leaky=true (LEAKY)") || !strings.Contains(md, "+0.350 (paired mean)") || !strings.Contains(md, "inflated") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestSplitCard(t *testing.T) {
	units := []results.SplitUnit{
		// Class a: a burst of 3 (group 0) in test, two singles in training.
		{Photo: "a/1", Class: 0, Group: 0, Part: results.PartTest},
		{Photo: "a/2", Class: 0, Group: 0, Part: results.PartTest},
		{Photo: "a/3", Class: 0, Group: 0, Part: results.PartTest},
		{Photo: "a/4", Class: 0, Group: 1, Part: results.PartTrain},
		{Photo: "a/5", Class: 0, Group: 2, Part: results.PartVal},
		// Class b: a pair (group 3) in training, one test photo.
		{Photo: "b/1", Class: 1, Group: 3, Part: results.PartTrain},
		{Photo: "b/2", Class: 1, Group: 3, Part: results.PartTrain},
		{Photo: "b/3", Class: 1, Group: 4, Part: results.PartTest},
	}
	leaky := results.Split{Leaky: true, Classes: []string{"a", "b"}, Units: []results.SplitUnit{
		{Photo: "a/1", View: 0, Part: results.PartTrain}, {Photo: "a/1", View: 1, Part: results.PartTest},
		{Photo: "a/2", View: 1, Part: results.PartTest},
	}}
	c := BuildSplitCard([]results.Split{{Method: "phash", Threshold: 8, Views: 2, Classes: []string{"a", "b"}, Units: units,
		CrossClass: []results.CrossClassPair{{A: "a/9", B: "b/9"}}}, leaky})
	want := &SplitCard{Method: "phash", Threshold: 8, Views: 2, Classes: 2, Photos: 8, Groups: 2, GroupedPhotos: 5, LargestGroup: 3,
		Parts: []PartCount{{Fold: 0, Train: 3, Val: 1, Test: 4}},
		PerClass: []ClassCount{
			{Name: "a", Photos: 5, Groups: 1, GroupedPhotos: 3, Train: 1, Val: 1, Test: 3},
			{Name: "b", Photos: 3, Groups: 1, GroupedPhotos: 2, Train: 2, Test: 1},
		},
		Cross: []results.CrossClassPair{{A: "a/9", B: "b/9"}},
		Leaky: &LeakyCount{TestRows: 2, CopiesInTraining: 1},
	}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("split card (-want +got):\n%s", d)
	}
	md := c.Markdown()
	for _, s := range []string{"8 photos of 2 classes.", "2 groups holding 5 photos (the largest 3)", "| holdout | 3 | 1 | 4 |",
		"| a | 5 | 1 (3) | 1 | 1 | 3 |", "a/9 and b/9 are the same photo", "1 of its 2 test rows have a copy"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	if BuildSplitCard(nil) != nil {
		t.Error("a card without splits")
	}
}
