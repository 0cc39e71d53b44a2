package settle

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/stats"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const twoAxes = `name: s
dataset: {path: photos}
backbone: {name: mobilefacenet}
sweep: {head.dropout: [0, 0.25, 0.5], train.lr: [0.001, 0.01]}
seeds: [9]
settle: {by: head.dropout, reference: 0.0, margin: 0.01, round: 2, max_seeds: 8, spending: pocock}
`

func decode(t *testing.T, yaml string) *schemas.Experiment {
	t.Helper()
	e, err := schemas.Decode("s.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// store is what Evaluate reads: trials and their test metrics.
type store struct {
	trials []results.Trial
	m      map[int64]results.TrialMetrics
}

func (s *store) add(variant string, seed int64, fold int, acc float64) {
	id := int64(len(s.trials) + 1)
	s.trials = append(s.trials, results.Trial{ID: id, VariantKey: variant, Seed: seed, Fold: fold, Status: results.StatusDone})
	if s.m == nil {
		s.m = map[int64]results.TrialMetrics{}
	}
	s.m[id] = results.TrialMetrics{TrialID: id, Accuracy: acc, Top5: acc + 0.1}
}

func TestDesign(t *testing.T) {
	d, err := Design(decode(t, twoAxes))
	if err != nil {
		t.Fatal(err)
	}
	want := results.SettleDesign{By: "head.dropout", Reference: "0", Metric: "top1", Margin: 0.01, Alpha: 0.05,
		Round: 2, MaxSeeds: 8, Spending: "pocock", Seeds: []int64{9, 1, 2, 3, 4, 5, 6, 7},
		Comparisons: [][2]string{
			{"head.dropout=0.25, train.lr=0.001", "head.dropout=0, train.lr=0.001"},
			{"head.dropout=0.5, train.lr=0.001", "head.dropout=0, train.lr=0.001"},
			{"head.dropout=0.25, train.lr=0.01", "head.dropout=0, train.lr=0.01"},
			{"head.dropout=0.5, train.lr=0.01", "head.dropout=0, train.lr=0.01"},
		}}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("design (-want +got):\n%s", diff)
	}
}

// TestEvaluatePairsSeedsInOrder: each value against the reference of its
// stratum, on the seeds both have done, in the design's order and stopping
// at the first seed missing; the path is the plan's on those differences.
func TestEvaluatePairsSeedsInOrder(t *testing.T) {
	e := decode(t, twoAxes)
	d, err := Design(e)
	if err != nil {
		t.Fatal(err)
	}
	var s store
	ref, v25, v50 := "head.dropout=0, train.lr=0.001", "head.dropout=0.25, train.lr=0.001", "head.dropout=0.5, train.lr=0.001"
	for i, seed := range d.Seeds[:6] {
		s.add(ref, seed, 0, 0.5)
		s.add(v25, seed, 0, 0.6+0.001*float64(i))
		if seed != 2 { // seed 2 is the fourth in order: v50 stops before it
			s.add(v50, seed, 0, 0.5+0.002*float64(i%2))
		}
	}
	st, err := Evaluate(d, e, s.trials, s.m)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Comparisons) != 4 {
		t.Fatalf("%d comparisons, want 4 (two values in each of two strata)", len(st.Comparisons))
	}
	var got []string
	for _, c := range st.Comparisons {
		got = append(got, fmt.Sprintf("%s | %v | %d looks | %s", st.Label(c), c.Paired, len(c.Looks), c.Decision))
	}
	want := []string{
		"head.dropout=0.25 vs 0 (train.lr=0.001) | [9 1 2 3 4 5] | 1 looks | better",
		"head.dropout=0.5 vs 0 (train.lr=0.001) | [9 1] | 1 looks | continue",
		"head.dropout=0.25 vs 0 (train.lr=0.01) | [] | 0 looks | continue",
		"head.dropout=0.5 vs 0 (train.lr=0.01) | [] | 0 looks | continue",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comparisons (-want +got):\n%s", diff)
	}
	c := st.Comparisons[0]
	if c.Diffs[5] < 0.104 || c.Diffs[5] > 0.106 {
		t.Errorf("difference on seed 5: %v", c.Diffs[5])
	}
	plan, err := Plan(d, 4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(plan.Settle(c.Diffs), c.Settled, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("path is not the plan's (-want +got):\n%s", diff)
	}
	// The first stratum's reference goes on for 0.5, 0.25 is done; the
	// second stratum has not started and needs its first look.
	needs := st.Needs()
	wantNeeds := map[string]int{ref: 4, v50: 4, "head.dropout=0, train.lr=0.01": 2,
		"head.dropout=0.25, train.lr=0.01": 2, "head.dropout=0.5, train.lr=0.01": 2}
	if diff := cmp.Diff(wantNeeds, needs); diff != "" {
		t.Errorf("needs (-want +got):\n%s", diff)
	}
	if st.Decided() || st.Seen() != 6 || st.Level() != 1-0.05/4 {
		t.Errorf("decided %v, seen %d, level %v", st.Decided(), st.Seen(), st.Level())
	}
	if !strings.Contains(st.Summary(c), "head.dropout=0.25 vs 0 (train.lr=0.001): better after 2 seeds (look 1 of 4): difference +0.1005") {
		t.Errorf("summary: %s", st.Summary(c))
	}
	if !strings.Contains(st.Summary(st.Comparisons[2]), "no look yet (0 seeds paired; the first look is at 2)") {
		t.Errorf("summary: %s", st.Summary(st.Comparisons[2]))
	}
}

// TestEvaluateFoldsAndMetric: with k folds a seed counts once all its folds
// are done, as their mean; top5 reads the top-5 accuracy.
func TestEvaluateFoldsAndMetric(t *testing.T) {
	e := decode(t, `name: s
