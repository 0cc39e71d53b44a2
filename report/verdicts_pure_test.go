package report

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// handTrial is a done trial of variant key (one or two axes, as JSON in
// axis order) whose photo i is right when right(i), out of n photos.
func handTrial(number int, json, key string, seed int64, n int, right func(i int) bool) VerdictTrial {
	t := VerdictTrial{Number: number, VariantKey: key, VariantJSON: json, Seed: seed, Done: true}
	hits := 0
	for i := range n {
		ok := right(i)
		if ok {
			hits++
		}
		// Top-5 also counts the next two photos.
		t.Photos = append(t.Photos, PhotoOutcome{Photo: fmt.Sprintf("p%02d", i), Top1: ok, Top5: ok || right(i-2)})
	}
	t.Accuracy = float64(hits) / float64(n)
	top5 := 0
	for _, p := range t.Photos {
		if p.Top5 {
			top5++
		}
	}
	t.Top5 = float64(top5) / float64(n)
	return t
}

// TestCompareTrialsOneSeed: with one seed the Wilcoxon test cannot run (its
// p could only be 1); the table says n/a and why, McNemar and the bootstrap
// still compare the photos, and no comparison enters Holm's correction.
func TestCompareTrialsOneSeed(t *testing.T) {
	trials := []VerdictTrial{
		handTrial(1, `{"x":0}`, "x=0", 1, 20, func(i int) bool { return i >= 0 && i < 10 }),
		handTrial(2, `{"x":1}`, "x=1", 1, 20, func(i int) bool { return i >= 0 && i < 15 }),
	}
	v, err := CompareTrials("one", trials, VerdictOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Rows[1]
	// McNemar: 5 photos right only under x=1, none the other way: p = 2/2^5.
	if r.Pairs != 1 || r.Wilcoxon != nil || !math.IsNaN(r.PHolm) || len(r.McNemar) != 1 || r.McNemar[0].P != 0.0625 || r.Diff == nil || r.MeanDiff != 0.25 {
		t.Fatalf("row: %+v", r)
	}
	if r.Verdict != "no verdict: one seed is too few for a test across seeds" {
		t.Errorf("verdict %q", r.Verdict)
	}
	if v.Notes.SingleReplicate != 1 || v.Notes.Comparisons != 0 || v.Notes.TooFew != nil || v.Notes.Need != 6 {
		t.Errorf("notes %+v", v.Notes)
	}
	tab := v.Table()
	if got := tab.Rows[1][5]; got != "n/a (1 seed: too few)" {
		t.Errorf("Wilcoxon cell %q", got)
	}
	if notes := strings.Join(tab.Notes, "\n"); !strings.Contains(notes, "With a single seed in common with the reference (1 row), the Wilcoxon test across seeds cannot run") ||
		!strings.Contains(notes, "a verdict needs at least 6 seeds") {
		t.Errorf("notes:\n%s", notes)
	}
}

// TestCompareTrialsStrataAndFilters: with two axes each value of x is
// compared with x=0 within each value of y; Where keeps one stratum, and
// top-5 counts the photos top-5 calls right. Trials not done take no part.
func TestCompareTrialsStrataAndFilters(t *testing.T) {
	var trials []VerdictTrial
	for _, y := range []string{"a", "b"} {
		for _, x := range []int{0, 1} {
			for seed := int64(1); seed <= 3; seed++ {
				extra := x * int(seed) // x=1 gets seed more photos right
				trials = append(trials, handTrial(len(trials)+1, fmt.Sprintf(`{"x":%d,"y":"%s"}`, x, y), fmt.Sprintf("x=%d, y=%s", x, y), seed, 20,
					func(i int) bool { return i < 10+extra }))
			}
		}
	}
	trials = append(trials, VerdictTrial{Number: 13, VariantKey: "x=2, y=a", VariantJSON: `{"x":2,"y":"a"}`, Seed: 1})
	v, err := CompareTrials("strata", trials, VerdictOptions{By: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range v.Rows {
		got = append(got, r.Stratum+" "+r.Value)
	}
	if want := "y=a 0|y=a 1|y=b 0|y=b 1"; strings.Join(got, "|") != want {
		t.Errorf("rows %q, want %q (x=2 is not done)", strings.Join(got, "|"), want)
	}
	// Differences 1/20, 2/20, 3/20: W+ = 6, exact p = 2/8 = 0.25, Holm over
	// 2 comparisons: 0.5; 3 replicates cannot reach 0.05 (2 * 2/2^3).
	b := v.Rows[3]
	if b.Wilcoxon == nil || b.Wilcoxon.P != 0.25 || b.PHolm != 0.5 || v.Notes.Comparisons != 2 {
		t.Errorf("y=b row: %+v", b)
	}
	if f := v.Notes.TooFew; f == nil || f.Replicates != 3 || f.Comparisons != 2 || f.BestP != 0.5 || f.Need != 7 {
		t.Errorf("too-few note %+v", f)
	}

	// One stratum, top-5: x=0 gets photos 0..11 within its top 5 (12/20).
	v, err = CompareTrials("strata", trials, VerdictOptions{By: "x", Where: []string{"y=a"}, Metric: "top5"})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Rows) != 2 || v.Rows[0].Accuracy.Mean != 0.6 || v.Notes.Comparisons != 1 || !v.Notes.Top5 {
		t.Fatalf("y=a, top-5: %+v, notes %+v", v.Rows, v.Notes)
	}
	notes := strings.Join(v.Table().Notes, "\n")
	for _, want := range []string{"with 3 paired replicates and 1 comparison the smallest possible Holm-adjusted p is 0.25", "Only trials with y=a.", "top-5 accuracy"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if _, err := CompareTrials("strata", trials, VerdictOptions{By: "x", Metric: "top3"}); err == nil {
		t.Error("metric top3 accepted")
	}
	if _, err := CompareTrials("flat", []VerdictTrial{{Number: 1, VariantJSON: "[1]"}}, VerdictOptions{}); err == nil || !strings.Contains(err.Error(), "trial 1: bad variant") {
		t.Errorf("bad variant: %v", err)
	}
}
