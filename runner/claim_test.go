package runner

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
)

// clock is the store's time, moved by the test alone.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The heartbeat is driven by ticks the test sends and the store reads the
// test's clock, so the test holds however slowly the machine runs.
func TestKeepClaimHoldsOffOtherWorkersAndNoticesLoss(t *testing.T) {
	ctx := context.Background()
	st, id := storeWithExperiment(t)
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	st.SetClock(clk.now)
	if _, err := st.RegisterTrials(ctx, id, []results.Trial{{Hash: "h", VariantJSON: "{}", ConfigJSON: "{}"}}); err != nil {
		t.Fatal(err)
	}
	const stale = 2 * time.Minute
	mine, err := st.Claim(ctx, id, "a", stale, 3)
	if err != nil || mine == nil {
		t.Fatal(mine, err)
	}
	ticks := make(chan time.Time) // unbuffered: a send returns once the loop took it
	r := &run{opt: Options{Store: st, Worker: "a", StaleAfter: stale},
		ticker: func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }}
	// beat makes worker a send one heartbeat and waits until it is stored:
	// the second send is taken only after the first tick's heartbeat.
	beat := func() {
		ticks <- time.Time{}
		ticks <- time.Time{}
	}

	trialCtx, release := r.keepClaim(ctx, mine.ID)
	clk.advance(3 * stale)
	beat()
	if other, err := st.Claim(ctx, id, "b", stale, 3); err != nil || other != nil {
		t.Fatalf("worker b claimed a trial whose worker is alive: %+v %v", other, err)
	}
	release()
	if trialCtx.Err() == nil {
		t.Error("release left the trial context running")
	}

	// Without heartbeats the claim goes stale, b takes it, and a finds out
	// at its next heartbeat.
	clk.advance(stale + time.Second)
	other, err := st.Claim(ctx, id, "b", stale, 3)
	if err != nil || other == nil {
		t.Fatalf("worker b could not reclaim a stale trial: %v", err)
	}
	trialCtx, release = r.keepClaim(ctx, mine.ID)
	defer release()
	ticks <- time.Time{}
	<-trialCtx.Done() // the heartbeat cancels it; a hang here is the failure
	if cause := context.Cause(trialCtx); !errors.Is(cause, results.ErrNotOwned) {
		t.Errorf("trial cancelled with %v, want ErrNotOwned", cause)
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
