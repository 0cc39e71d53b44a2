package results

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// drawTrial is a Draw whose trial and point say n; seen collects the
// histories it was given.
func drawTrial(seen *[][]SampleOutcome) Draw {
	return func(n int, history []SampleOutcome) (Trial, []float64, error) {
		if seen != nil {
			*seen = append(*seen, history)
		}
		return Trial{Hash: fmt.Sprintf("s%d", n), Index: n, Seed: 1, VariantKey: fmt.Sprintf("#%d", n+1),
			VariantJSON: "{}", ConfigJSON: "{}"}, []float64{float64(n) / 10}, nil
	}
}

func curve(vals ...float64) []Epoch {
	out := make([]Epoch, len(vals))
	for i, v := range vals {
		out[i] = Epoch{Epoch: i + 1, ValAccuracy: v, ValLoss: 1 - v}
	}
	return out
}

func TestDrawSampleRecordsItsHistory(t *testing.T) {
	onBoth(t, testDrawSampleRecordsItsHistory)
}

func testDrawSampleRecordsItsHistory(t *testing.T, s *Store, _ *clock) {
	ctx := context.Background()
	id, err := s.PutExperiment(ctx, Experiment{Name: "search", File: "s.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	var seen [][]SampleOutcome
	draw := func(worker string) (*Trial, *SearchSample) {
		t.Helper()
		tr, sm, err := s.DrawSample(ctx, id, "study", 3, worker, drawTrial(&seen))
		if err != nil {
			t.Fatal(err)
		}
		return tr, sm
	}
	t0, s0 := draw("a")
	t1, s1 := draw("b")
	if t0.Status != StatusRunning || t0.Worker != "a" || t0.Attempts != 1 || s0.N != 0 || s1.N != 1 || t1.Hash != "s1" {
		t.Fatalf("draws %+v %+v / %+v %+v", t0, s0, t1, s1)
	}
	// Draw 0 completes (its best epoch 2 counts), draw 1 is pruned at
	// epoch 1 (its last epoch counts); draw 2 is made from both.
	if err := s.Finish(ctx, t0.ID, "a", Outcome{Epochs: curve(0.2, 0.6, 0.5), BestEpoch: 2, StoppedEpoch: 3,
		Classes: []string{}, FitCPUSeconds: 1.5}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, t1.ID, "b", Outcome{Pruned: true, Epochs: curve(0.1), BestEpoch: 1, StoppedEpoch: 1}); err != nil {
		t.Fatal(err)
	}
	_, s2 := draw("a")
	want := []SampleOutcome{
		{N: 0, Point: []float64{0}, Epoch: 2, ValAccuracy: 0.6, ValLoss: 0.4},
		{N: 1, Point: []float64{0.1}, Pruned: true, Epoch: 1, ValAccuracy: 0.1, ValLoss: 0.9},
	}
	if diff := cmp.Diff(want, seen[2]); diff != "" {
		t.Errorf("history of draw 2 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&SearchSample{Study: "study", N: 2, TrialID: s2.TrialID, Point: []float64{0.2}, History: []int{0, 1}}, s2); diff != "" {
		t.Errorf("draw 2 (-want +got):\n%s", diff)
	}
	if tr, sm, err := s.DrawSample(ctx, id, "study", 3, "a", drawTrial(nil)); tr != nil || sm != nil || err != nil {
		t.Errorf("a fourth draw of three: %+v %+v %v", tr, sm, err)
	}
	// Another study of the experiment counts from 0.
	if _, sm, err := s.DrawSample(ctx, id, "other", 3, "a", func(n int, h []SampleOutcome) (Trial, []float64, error) {
		if n != 0 || len(h) != 0 {
			t.Errorf("other study: n %d, history %v", n, h)
		}
		return Trial{Hash: "o0", VariantJSON: "{}", ConfigJSON: "{}"}, []float64{1}, nil
	}); err != nil || sm.N != 0 {
		t.Errorf("other study: %+v %v", sm, err)
	}

	trials, err := s.Trials(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]TrialStatus{}
	for _, tr := range trials {
		status[tr.Hash] = tr.Status
		if tr.Hash == "s0" && tr.FitCPUSeconds != 1.5 {
			t.Errorf("s0 fit CPU %g s, want 1.5", tr.FitCPUSeconds)
		}
	}
	if diff := cmp.Diff(map[string]TrialStatus{"s0": StatusDone, "s1": StatusPruned, "s2": StatusRunning, "o0": StatusRunning}, status); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	// A pruned trial has no test results.
	m, err := s.TestMetrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m[t1.ID]; ok || countRows(t, s, "epochs", t1.ID) != 1 {
		t.Errorf("pruned trial: metrics %v, %d epochs", m, countRows(t, s, "epochs", t1.ID))
	}
	// A failing draw stores nothing.
	boom := errors.New("boom")
	if _, _, err := s.DrawSample(ctx, id, "other", 3, "a", func(int, []SampleOutcome) (Trial, []float64, error) {
		return Trial{}, nil, boom
	}); !errors.Is(err, boom) {
		t.Errorf("failing draw: %v", err)
	}
	if _, sm, err := s.DrawSample(ctx, id, "other", 3, "a", func(n int, _ []SampleOutcome) (Trial, []float64, error) {
		return Trial{Hash: fmt.Sprintf("o%d", n), VariantJSON: "{}", ConfigJSON: "{}"}, []float64{1}, nil
	}); err != nil || sm.N != 1 {
		t.Errorf("the draw after a failed one: %+v %v, want n 1", sm, err)
	}
}

// Workers on two connections draw at once: every index is drawn once, by
// one of them, up to the budget.
func TestConcurrentDrawsNeverRepeatAnIndex(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) { concurrentDraws(t, newTarget(t, kind)) })
	}
}

