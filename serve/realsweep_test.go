package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

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
	entries, err := os.ReadDir(shared)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	dir := t.TempDir()
	copied := 0
	for _, name := range names {
		photos, err := os.ReadDir(filepath.Join(shared, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(photos) < min {
			continue
		}
		to := name
		if copied == 0 {
			to = xssFolder
		}
		for _, p := range photos {
			copyFile(t, filepath.Join(shared, name, p.Name()), filepath.Join(dir, to, p.Name()))
		}
		if copied++; copied == n {
			return dir
		}
	}
	t.Fatalf("fewer than %d dogs with %d photos in %s", n, min, shared)
	return ""
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
// early stop, dropout 0 and 0.5 over seeds seeds.
func realExperiment(t testing.TB, name, dir string, epochs, seeds int) *schemas.Experiment {
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
`, name, dir, epochs, epochs, list)
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
