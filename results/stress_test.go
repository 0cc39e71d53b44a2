package results

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClaimStress has 8 workers, each with a Store of its own (as 8 dogrun
// processes would have), claim and finish 1,000 tiny trials on each store.
// No trial
// may be claimed twice, no worker may see an error (a deadlock would be
// one), and every trial ends done after one attempt. It reports trials
// claimed and finished per second on both stores, for docs/scaling.md:
//
//	go test -run TestClaimStress -v ./results
func TestClaimStress(t *testing.T) {
	if testing.Short() {
		t.Skip("claims 2,000 trials")
	}
	const workers, trials = 8, 1000
	rates := map[string]float64{}
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			rates[kind] = claimStress(t, newTarget(t, kind), workers, trials)
		})
	}
	t.Logf("%d workers, %d trials, each claimed and finished with a one-epoch outcome, %d CPUs, load average %s: "+
		"PostgreSQL %.0f claims/s, SQLite %.0f claims/s", workers, trials, runtime.NumCPU(), loadAverage(), rates["postgres"], rates["sqlite"])
}

func claimStress(t *testing.T, target string, workers, n int) float64 {
	ctx := context.Background()
	stores := make([]*Store, workers)
	for i := range stores {
		s, err := Open(target)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	id := experimentWithTrials(t, stores[0], n)
	var (
		mu     sync.Mutex
		claims = map[int64]string{}
		dups   []string
		errs   []error
		wg     sync.WaitGroup
	)
	start := time.Now()
	for w, s := range stores {
		worker := fmt.Sprintf("host%d:%d", w, 1000+w)
		wg.Go(func() {
			for {
				tr, err := s.Claim(ctx, id, worker, time.Hour, 2)
				if err == nil && tr != nil {
					err = s.Finish(ctx, tr.ID, worker, Outcome{Epochs: []Epoch{{Epoch: 1, TrainLoss: 0.5}}})
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if tr != nil {
					if prev, ok := claims[tr.ID]; ok {
						dups = append(dups, fmt.Sprintf("%s by %s and %s", tr.Hash, prev, worker))
					}
					claims[tr.ID] = worker
				}
				mu.Unlock()
				if err != nil || tr == nil {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		t.Error(err)
	}
	for _, d := range dups {
		t.Errorf("claimed twice: %s", d)
	}
	all, err := stores[0].Trials(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	perWorker := map[string]int{}
	for _, tr := range all {
		if tr.Status != StatusDone || tr.Attempts != 1 {
			t.Errorf("trial %s: %s after %d attempts", tr.Hash, tr.Status, tr.Attempts)
		}
		perWorker[tr.Worker]++
	}
	if len(claims) != n || len(all) != n {
		t.Errorf("%d trials claimed, %d stored, want %d", len(claims), len(all), n)
	}
	rate := float64(n) / elapsed.Seconds()
	t.Logf("%d trials in %s: %.0f trials/s; per worker %v", n, elapsed.Round(time.Millisecond), rate, perWorker)
	return rate
}

// loadAverage is the machine's 1, 5 and 15 minute load: other work on it
// slows both stores.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
