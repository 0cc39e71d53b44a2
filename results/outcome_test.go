package results

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/dogrun/dogrun/metrics"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sampleOutcome is a small but complete outcome: three dogs, four photos,
// an epoch with a NaN loss (diverged training must round-trip too).
func sampleOutcome(t *testing.T) Outcome {
	t.Helper()
	classes := []string{"rex", "fido", "max"}
	labels := []int{0, 1, 2, 2}
	probs := [][]float32{
		{0.75, 0.125, 0.125},
		{0.25, 0.5, 0.25},
		{0.125, 0.75, 0.125},
		{0.25, 0.25, 0.5},
	}
	rep, err := metrics.Evaluate(labels, probs, classes)
	if err != nil {
		t.Fatal(err)
	}
	var preds []Prediction
	for i, p := range probs {
		var top []ClassScore
		for _, c := range metrics.TopK(p, 5) {
			top = append(top, ClassScore{Class: c, Score: float64(p[c])})
		}
		preds = append(preds, Prediction{
			Photo:       []string{"rex/1.jpg", "fido/1.jpg", "max/1.jpg", "max/2.jpg"}[i],
			PhotoSHA256: []string{"aa", "bb", "cc", "dd"}[i],
			True:        labels[i],
			Pred:        top[0].Class,
			TopK:        top,
		})
	}
	return Outcome{
		Epochs: []Epoch{
			{Epoch: 1, TrainLoss: 1.1, TrainAccuracy: 0.4, ValLoss: 1.0, ValAccuracy: 0.5, Seconds: 2.5},
			{Epoch: 2, TrainLoss: 0.7, TrainAccuracy: 0.7, ValLoss: 0.8, ValAccuracy: 0.75, Seconds: 2.25},
			{Epoch: 3, TrainLoss: math.NaN(), TrainAccuracy: 0.3, ValLoss: math.Inf(1), ValAccuracy: 0.25, Seconds: 2},
		},
		BestEpoch:       2,
		StoppedEpoch:    3,
		CheckpointPath:  "runs/exp/h0/best.ckpt",
		Classes:         classes,
		Report:          rep,
		Predictions:     preds,
		DurationSeconds: 7.75,
		GoVersion:       "go1.26.8",
		GitCommit:       "0123abcd",
		GitDirty:        true,
		BackboneSHA256:  "feedface",
	}
}

