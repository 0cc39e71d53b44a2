package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
)

// TestTwoRunsShareOneSweep runs two dogrun processes on the same experiment
// and database. They must split the trials, run none twice, and never hit
// "database is locked".
func TestTwoRunsShareOneSweep(t *testing.T) {
	realRunPrereqs(t)
	runs := t.TempDir()
	a, b, outA, outB := twoRuns(t, realExperiment(t, "twoproc.yaml"), runs, "trial 1/6 ")
	// Each trial is trained once in all: its results line appears once.
	if n := strings.Count(outA+outB, " test accuracy "); n != 6 {
		t.Errorf("%d trials trained in all, want 6:\n%s\n%s", n, outA, outB)
	}
	perWorker := map[string]int{}
	for _, tr := range storedTrials(t, filepath.Join(runs, "dogrun.db"), "twoproc") {
		if tr.Status != results.StatusDone || tr.Attempts != 1 {
			t.Errorf("trial %s: %s after %d attempts by %s, want done after 1", tr.Hash[:12], tr.Status, tr.Attempts, tr.Worker)
		}
		perWorker[tr.Worker]++
	}
	wa, wb := a.worker(t), b.worker(t)
	if perWorker[wa] == 0 || perWorker[wb] == 0 || perWorker[wa]+perWorker[wb] != 6 {
		t.Errorf("trials per worker %v, want the 6 split between %s and %s", perWorker, wa, wb)
	}
	t.Logf("trials per worker: %v", perWorker)
}

// twoRuns runs `dogrun run exp` twice on one runs folder, the second from
// when the first's output shows a line starting with first (it holds a
// trial, so both have work to take), and checks that neither failed or met
// a locked database, a taken-over or a failed trial.
func twoRuns(t *testing.T, exp, runs, first string) (a, b *proc, outA, outB string) {
	t.Helper()
	args := []string{"run", exp, "-runs", runs, "-threads", "1"}
	a = startCLI(t, nil, args...)
	if !a.await(t, 3*time.Minute, func(l string) bool { return strings.HasPrefix(l, first) }) {
		t.Fatalf("first run ended early:\n%s", a.output())
	}
	b = startCLI(t, nil, args...)
	outA, errA := a.wait()
	outB, errB := b.wait()
	if errA != nil || errB != nil {
		t.Fatalf("a: %v\n%s\nb: %v\n%s", errA, outA, errB, outB)
	}
	for name, out := range map[string]string{"a": outA, "b": outB} {
		for _, bad := range []string{"locked", "busy", "taken over", "failed:"} {
			if strings.Contains(out, bad) {
				t.Errorf("run %s says %q:\n%s", name, bad, out)
			}
		}
	}
	return a, b, outA, outB
}

// TestTwoRunsShareOneSearch runs two dogrun processes on one search. Each
// draw is made once (its index stored once) and trained once, by one of
// them; the confirmations are registered once and trained once.
func TestTwoRunsShareOneSearch(t *testing.T) {
	realRunPrereqs(t)
	runs := t.TempDir()
	a, b, outA, outB := twoRuns(t, realExperiment(t, "twoproc_search.yaml"), runs, "trial 1/14 ")
	both := outA + outB
	// Each trial ends once in all: tested, or pruned.
	if n := strings.Count(both, " test accuracy ") + strings.Count(both, " pruned after epoch "); n != 14 {
		t.Errorf("%d trials ended in all, want 14:\n%s\n%s", n, outA, outB)
	}
	if n := strings.Count(both, "search of seed 5 finished"); n != 1 {
		t.Errorf("confirmations registered %d times:\n%s\n%s", n, outA, outB)
	}
	db := filepath.Join(runs, "dogrun.db")
	perWorker := map[string]int{}
	for _, tr := range storedTrials(t, db, "twoproc-search") {
		if (tr.Status != results.StatusDone && tr.Status != results.StatusPruned) || tr.Attempts != 1 {
			t.Errorf("trial %s: %s after %d attempts by %s, want done or pruned after 1", tr.Hash[:12], tr.Status, tr.Attempts, tr.Worker)
		}
		perWorker[tr.Worker]++
	}
	wa, wb := a.worker(t), b.worker(t)
	if perWorker[wa] == 0 || perWorker[wb] == 0 || perWorker[wa]+perWorker[wb] != 14 {
		t.Errorf("trials per worker %v, want the 14 split between %s and %s", perWorker, wa, wb)
	}
	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := st.Experiment(context.Background(), "twoproc-search")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.SearchRecords(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	var draws []int
	confirms := 0
	for _, r := range recs {
		if r.Rank == 0 {
			draws = append(draws, r.Sample)
		} else {
			confirms++
		}
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(draws, want) || confirms != 4 {
		t.Errorf("draws %v and %d confirmations, want %v and 4", draws, confirms, want)
	}
	t.Logf("trials per worker: %v", perWorker)
}
