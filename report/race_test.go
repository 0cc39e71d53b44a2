package report

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

// raceTrial is a made-up trial: its fit CPU, validation accuracy (0:
// pruned) and test accuracy.
type raceTrial struct{ cpu, val, test float64 }

// raceStore holds a grid of four trials per draw and a search of three, on
// draws (seeds) 1 and 2; the search's draw 2 of seed 1 was pruned.
func raceStore(t *testing.T) *results.Store {
	t.Helper()
	ctx := context.Background()
	st, err := results.Open(filepath.Join(t.TempDir(), "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	finish := func(tr *results.Trial, x raceTrial) {
		t.Helper()
		o := results.Outcome{FitCPUSeconds: x.cpu, BestEpoch: 2, StoppedEpoch: 3, Report: metrics.Report{Accuracy: x.test},
			Epochs: []results.Epoch{{Epoch: 1, ValAccuracy: x.val / 2}, {Epoch: 2, ValAccuracy: x.val}, {Epoch: 3, ValAccuracy: x.val - 0.1}}}
		if x.val == 0 {
			o = results.Outcome{Pruned: true, FitCPUSeconds: x.cpu, BestEpoch: 1, StoppedEpoch: 1, Epochs: []results.Epoch{{Epoch: 1, ValAccuracy: 0.05}}}
		}
		if err := st.Finish(ctx, tr.ID, "w", o); err != nil {
			t.Fatal(err)
		}
	}
	grid := map[int64][]raceTrial{
		1: {{3, 0.5, 0.5}, {3, 0.6, 0.55}, {3, 0.7, 0.6}, {3, 0.65, 0.7}},
		2: {{2, 0.4, 0.4}, {2, 0.8, 0.75}, {2, 0.6, 0.5}, {2, 0.7, 0.6}},
	}
	id, err := st.PutExperiment(ctx, results.Experiment{Name: "grid", File: "grid.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	var rows []results.Trial
	for seed := int64(1); seed <= 2; seed++ {
		for i := range grid[seed] {
			rows = append(rows, results.Trial{Hash: fmt.Sprintf("g%d%d", seed, i), Index: int(seed-1)*4 + i, Seed: seed, VariantJSON: "{}", ConfigJSON: "{}"})
		}
	}
	if _, err := st.RegisterTrials(ctx, id, rows); err != nil {
		t.Fatal(err)
	}
	for range rows {
		tr, err := st.Claim(ctx, id, "w", time.Minute, 1)
		if err != nil {
			t.Fatal(err)
		}
		finish(tr, grid[tr.Seed][tr.Index%4])
	}
	searched := map[int64][]raceTrial{
		1: {{1, 0.55, 0.6}, {0.2, 0, 0}, {1, 0.69, 0.65}},
		2: {{1, 0.6, 0.55}, {1, 0.65, 0.6}, {1, 0.75, 0.7}},
	}
	if id, err = st.PutExperiment(ctx, results.Experiment{Name: "search", File: "search.yaml"}); err != nil {
		t.Fatal(err)
	}
	for seed := int64(1); seed <= 2; seed++ {
		for range searched[seed] {
			tr, sm, err := st.DrawSample(ctx, id, fmt.Sprint(seed), 3, "w", func(n int, _ []results.SampleOutcome) (results.Trial, []float64, error) {
				return results.Trial{Hash: fmt.Sprintf("s%d%d", seed, n), Index: n, Seed: seed, VariantJSON: "{}", ConfigJSON: "{}"}, []float64{0}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			finish(tr, searched[seed][sm.N])
		}
	}
	return st
}

// TestRace, worked by hand: by a third of the grid's CPU (4 s of 12 on seed
// 1, 2.67 of 8 on seed 2) the grid has reached 0.5 and 0.4, the search 0.69
// and 0.65; within a point of the grid's best (0.7 and 0.8) the grid gets
// after 9 s (0.75) and 4 s (0.5), the search after 2.2 s (0.18) on seed 1
// and never on seed 2; each chose trials of test accuracy 0.6 and 0.75
// (grid), 0.65 and 0.7 (search).
func TestRace(t *testing.T) {
	st := raceStore(t)
	var methods []RaceMethod
	for _, name := range []string{"grid", "search"} {
		m, err := LoadRace(context.Background(), st, name)
		if err != nil {
			t.Fatal(err)
		}
		methods = append(methods, m)
	}
	r, err := CompareRace(methods, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	want := `Means over 2 draws (seeds 1, 2). CPU is the heads' fit CPU time; "the grid's best" is the grid's best validation accuracy on the same draw.

| method | trials per draw | pruned | fit CPU per draw | of the grid's | best val. accuracy within 1/3 of the grid's CPU | within all of it | at its own end | draws within 1 point of the grid's best by 1/3 of its CPU | CPU to get there, share of the grid's (median) | test accuracy of its choice |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| grid | 4 | 0.0 | 10.0 s | 1.00 | 0.450 | 0.750 | 0.750 | 0 of 2 | 0.62 | 0.675 |
| search | 3 | 0.5 | 2.6 s | 0.28 | 0.670 | 0.720 | 0.720 | 1 of 2 | never | 0.675 |

Per draw: the best validation accuracy within 1/3 of the grid's CPU / the CPU needed to get within 1 point of the grid's best, as a share of the grid's.

| method | seed 1 (grid's best 0.700, 12 s) | seed 2 (grid's best 0.800, 8 s) |
|---|---:|---:|
| grid | 0.500 / 0.75 | 0.400 / 0.50 |
| search | 0.690 / 0.18 | 0.650 / never |
`
	if d := cmp.Diff(want, r.Markdown()); d != "" {
		t.Errorf("race (-want +got):\n%s", d)
	}
	if _, err := CompareRace(methods[:1], 0.01); err == nil {
		t.Error("a race of the grid alone")
	}
	other := RaceMethod{Name: "elsewhere", Draws: map[int64]RaceDraw{7: {}}}
	if _, err := CompareRace([]RaceMethod{methods[0], other}, 0.01); err == nil {
		t.Error("a race on no common draw")
	}
}
