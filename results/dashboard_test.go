package results

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// claimAs claims the experiment's next trial for worker, which must get one.
func claimAs(t *testing.T, s *Store, expID int64, worker string) *Trial {
	t.Helper()
	tr, err := s.Claim(context.Background(), expID, worker, time.Minute, 3)
	if err != nil || tr == nil {
		t.Fatalf("claim by %s: %+v, %v", worker, tr, err)
	}
	return tr
}

// finishWith finishes a claimed trial with sampleOutcome, its accuracy set
// to acc and its variant's other metrics derived from it.
func finishWith(t *testing.T, s *Store, tr *Trial, worker string, acc float64) {
	t.Helper()
	o := sampleOutcome(t)
	o.Report.Accuracy, o.Report.Top5, o.Report.Macro.F1 = acc, math.Min(1, acc+0.1), acc/2
	if err := s.Finish(context.Background(), tr.ID, worker, o); err != nil {
		t.Fatal(err)
	}
}

// dashboardFixture: 6 trials in 3 variants (two each, lr=0 lr=1 lr=2 by
// index % 3): trials 0-3 done with accuracies 0.5, 0.6, 0.7, 0.8, trial 4
// running, trial 5 pending.
func dashboardFixture(t *testing.T, s *Store, c *clock) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := s.PutExperiment(ctx, Experiment{Name: "exp", File: "exp.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	trials := makeTrials(6)
	for i := range trials {
		trials[i].VariantKey = []string{"lr=0", "lr=1", "lr=2"}[i%3]
		trials[i].VariantJSON = []string{`{"lr":0}`, `{"lr":1}`, `{"lr":2}`}[i%3]
	}
	if _, err := s.RegisterTrials(ctx, id, trials); err != nil {
		t.Fatal(err)
	}
	for i, acc := range []float64{0.5, 0.6, 0.7, 0.8} {
		c.advance(time.Second)
		tr := claimAs(t, s, id, "w")
		if tr.Index != i {
			t.Fatalf("claimed trial %d, want %d", tr.Index, i)
		}
		finishWith(t, s, tr, "w", acc)
	}
	claimAs(t, s, id, "w")
	return id
}

func TestExperimentOverviewsCountAndBest(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		dashboardFixture(t, s, c)
		ctx := context.Background()
		if _, err := s.PutExperiment(ctx, Experiment{Name: "aaa-empty"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ExperimentOverviews(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Name != "aaa-empty" || got[1].Name != "exp" {
			t.Fatalf("overviews %+v, want aaa-empty then exp", got)
		}
		if e := got[0]; e.Counts.Total() != 0 || !math.IsNaN(e.Best) || e.LastFinished != nil {
			t.Errorf("empty experiment: %+v", e)
		}
		e := got[1]
		want := StatusCounts{StatusDone: 4, StatusRunning: 1, StatusPending: 1}
		if d := cmp.Diff(want, e.Counts); d != "" {
			t.Errorf("counts (-want +got):\n%s", d)
		}
		if e.Best != 0.8 || e.DoneSeconds != 4*7.75 || e.LastFinished == nil {
			t.Errorf("best %v, done seconds %v, last finished %v; want 0.8, 31, a time", e.Best, e.DoneSeconds, e.LastFinished)
		}
	})
}

func TestExperimentVersionsChangeWithTheirKind(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		id := dashboardFixture(t, s, c)
		ctx := context.Background()
		read := func() Versions {
			t.Helper()
			v, err := s.ExperimentVersions(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		v0 := read()
		if v0.Results == "" || v0.Progress != "" {
			t.Fatalf("versions %+v: want a results version and no progress yet", v0)
		}
		if v := read(); v != v0 {
			t.Errorf("nothing changed, but the versions went from %+v to %+v", v0, v)
		}
		running, err := s.RunningTrials(ctx, id)
		if err != nil || len(running) != 1 {
			t.Fatalf("running trials %+v, %v", running, err)
		}
		r := running[0]
		c.advance(time.Second)
		if err := s.SetProgress(ctx, r.ID, r.Worker, *r.StartedAt, Progress{Phase: PhaseTraining, Epoch: 3, Epochs: 10}); err != nil {
			t.Fatal(err)
		}
		v1 := read()
		if v1.Results != v0.Results || v1.Progress == v0.Progress {
			t.Errorf("progress: versions went from %+v to %+v; want only Progress changed", v0, v1)
		}
		c.advance(time.Second)
		if err := s.Heartbeat(ctx, r.ID, r.Worker); err != nil {
			t.Fatal(err)
		}
		if v := read(); v != v1 {
			t.Errorf("a heartbeat changed the versions from %+v to %+v", v1, v)
		}
		finishWith(t, s, &r.Trial, r.Worker, 0.9)
		if v := read(); v.Results == v1.Results {
			t.Errorf("a trial finished, but the results version stayed %s", v.Results)
		}
		all0, err := s.StoreVersions(ctx)
		if err != nil || all0.Results == "" {
			t.Fatalf("store versions %+v, %v", all0, err)
		}
		if _, err := s.PutExperiment(ctx, Experiment{Name: "another"}); err != nil {
			t.Fatal(err)
		}
		if all, err := s.StoreVersions(ctx); err != nil || all.Results == all0.Results || all.Progress != all0.Progress {
			t.Errorf("another experiment: store versions went from %+v to %+v (%v); want only Results changed", all0, all, err)
		}
		if _, err := s.ExperimentVersions(ctx, 999); err == nil {
			t.Error("versions of a missing experiment: no error")
		}
	})
}

func TestRunningTrialsShowTheirOwnAttemptsProgress(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		id := dashboardFixture(t, s, c)
		ctx := context.Background()
		running, err := s.RunningTrials(ctx, id)
		if err != nil || len(running) != 1 || running[0].Index != 4 || running[0].Progress != nil {
			t.Fatalf("running trials %+v, %v; want trial 4 without progress", running, err)
		}
		r := running[0]
		p := Progress{Phase: PhaseTraining, Epoch: 3, Epochs: 10, EpochSeconds: 0.25, ValAccuracy: math.NaN()}
		if err := s.SetProgress(ctx, r.ID, r.Worker, *r.StartedAt, p); err != nil {
			t.Fatal(err)
		}
		p.Epoch, p.ValAccuracy = 4, 0.5
		if err := s.SetProgress(ctx, r.ID, r.Worker, *r.StartedAt, p); err != nil {
			t.Fatal(err)
		}
		running, err = s.RunningTrials(ctx, id)
		if err != nil || len(running) != 1 || running[0].Progress == nil {
			t.Fatalf("running trials %+v, %v; want trial 4 with progress", running, err)
		}
		got := *running[0].Progress
		p.UpdatedAt = c.now()
		if d := cmp.Diff(p, got); d != "" {
			t.Errorf("progress (-want +got):\n%s", d)
		}

		// The worker goes silent and another takes the trial over: the first
		// attempt's progress is not the second's.
		c.advance(2 * time.Minute)
		again := claimAs(t, s, id, "w2")
		if again.ID != r.ID {
			t.Fatalf("w2 claimed trial %d, want the silent worker's %d", again.Index, r.Index)
		}
		running, err = s.RunningTrials(ctx, id)
		if err != nil || len(running) != 1 || running[0].Worker != "w2" || running[0].Progress != nil {
			t.Errorf("after the takeover: %+v, %v; want w2's attempt without progress", running, err)
		}
	})
}

