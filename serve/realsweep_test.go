package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
)

// xssFolder is a dog folder whose name would run script if a page put it
// into its markup unescaped ("/" cannot be in a folder's name, so the
// <script> case is stored through the API instead: xssDog).
const xssFolder = `<img src=x onerror=alert(1)>`

// photoFolder copies the photos of the first n shared dogs with at least
// min photos into a new folder, the first under the name xssFolder. The
// photos stay outside the repository.
func photoFolder(t testing.TB, n, min int) string {
	t.Helper()
	shared := needs.Photos(t)
	names := sharedDogs(t, shared, min)
	if len(names) < n {
		t.Fatalf("fewer than %d dogs with %d photos in %s", n, min, shared)
	}
	dir := t.TempDir()
	for i, name := range names[:n] {
		photos, err := os.ReadDir(filepath.Join(shared, name))
		if err != nil {
			t.Fatal(err)
		}
		to := name
		if i == 0 {
			to = xssFolder
		}
		for _, p := range photos {
			copyFile(t, filepath.Join(shared, name, p.Name()), filepath.Join(dir, to, p.Name()))
		}
	}
	return dir
}

// sharedDogs lists, sorted, the dog folders in shared with at least min
// photos.
func sharedDogs(t testing.TB, shared string, min int) []string {
	t.Helper()
	entries, err := os.ReadDir(shared)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		photos, err := os.ReadDir(filepath.Join(shared, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(photos) >= min {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// realExperiment writes a small sweep of the photos in dir: mobilefacenet
// features (from the shared cache), a head trained for epochs epochs with no
// early stop, dropout 0 and 0.5 over seeds seeds; extra lines of YAML add
// to it.
func realExperiment(t testing.TB, name, dir string, epochs, seeds int, extra ...string) *schemas.Experiment {
	t.Helper()
	list := "1"
	for s := 2; s <= seeds; s++ {
		list += fmt.Sprintf(", %d", s)
	}
	yaml := fmt.Sprintf(`name: %s
dataset: {path: %s, min_images_per_class: 8, seed: 1, test: 0.25, val: 0.15}
backbone: {name: mobilefacenet}
head: {hidden: [64], activation: relu}
train: {optimizer: adam, lr: 0.003, batch_size: 16, epochs: %d, early_stopping: {monitor: val_loss, patience: %d}}
sweep: {head.dropout: [0.0, 0.5]}
seeds: [%s]
%s`, name, dir, epochs, epochs, list, strings.Join(extra, "\n"))
	file := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	exp, err := schemas.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// runSweep runs exp into st, one trial at a time, with the trial folders
// under runs; its log goes to log.
func runSweep(ctx context.Context, exp *schemas.Experiment, st *results.Store, runs string, log io.Writer) error {
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return err
	}
	_, err = runner.Run(ctx, exp, runner.Options{Store: st, RunsDir: runs, CacheDir: cacheDir, Threads: 1, Log: log})
	return err
}

// outcomes is what a sweep stored, by trial hash, for telling whether two
// runs of it agree: test metrics, epochs and every prediction with its
// scores.
func outcomes(t testing.TB, st *results.Store, name string) map[string]string {
	t.Helper()
	ctx := context.Background()
	e, err := st.Experiment(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tr := range trials {
		rep, names, err := st.TrialReport(ctx, tr.ID)
		if err != nil {
			t.Fatalf("trial %s: %v", tr.Hash[:12], err)
		}
		eps, err := st.Epochs(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := range eps {
			eps[i].Seconds = 0 // how long an epoch took is no result
		}
		preds, err := st.Predictions(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s best %d stopped %d\n%+v\n%v\n%+v\n", tr.Status, tr.BestEpoch, tr.StoppedEpoch, rep, names, eps)
		for _, p := range preds {
			fmt.Fprintf(&b, "%+v\n", p)
		}
		out[tr.Hash] = b.String()
	}
	return out
}

// heldLog is a sweep's log that holds chosen trials at their first epoch
// until the test lets them go. The runner logs a trial's first epoch from
// the goroutine that trains it, so a held trial genuinely stays in
// training, its progress stored on the runner's own clock, for as long as
// the test looks at the page, however fast heads train.
type heldLog struct {
	mu     sync.Mutex
	text   bytes.Buffer
	firsts int                   // first epochs logged so far
	hold   map[int]chan struct{} // by trial, counted from 1; closed to let it go
	held   chan int              // the trial that has just been held
}

// holdAt holds the trials numbered (from 1, in the order they train) at
// their first epoch; the test's end lets every one go.
func holdAt(t testing.TB, trials ...int) *heldLog {
	l := &heldLog{hold: map[int]chan struct{}{}, held: make(chan int, len(trials))}
	for _, n := range trials {
		l.hold[n] = make(chan struct{})
	}
	t.Cleanup(func() {
		for n := range l.hold {
			l.release(n)
		}
	})
	return l
}

func (l *heldLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.text.Write(p)
	var wait chan struct{}
	if bytes.Contains(p, []byte(" epoch 1/")) {
		l.firsts++
		wait = l.hold[l.firsts]
	}
	n := l.firsts
	l.mu.Unlock()
	if wait != nil {
		l.held <- n
		<-wait
	}
	return len(p), nil
}

// release lets trial n go on (again is harmless).
func (l *heldLog) release(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.hold[n]; c != nil {
		close(c)
		l.hold[n] = nil
	}
}

// await waits until trial n is held, or the sweep ends, or a minute passes.
func (l *heldLog) await(n int, ran <-chan error) error {
	select {
	case got := <-l.held:
		if got != n {
			return fmt.Errorf("trial %d was held, want %d", got, n)
		}
		return nil
	case err := <-ran:
		return fmt.Errorf("the sweep ended (%v) before trial %d logged its first epoch", err, n)
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("trial %d did not log its first epoch within two minutes", n)
	}
}

func (l *heldLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}
