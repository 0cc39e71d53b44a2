package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/google/go-cmp/cmp"
)

// The load the dashboard is held to: clients loading one page over and
// over, each as soon as its last answer came, for loadFor.
const (
	loadClients = 50
	loadFor     = 30 * time.Second
)

// latencies summarises durations.
type latencies []time.Duration

func (l latencies) at(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (l latencies) String() string {
	return fmt.Sprintf("n %d, p50 %s, p90 %s, p99 %s, max %s", len(l), round(l.at(0.5)), round(l.at(0.9)), round(l.at(0.99)), round(l.at(1)))
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// probeWrites times a write of the kind a sweep makes (a progress row
// replaced, in its own transaction) every 50 ms, through a store of its own
// as another worker's, until ctx ends.
func probeWrites(ctx context.Context, path string) (latencies, error) {
	st, err := results.Open(path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	id, err := st.PutExperiment(ctx, results.Experiment{Name: "probe"})
	if err != nil {
		return nil, err
	}
	if _, err := st.RegisterTrials(ctx, id, []results.Trial{{Hash: "probe", VariantJSON: "{}", ConfigJSON: "{}"}}); err != nil {
		return nil, err
	}
	tr, err := st.Claim(ctx, id, nil, "probe", time.Hour, 1)
	if err != nil {
		return nil, err
	}
	var out latencies
	for ctx.Err() == nil {
		start := time.Now()
		err := st.SetProgress(context.Background(), tr.ID, "probe", *tr.StartedAt, results.Progress{Phase: results.PhaseTraining, Epoch: len(out)})
		if err != nil {
			return out, fmt.Errorf("probe write: %w", err)
		}
		out = append(out, time.Since(start))
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return out, nil
}

// hammer has loadClients clients load url over and over until ctx ends,
// and returns the latencies of the answers and what went wrong.
func hammer(ctx context.Context, url string) (latencies, []string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadClients}, Timeout: 10 * time.Second}
	var mu sync.Mutex
	var all latencies
	var errs []string
	var wg sync.WaitGroup
	for range loadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine latencies
			for ctx.Err() == nil {
				start := time.Now()
				res, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err == nil && res.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, errs
}

// TestLoadWhileSweeping runs a real sweep twice on the shared photos: alone,
// then with the dashboard answering loadClients clients that load the
// experiment's page for loadFor. The page must answer every request, the
// sweep must store exactly what it stored alone, and a writer beside the
// sweep measures how long its writes take in either run. The figures are
// logged (docs/dashboard.md quotes them): go test ./serve -run Load -v.
func TestLoadWhileSweeping(t *testing.T) {
	if testing.Short() {
		t.Skip("real sweeps for half a minute and more")
	}
	photos := photoFolder(t, 8, 12)
	exp := realExperiment(t, "load", photos, 80, 6)
	if _, err := workspace.CacheDir(); err != nil {
		t.Fatal(err)
	}

	run := func(withDashboard bool) (map[string]string, time.Duration, latencies) {
		path, st := newStore(t)
		probeCtx, stopProbe := context.WithCancel(context.Background())
		type probed struct {
			lat latencies
			err error
		}
		probe := make(chan probed, 1)
		go func() {
			lat, err := probeWrites(probeCtx, path)
			probe <- probed{lat, err}
		}()
		start := time.Now()
		ran := make(chan error, 1)
		go func() { ran <- runSweep(context.Background(), exp, st, t.TempDir(), io.Discard) }()
		if withDashboard {
			for {
				if _, err := st.Experiment(context.Background(), "load"); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			_, hs := dashboard(t, path, Options{})
			loadCtx, stop := context.WithTimeout(context.Background(), loadFor)
			lat, errs := hammer(loadCtx, hs.URL+"/experiment?e=load")
			stop()
			swept := time.Since(start)
			if len(errs) > 0 {
				t.Errorf("%d of %d requests failed, the first: %s", len(errs), len(errs)+len(lat), errs[0])
			}
			t.Logf("experiment page, %d clients for %s while the sweep ran: %s, %.0f answers/s",
				loadClients, loadFor, lat, float64(len(lat))/loadFor.Seconds())
			if p99 := lat.at(0.99); p99 > 200*time.Millisecond {
				t.Logf("p99 %s is above the goal of 200 ms", round(p99))
			}
			select {
			case <-ran:
				t.Logf("the sweep ended %s into the load, before the clients stopped: make it longer", round(swept))
			default:
			}
		}
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		stopProbe()
		p := <-probe
		if p.err != nil {
			t.Fatal(p.err)
		}
		return outcomes(t, st, "load"), took, p.lat
	}

	alone, tookAlone, writesAlone := run(false)
	loaded, tookLoaded, writesLoaded := run(true)
	if len(alone) != 12 {
		t.Fatalf("the sweep stored %d trials, want 12", len(alone))
	}
	if d := cmp.Diff(alone, loaded); d != "" {
		t.Errorf("the sweep stored other results under load (-alone +loaded):\n%s", d)
	}
	t.Logf("sweep of %d trials: %s alone, %s with the dashboard under load; results identical: %v",
		len(alone), round(tookAlone), round(tookLoaded), cmp.Equal(alone, loaded))
	t.Logf("a writer's progress writes beside the sweep: alone %s; under load %s", writesAlone, writesLoaded)
}
