package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
	"github.com/google/go-cmp/cmp"
)

// rerun is a run of r's plan and cached features into a store and runs
// folder of its own, with threads trials at a time.
func rerun(t *testing.T, r *run, threads int) (*run, *results.Store) {
	t.Helper()
	st, err := results.Open(filepath.Join(t.TempDir(), "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opt := Options{Store: st, RunsDir: t.TempDir(), CacheDir: r.opt.CacheDir, Log: io.Discard, Threads: threads}
	opt.defaults()
	return planned(r.plan, opt), st
}

// stored is what a run left of each trial, by hash: its epochs (times
// aside), test predictions and checkpoint weights.
type stored struct {
	Epochs      []results.Epoch
	Predictions []results.Prediction
	Weights     []byte
}

func storedByHash(t *testing.T, r *run, st *results.Store) map[string]stored {
	t.Helper()
	ctx := context.Background()
	trials, err := st.Trials(ctx, r.expID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]stored{}
	for _, tr := range trials {
		if tr.Status != results.StatusDone || tr.Attempts != 1 {
			t.Fatalf("trial %d: %s after %d attempts, want done after 1", tr.Index+1, tr.Status, tr.Attempts)
		}
		var s stored
		if s.Epochs, err = st.Epochs(ctx, tr.ID); err != nil {
			t.Fatal(err)
		}
		for i := range s.Epochs {
			s.Epochs[i].Seconds = 0
		}
		if s.Predictions, err = st.Predictions(ctx, tr.ID); err != nil {
			t.Fatal(err)
		}
		if s.Weights, err = os.ReadFile(filepath.Join(r.opt.RunsDir, r.plan.Experiment.Name, "trials", tr.Hash[:16], "checkpoint", "weights.bin")); err != nil {
			t.Fatal(err)
		}
		out[tr.Hash] = s
	}
	return out
}

// TestTrialsSideBySideStoreWhatTheyStoreAlone: with Threads 2 two trials
// train at once (the first waits until a second has started), every trial
// is trained once, and each stores bit for bit what it stores when the
// trials run one at a time.
func TestTrialsSideBySideStoreWhatTheyStoreAlone(t *testing.T) {
	first, st := cachedSweep(t, io.Discard)
	first.opt.Threads = 1
	if _, err := first.all(context.Background()); err != nil {
		t.Fatal(err)
	}
	alone := storedByHash(t, first, st)

	r, st2 := rerun(t, first, 2)
	var once sync.Once
	second := make(chan struct{})
	overlapped := false
	r.trialSteps = func(ctx context.Context, claimed *results.Trial, tr Trial, label string) error {
		if tr.Index == 0 {
			select {
			case <-second:
				overlapped = true
			case <-time.After(30 * time.Second):
			}
		} else {
			once.Do(func() { close(second) })
		}
		return r.trial(ctx, claimed, tr, label)
	}
	sum, err := r.all(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !overlapped {
		t.Error("no second trial started while the first waited: trials did not run side by side")
	}
	if sum.Trained != 4 {
		t.Errorf("summary %+v, want 4 trained", sum)
	}
	if d := cmp.Diff(alone, storedByHash(t, r, st2)); d != "" {
		t.Errorf("trials stored differently side by side (-one at a time +two at a time):\n%s", d)
	}
}

// TestInterruptHandsBackEveryTrialInFlight: Ctrl-C while two trials train
// hands both back, and the error names both.
func TestInterruptHandsBackEveryTrialInFlight(t *testing.T) {
	first, _ := cachedSweep(t, io.Discard)
	r, st := rerun(t, first, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	r.trialSteps = func(ctx context.Context, claimed *results.Trial, tr Trial, label string) error {
		switch tr.Index {
		case 0:
			close(started)
		case 1:
			<-started
			cancel() // as Ctrl-C does, while both work
		}
		<-ctx.Done()
		return fmt.Errorf("train head: %w", ctx.Err())
	}
	_, err := r.all(ctx)
	checkInterrupted(t, err, "interrupted: trial 1/4 [head.dropout=0 seed=1] and trial 2/4 [head.dropout=0.1 seed=1] were handed back unfinished, and the next dogrun run does them again (0 trials trained in this run)")
	if got := attempts(t, st, r.expID); got != " pending/0 pending/0 pending/0 pending/0" {
		t.Errorf("trials (status/attempts):%s; want all pending, the interrupted attempts not counted", got)
	}
}