func TestTrialPagePagesFiltersAndSorts(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		id := dashboardFixture(t, s, c)
		ctx := context.Background()
		page := func(q TrialQuery) ([]int, int) {
			t.Helper()
			rows, total, err := s.TrialPage(ctx, id, q)
			if err != nil {
				t.Fatal(err)
			}
			var idx []int
			for _, r := range rows {
				idx = append(idx, r.Index)
				if (r.Metrics != nil) != (r.Status == StatusDone) {
					t.Errorf("trial %d is %s with metrics %+v", r.Index, r.Status, r.Metrics)
				}
			}
			return idx, total
		}
		for _, c := range []struct {
			q     TrialQuery
			want  []int
			total int
		}{
			{TrialQuery{Limit: 4}, []int{0, 1, 2, 3}, 6},
			{TrialQuery{Limit: 4, Offset: 4}, []int{4, 5}, 6},
			{TrialQuery{ByAccuracy: true}, []int{3, 2, 1, 0, 4, 5}, 6},
			{TrialQuery{Status: StatusDone, ByAccuracy: true, Limit: 2}, []int{3, 2}, 4},
			{TrialQuery{Variant: "lr=1"}, []int{1, 4}, 2},
			{TrialQuery{Status: StatusFailed}, nil, 0},
		} {
			got, total := page(c.q)
			if d := cmp.Diff(c.want, got); d != "" || total != c.total {
				t.Errorf("%+v: total %d (want %d), trials (-want +got):\n%s", c.q, total, c.total, d)
			}
		}
		rows, _, err := s.TrialPage(ctx, id, TrialQuery{Limit: 1})
		if err != nil || rows[0].Metrics.Accuracy != 0.5 || rows[0].Metrics.N != 4 {
			t.Errorf("first trial's metrics %+v, %v; want accuracy 0.5 on 4 photos", rows[0].Metrics, err)
		}
	})
}