func TestFinishRoundTrip(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 2)
		t0 := c.now()
		tr, err := s.Claim(ctx, id, "w1", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		t1 := c.advance(30 * time.Second)
		if err := s.Heartbeat(ctx, tr.ID, "w1"); err != nil {
			t.Fatal(err)
		}
		t2 := c.advance(time.Second + 500*time.Millisecond)
		o := sampleOutcome(t)
		if err := s.Finish(ctx, tr.ID, "w1", o); err != nil {
			t.Fatal(err)
		}
		opts := cmp.Options{cmpopts.EquateNaNs()}

		trials, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := *tr
		want.Status = StatusDone
		want.StartedAt, want.HeartbeatAt, want.FinishedAt = &t0, &t1, &t2
		want.GoVersion, want.GitCommit, want.GitDirty, want.BackboneSHA256 = "go1.26.8", "0123abcd", true, "feedface"
		want.CheckpointPath, want.BestEpoch, want.StoppedEpoch, want.DurationSeconds = "runs/exp/h0/best.ckpt", 2, 3, 7.75
		if d := cmp.Diff(want, trials[0]); d != "" {
			t.Errorf("finished trial (-want +got):\n%s", d)
		}
		if trials[1].Status != StatusPending {
			t.Errorf("other trial touched: %+v", trials[1])
		}

		epochs, err := s.Epochs(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(o.Epochs, epochs, opts); d != "" {
			t.Errorf("Epochs (-want +got):\n%s", d)
		}

		rep, names, err := s.TrialReport(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(o.Report, rep, opts); d != "" {
			t.Errorf("TrialReport (-want +got):\n%s", d)
		}
		if d := cmp.Diff(o.Classes, names); d != "" {
			t.Errorf("class names (-want +got):\n%s", d)
		}

		preds, err := s.Predictions(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(o.Predictions, preds, opts); d != "" {
			t.Errorf("Predictions (-want +got):\n%s", d)
		}

		m, err := s.TestMetrics(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantM := map[int64]TrialMetrics{tr.ID: {
			TrialID: tr.ID, Accuracy: o.Report.Accuracy, Top5: o.Report.Top5, LogLoss: o.Report.LogLoss,
			MacroF1: o.Report.Macro.F1, WeightedF1: o.Report.Weighted.F1, N: 4,
		}}
		if d := cmp.Diff(wantM, m); d != "" {
			t.Errorf("TestMetrics (-want +got):\n%s", d)
		}

		// Sparse confusion: only non-zero cells are rows.
		nonZero := 0
		for _, row := range o.Report.Confusion {
			for _, v := range row {
				if v != 0 {
					nonZero++
				}
			}
		}
		if got := countRows(t, s, "confusion", tr.ID); got != nonZero {
			t.Errorf("confusion rows = %d, want %d", got, nonZero)
		}

		// A done trial cannot be finished again.
		if err := s.Finish(ctx, tr.ID, "w1", o); !errors.Is(err, ErrNotOwned) {
			t.Errorf("second Finish: err = %v, want ErrNotOwned", err)
		}
		if _, _, err := s.TrialReport(ctx, trials[1].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("report of an unfinished trial: err = %v, want ErrNotFound", err)
		}
		if err := s.Finish(ctx, 12345, "w1", o); !errors.Is(err, ErrNotFound) {
			t.Errorf("Finish of a missing trial: err = %v, want ErrNotFound", err)
		}
	})
}

func TestFinishByOtherWorkerStoresNothing(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 1)
		tr, err := s.Claim(ctx, id, "w1", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, tr.ID, "w2", sampleOutcome(t)); !errors.Is(err, ErrNotOwned) {
			t.Fatalf("Finish by another worker: err = %v, want ErrNotOwned", err)
		}
		assertNothingStored(t, s, tr)
	})
}

// A failure halfway through Finish (here: a CHECK violation on the
// confusion table, written after epochs and metrics) rolls everything back.
func TestFinishIsAtomic(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 1)
		tr, err := s.Claim(ctx, id, "w1", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		o := sampleOutcome(t)
		o.Report.Confusion[2][0] = -1
		if err := s.Finish(ctx, tr.ID, "w1", o); err == nil {
			t.Fatal("Finish with a negative count succeeded")
		}
		assertNothingStored(t, s, tr)
	})
}

func assertNothingStored(t *testing.T, s *Store, tr *Trial) {
	t.Helper()
	for _, table := range childTables {
		if n := countRows(t, s, table, tr.ID); n != 0 {
			t.Errorf("%s has %d rows", table, n)
		}
	}
	all, err := s.Trials(context.Background(), tr.ExperimentID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(*tr, all[0]); d != "" {
		t.Errorf("trial changed (-before +after):\n%s", d)
	}
}

func TestFinishRejectsInconsistentOutcome(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 1)
		tr, err := s.Claim(ctx, id, "w1", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		for name, mutate := range map[string]func(*Outcome){
			"names":      func(o *Outcome) { o.Classes = o.Classes[:2] },
			"confusion":  func(o *Outcome) { o.Report.Confusion = o.Report.Confusion[:1] },
			"prediction": func(o *Outcome) { o.Predictions[0].Pred = 7 },
			"topk": func(o *Outcome) {
				o.Predictions[0].TopK = make([]ClassScore, 6)
			},
		} {
			o := sampleOutcome(t)
			mutate(&o)
			if err := s.Finish(ctx, tr.ID, "w1", o); err == nil {
				t.Errorf("%s: inconsistent outcome accepted", name)
			}
		}
		assertNothingStored(t, s, tr)
	})
}