func concurrentDraws(t *testing.T, target string) {
	ctx := context.Background()
	var stores []*Store
	for range 2 {
		s, err := Open(target)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	id, err := stores[0].PutExperiment(ctx, Experiment{Name: "search", File: "s.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	const budget = 40
	var (
		mu    sync.Mutex
		drawn = map[int]string{}
		wg    sync.WaitGroup
	)
	for si, s := range stores {
		for g := range 2 {
			worker := fmt.Sprintf("store%d-g%d", si, g)
			wg.Go(func() {
				for {
					tr, sm, err := s.DrawSample(ctx, id, "study", budget, worker, drawTrial(nil))
					if err == nil && tr != nil {
						err = s.Finish(ctx, tr.ID, worker, Outcome{Epochs: curve(0.5), BestEpoch: 1, StoppedEpoch: 1})
					}
					if err != nil {
						t.Error(err)
						return
					}
					if tr == nil {
						return
					}
					mu.Lock()
					if prev, dup := drawn[sm.N]; dup {
						t.Errorf("draw %d made by %s and %s", sm.N, prev, worker)
					}
					drawn[sm.N] = worker
					if len(sm.History) > sm.N {
						t.Errorf("draw %d has %d finished draws before it", sm.N, len(sm.History))
					}
					mu.Unlock()
					time.Sleep(time.Millisecond) // a trial's training, during which others draw
				}
			})
		}
	}
	wg.Wait()
	if len(drawn) != budget {
		t.Errorf("%d draws, want %d", len(drawn), budget)
	}
	per := map[string]int{}
	for _, w := range drawn {
		per[w]++
	}
	t.Logf("draws per worker: %v", per)
}

func TestRecordEpochsAndStudyCurves(t *testing.T) {
	onBoth(t, testRecordEpochsAndStudyCurves)
}

func testRecordEpochsAndStudyCurves(t *testing.T, s *Store, _ *clock) {
	ctx := context.Background()
	id, err := s.PutExperiment(ctx, Experiment{Name: "search", File: "s.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := s.DrawSample(ctx, id, "study", 5, "a", drawTrial(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.DrawSample(ctx, id, "study", 5, "b", drawTrial(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, a.ID, "a", Outcome{Epochs: curve(0.3, 0.4, 0.45), BestEpoch: 3, StoppedEpoch: 3}); err != nil {
		t.Fatal(err)
	}
	// b's curve so far replaces what it stored before; only b may store it.
	for _, c := range [][]Epoch{curve(0.9, 0.9, 0.9, 0.9), curve(0.2, 0.35)} {
		if err := s.RecordEpochs(ctx, b.ID, "b", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordEpochs(ctx, b.ID, "a", curve(0.1)); !errors.Is(err, ErrNotOwned) {
		t.Errorf("another worker recorded b's epochs: %v", err)
	}
	got, err := s.StudyCurves(ctx, id, "study", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []StudyCurve{{TrialID: a.ID, Complete: true, Epochs: curve(0.3, 0.4)}, {TrialID: b.ID, Epochs: curve(0.2, 0.35)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("curves to epoch 2 (-want +got):\n%s", diff)
	}
	all, err := s.StudyCurves(ctx, id, "study", 0)
	if err != nil || len(all) != 2 || len(all[0].Epochs) != 3 {
		t.Errorf("all curves: %+v %v", all, err)
	}
	// A trial without epochs yet has an empty curve; NaN scores read back.
	c, _, err := s.DrawSample(ctx, id, "study", 5, "c", drawTrial(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEpochs(ctx, b.ID, "b", []Epoch{{Epoch: 1, ValAccuracy: math.NaN()}}); err != nil {
		t.Fatal(err)
	}
	got, err = s.StudyCurves(ctx, id, "study", 5)
	if err != nil || len(got) != 3 || got[2].TrialID != c.ID || got[2].Epochs != nil || !math.IsNaN(got[1].Epochs[0].ValAccuracy) {
		t.Errorf("curves with a new draw: %+v %v", got, err)
	}
}

func TestConfirmationsAndKeepSearch(t *testing.T) {
	onBoth(t, testConfirmationsAndKeepSearch)
}

func testConfirmationsAndKeepSearch(t *testing.T, s *Store, _ *clock) {
	ctx := context.Background()
	id := experimentWithTrials(t, s, 2) // a sweep's trials, before the file became a search
	for n := range 2 {
		if _, _, err := s.DrawSample(ctx, id, "old", 5, "a", func(n int, _ []SampleOutcome) (Trial, []float64, error) {
			return Trial{Hash: fmt.Sprintf("old%d", n), VariantJSON: "{}", ConfigJSON: "{}"}, []float64{1}, nil
		}); err != nil {
			t.Fatal(err, n)
		}
	}
	tr, _, err := s.DrawSample(ctx, id, "new", 5, "a", drawTrial(nil))
	if err != nil {
		t.Fatal(err)
	}
	cs := []Confirmation{
		{Trial: Trial{Hash: "c1", Index: 10, Seed: 2, VariantKey: "#1", VariantJSON: "{}", ConfigJSON: "{}"}, Sample: 0, Rank: 1},
		{Trial: Trial{Hash: "c2", Index: 11, Seed: 3, VariantKey: "#1", VariantJSON: "{}", ConfigJSON: "{}"}, Sample: 0, Rank: 1},
	}
	for round, want := range []int{2, 0} {
		n, err := s.RegisterConfirmations(ctx, id, "new", cs)
		if err != nil || n != want {
			t.Fatalf("round %d: %d new confirmations, %v; want %d", round, n, err, want)
		}
	}
	if err := s.KeepSearch(ctx, id, []string{"new"}); err != nil {
		t.Fatal(err)
	}
	trials, err := s.Trials(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, tr := range trials {
		hashes = append(hashes, tr.Hash)
	}
	if diff := cmp.Diff([]string{"s0", "c1", "c2"}, hashes); diff != "" {
		t.Errorf("current trials (-want +got):\n%s", diff)
	}
	recs, err := s.SearchRecords(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wantRecs := []SearchRecord{
		{TrialID: tr.ID, Study: "new", Sample: 0, Point: []float64{0}, History: []int{}},
		{TrialID: trials[1].ID, Study: "new", Sample: 0, Rank: 1},
		{TrialID: trials[2].ID, Study: "new", Sample: 0, Rank: 1},
	}
	if diff := cmp.Diff(wantRecs, recs); diff != "" {
		t.Errorf("search records (-want +got):\n%s", diff)
	}
	// The old study comes back when it is the current one again.
	if err := s.KeepSearch(ctx, id, []string{"old"}); err != nil {
		t.Fatal(err)
	}
	if trials, err := s.Trials(ctx, id); err != nil || len(trials) != 2 || trials[0].Hash != "old0" {
		t.Errorf("after keeping the old study: %+v %v", trials, err)
	}
}