func TestVariantAggregatesSumWhatTheTrialsHold(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		id := dashboardFixture(t, s, c)
		got, err := s.VariantAggregates(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		// lr=0: trials 0 (0.5) and 3 (0.8); lr=1: 1 (0.6) and 4 (running);
		// lr=2: 2 (0.7) and 5 (pending).
		want := []VariantAggregate{
			{Key: "lr=0", JSON: `{"lr":0}`, FirstIndex: 0, Trials: 2, Done: 2,
				Accuracy: Moments{2, 1.3, 0.25 + 0.64, 0.5, 0.8}, Top5: Moments{2, 1.5, 0.36 + 0.81, 0.6, 0.9}, MacroF1: Moments{2, 0.65, 0.0625 + 0.16, 0.25, 0.4}},
			{Key: "lr=1", JSON: `{"lr":1}`, FirstIndex: 1, Trials: 2, Done: 1, Running: 1,
				Accuracy: Moments{1, 0.6, 0.36, 0.6, 0.6}, Top5: Moments{1, 0.7, 0.49, 0.7, 0.7}, MacroF1: Moments{1, 0.3, 0.09, 0.3, 0.3}},
			{Key: "lr=2", JSON: `{"lr":2}`, FirstIndex: 2, Trials: 2, Done: 1,
				Accuracy: Moments{1, 0.7, 0.49, 0.7, 0.7}, Top5: Moments{1, 0.8, 0.64, 0.8, 0.8}, MacroF1: Moments{1, 0.35, 0.1225, 0.35, 0.35}},
		}
		if d := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); d != "" {
			t.Errorf("aggregates (-want +got):\n%s", d)
		}
	})
}

func TestTrialPointsAndVariantEpochs(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		id := dashboardFixture(t, s, c)
		ctx := context.Background()
		pts, err := s.TrialPoints(ctx, id)
		if err != nil || len(pts) != 6 {
			t.Fatalf("points %+v, %v", pts, err)
		}
		for i, p := range pts {
			done := i < 4
			if p.Index != i || (p.Status == StatusDone) != done || math.IsNaN(p.Accuracy) == done || p.Hash != makeTrials(6)[i].Hash ||
				p.VariantKey != []string{"lr=0", "lr=1", "lr=2"}[i%3] || (p.Seconds == 7.75) != done {
				t.Errorf("point %d: %+v", i, p)
			}
		}
		eps, err := s.VariantEpochs(ctx, id, []string{"lr=0", "lr=2"})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, te := range eps {
			keys = append(keys, te.VariantKey)
			if len(te.Epochs) != 3 || te.Epochs[1].ValAccuracy != 0.75 {
				t.Errorf("trial %d epochs %+v, want sampleOutcome's 3", te.TrialID, te.Epochs)
			}
		}
		if d := cmp.Diff([]string{"lr=0", "lr=2", "lr=0"}, keys); d != "" {
			t.Errorf("variants of the done trials, by trial (-want +got):\n%s", d)
		}
		if none, err := s.VariantEpochs(ctx, id, nil); err != nil || none != nil {
			t.Errorf("no variants: %v, %v", none, err)
		}
	})
}

func TestPhotoOutcomesMatchPredictions(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		id := dashboardFixture(t, s, c)
		ctx := context.Background()
		all, err := s.PhotoOutcomes(ctx, id, "")
		if err != nil || len(all) != 4*4 {
			t.Fatalf("outcomes: %d, %v; want 16", len(all), err)
		}
		trials, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		preds, err := s.Predictions(ctx, trials[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range preds {
			o := all[i]
			top5 := false
			for _, c := range p.TopK {
				top5 = top5 || c.Class == p.True
			}
			want := PhotoOutcome{TrialID: trials[0].ID, Photo: p.Photo, PhotoSHA256: p.PhotoSHA256, True: p.True, Pred: p.Pred, Top5: top5}
			if o != want {
				t.Errorf("outcome %d: %+v, want %+v", i, o, want)
			}
		}
		one, err := s.PhotoOutcomes(ctx, id, "lr=1")
		if err != nil || len(one) != 4 || one[0].TrialID != trials[1].ID {
			t.Errorf("lr=1: %+v, %v; want trial 1's 4 photos", one, err)
		}
		names, err := s.ClassNames(ctx, trials[0].ID)
		if d := cmp.Diff([]string{"rex", "fido", "max"}, names); d != "" || err != nil {
			t.Errorf("class names %v (-want +got):\n%s", err, d)
		}
	})
}

func TestHasPhotoAndBestTrials(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		id := dashboardFixture(t, s, c)
		ctx := context.Background()
		if err := s.PutSplits(ctx, id, []Split{{Method: "phash", Classes: []string{"rex"},
			Units: []SplitUnit{{Photo: "rex/1.jpg", PhotoSHA256: "aa", Part: PartTest}}}}); err != nil {
			t.Fatal(err)
		}
		for photo, want := range map[string]bool{"rex/1.jpg": true, "rex/2.jpg": false, "../rex/1.jpg": false} {
			if got, err := s.HasPhoto(ctx, id, photo); got != want || err != nil {
				t.Errorf("HasPhoto(%q) = %v, %v; want %v", photo, got, err, want)
			}
		}
		best, err := s.BestTrials(ctx)
		want := []BestTrial{{ExperimentID: id, Hash: "h3", VariantKey: "lr=0", Seed: 103, Accuracy: 0.8}}
		if d := cmp.Diff(want, best); d != "" || err != nil {
			t.Errorf("best trials %v (-want +got):\n%s", err, d)
		}
	})
}
