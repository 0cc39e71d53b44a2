package runner

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
)

func TestKeepClaimHoldsOffOtherWorkersAndNoticesLoss(t *testing.T) {
	ctx := context.Background()
	st, id := storeWithExperiment(t)
	if _, err := st.RegisterTrials(ctx, id, []results.Trial{{Hash: "h", VariantJSON: "{}", ConfigJSON: "{}"}}); err != nil {
		t.Fatal(err)
	}
	const stale = 200 * time.Millisecond
	mine, err := st.Claim(ctx, id, nil, "a", stale, 3)
	if err != nil || mine == nil {
		t.Fatal(mine, err)
	}
	r := &run{opt: Options{Store: st, Worker: "a", StaleAfter: stale}}
	trialCtx, release := r.keepClaim(ctx, mine.ID)
	time.Sleep(3 * stale)
	if other, err := st.Claim(ctx, id, nil, "b", stale, 3); err != nil || other != nil {
		t.Fatalf("worker b claimed a trial whose worker is alive: %+v %v", other, err)
	}
	release()
	if trialCtx.Err() == nil {
		t.Error("release left the trial context running")
	}

	// Without heartbeats the claim goes stale, b takes it, and a finds out.
	time.Sleep(2 * stale)
	other, err := st.Claim(ctx, id, nil, "b", stale, 3)
	if err != nil || other == nil {
		t.Fatalf("worker b could not reclaim a stale trial: %v", err)
	}
	trialCtx, release = r.keepClaim(ctx, mine.ID)
	defer release()
	select {
	case <-trialCtx.Done():
		if cause := context.Cause(trialCtx); !errors.Is(cause, results.ErrNotOwned) {
			t.Errorf("trial cancelled with %v, want ErrNotOwned", cause)
		}
	case <-time.After(10 * stale):
		t.Error("worker a kept running a trial that b had taken over")
	}
}

// storeWithExperiment opens a fresh store holding one empty experiment.
func storeWithExperiment(t *testing.T) (*results.Store, int64) {
	t.Helper()
	st, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	id, err := st.PutExperiment(context.Background(), results.Experiment{Name: "x", File: "x.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return st, id
}
