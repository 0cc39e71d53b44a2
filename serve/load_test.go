package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/pgtest"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/google/go-cmp/cmp"
)

// The load the dashboard is held to: clients loading one page over and
// over, each as soon as its last answer came, for loadFor.
const (
	loadClients = 50
	loadFor     = 30 * time.Second
)

// TestMain lets the test binary stand in for the processes of the load
// test, so that the sweep, the dashboard and the clients share the machine
// as separate processes do, not one Go scheduler: with DOGRUN_SERVE_CHILD
// set it runs a sweep ("sweep FILE DB RUNS") or serves a store ("serve DB").
// Otherwise it runs the tests, and stops the PostgreSQL server of those
// that started one.
func TestMain(m *testing.M) {
	switch os.Getenv("DOGRUN_SERVE_CHILD") {
	case "sweep":
		os.Exit(childSweep(os.Args[1], os.Args[2], os.Args[3]))
	case "serve":
		os.Exit(childServe(os.Args[1]))
	}
	os.Exit(pgtest.Main(m))
}

// sweepReport is what a sweep child prints when it is done.
type sweepReport struct {
	Took   time.Duration
	Writes latencies // a writer's beside the sweep, in its process
	Error  string
}

// childSweep runs the experiment in file into the store at db, one trial
// at a time, and times a writer's writes beside it.
func childSweep(file, db, runs string) int {
	var rep sweepReport
	defer func() { json.NewEncoder(os.Stdout).Encode(rep) }()
	exp, err := schemas.Load(file)
	if err == nil {
		var st *results.Store
		if st, err = results.Open(db); err == nil {
			defer st.Close()
			probeCtx, stop := context.WithCancel(context.Background())
			probed := make(chan error, 1)
			go func() {
				var err error
				rep.Writes, err = probeWrites(probeCtx, db)
				probed <- err
			}()
			start := time.Now()
			err = runSweep(context.Background(), exp, st, runs, io.Discard)
			rep.Took = time.Since(start)
			stop()
			if perr := <-probed; err == nil {
				err = perr
			}
		}
	}
	if err != nil {
		rep.Error = err.Error()
		return 1
	}
	return 0
}

// childServe serves the store at db on a free loopback port, which it
// prints, until it is killed.
func childServe(db string) int {
	st, err := results.OpenReadOnly(db)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	cacheDir, _ := workspace.CacheDir()
	srv, err := New(Options{Store: st, CacheDir: cacheDir, Threads: 1})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("http://" + ln.Addr().String())
	fmt.Fprintln(os.Stderr, http.Serve(ln, srv))
	return 1
}

// child starts the test binary as a child process of kind with args.
func child(t *testing.T, kind string, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DOGRUN_SERVE_CHILD="+kind)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<24)
	return cmd, sc
}

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
	tr, err := st.Claim(ctx, id, "probe", time.Hour, 1)
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
					if ctx.Err() == nil {
						mu.Lock()
						errs = append(errs, err.Error())
						mu.Unlock()
					}
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

// TestLoadWhileSweeping runs a real sweep on the shared photos twice, each
// time as a process of its own: alone, then beside the dashboard (another
// process) answering loadClients clients that load the experiment's page
// for loadFor from this one. Every request must be answered, and the sweep
// must store exactly what it stored alone. A writer in the sweep's process
// times its writes in either run. The figures are logged, and
// docs/dashboard.md quotes them: go test ./serve -run Load -v.
func TestLoadWhileSweeping(t *testing.T) {
	if testing.Short() {
		t.Skip("real sweeps for half a minute and more")
	}
	if _, err := workspace.CacheDir(); err != nil {
		t.Fatal(err)
	}
	photos := photoFolder(t, 8, 12)
	exp := realExperiment(t, "load", photos, 300, 24)

	sweepIn := func(db string) (*exec.Cmd, func() sweepReport) {
		cmd, out := child(t, "sweep", exp.File, db, t.TempDir())
		return cmd, func() sweepReport {
			var rep sweepReport
			for out.Scan() {
				if err := json.Unmarshal(out.Bytes(), &rep); err == nil {
					break
				}
			}
			cmd.Wait()
			if rep.Error != "" || rep.Took == 0 {
				t.Fatalf("sweep: %+v", rep)
			}
			return rep
		}
	}

	// Alone.
	dbAlone := filepath.Join(t.TempDir(), "alone.db")
	_, waitAlone := sweepIn(dbAlone)
	alone := waitAlone()

	// Beside the dashboard, under load.
	db, st := newStore(t)
	st.Close()
	_, dash := child(t, "serve", db)
	if !dash.Scan() || !strings.HasPrefix(dash.Text(), "http://") {
		t.Fatalf("the dashboard did not start: %q", dash.Text())
	}
	base := dash.Text()
	_, waitLoaded := sweepIn(db)
	for {
		res, err := http.Get(base + "/experiment?e=load")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	loadCtx, stop := context.WithTimeout(context.Background(), loadFor)
	lat, errs := hammer(loadCtx, base+"/experiment?e=load")
	stop()
	loaded := waitLoaded()
	if len(errs) > 0 {
		t.Errorf("%d of %d requests failed, the first: %s", len(errs), len(errs)+len(lat), errs[0])
	}
	if loaded.Took < loadFor {
		t.Logf("the sweep took %s: it ended before the clients stopped", round(loaded.Took))
	}

	open := func(path string) map[string]string {
		st, err := results.OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		return outcomes(t, st, "load")
	}
	a, b := open(dbAlone), open(db)
	if len(a) != 48 {
		t.Fatalf("the sweep stored %d trials, want 48", len(a))
	}
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("the sweep stored other results beside the dashboard (-alone +beside):\n%s", d)
	}
	t.Logf("experiment page, %d clients for %s while the sweep ran: %s, %.0f answers/s, %d errors",
		loadClients, loadFor, lat, float64(len(lat))/loadFor.Seconds(), len(errs))
	t.Logf("sweep of %d trials: %s alone, %s beside the dashboard under load; results identical: %v",
		len(a), round(alone.Took), round(loaded.Took), cmp.Equal(a, b))
	t.Logf("a writer's progress writes in the sweep's process: alone %s; beside the loaded dashboard %s", alone.Writes, loaded.Writes)
}