dataset: {path: photos}
split: {kfold: 2}
backbone: {name: mobilefacenet}
sweep: {head.dropout: [0, 0.5]}
settle: {by: head.dropout, metric: top5, margin: 0.01, round: 2, max_seeds: 4}
`)
	d, err := Design(e)
	if err != nil {
		t.Fatal(err)
	}
	var s store
	for _, seed := range []int64{1, 2} {
		for fold := 1; fold <= 2; fold++ {
			s.add("head.dropout=0", seed, fold, 0.5)
			if seed == 1 || fold == 1 {
				s.add("head.dropout=0.5", seed, fold, 0.5+0.01*float64(fold))
			}
		}
	}
	st, err := Evaluate(d, e, s.trials, s.m)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Comparisons[0]
	if len(c.Diffs) != 1 || c.Diffs[0] < 0.0149 || c.Diffs[0] > 0.0151 || c.Next != 2 {
		t.Errorf("seed 2 lacks a fold: got diffs %v, next %d; want [0.015], 2", c.Diffs, c.Next)
	}
	if !strings.Contains(st.Population(), "one fixed split") {
		t.Errorf("population: %s", st.Population())
	}
}

// TestEvaluateResumes: a decided comparison keeps its verdict and its path
// whatever seeds arrive after it stopped, and a state computed from a
// prefix of the outcomes is a prefix of the full one.
func TestEvaluateResumes(t *testing.T) {
	e := decode(t, `name: s
dataset: {path: photos, resample: true}
backbone: {name: mobilefacenet}
sweep: {train.lr: [0.00001, 0.001]}
settle: {by: train.lr, reference: 0.001, margin: 0.01, round: 4, max_seeds: 24}
`)
	d, err := Design(e)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var s store
	var states []*State
	for _, seed := range d.Seeds {
		s.add("train.lr=0.001", seed, 0, 0.6+0.02*r.NormFloat64())
		s.add("train.lr=1e-05", seed, 0, 0.45+0.02*r.NormFloat64())
		st, err := Evaluate(d, e, s.trials, s.m)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
	}
	final := states[len(states)-1].Comparisons[0]
	if final.Decision != stats.Worse {
		t.Fatalf("a 15-point loss: %s", final.Decision)
	}
	stop := final.Settled.Seeds
	if stop >= 24 {
		t.Fatalf("stopped at the cap: nothing arrives after the verdict to test")
	}
	for n, st := range states {
		c := st.Comparisons[0]
		switch {
		case n+1 >= stop:
			if diff := cmp.Diff(final.Settled, c.Settled, cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("after %d seeds the verdict changed (-final +now):\n%s", n+1, diff)
			}
		case !cmp.Equal(c.Looks, final.Looks[:len(c.Looks)], cmpopts.EquateNaNs()):
			t.Errorf("after %d seeds the path is not a prefix of the final one", n+1)
		}
	}
	if !strings.Contains(states[0].Population(), "new draws") {
		t.Errorf("population: %s", states[0].Population())
	}
}
