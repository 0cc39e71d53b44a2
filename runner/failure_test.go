package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/backbone/backbonetest"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

// cachedSweep plans a real four-trial sweep over synthetic photos with every
// feature vector already cached, so that its trials train without a
// backbone, and returns the run and its store.
func cachedSweep(t *testing.T, log io.Writer) (*run, *results.Store) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 3, 6)
	exp := writeExperiment(t, `
name: failing
dataset: {path: `+data+`, min_images_per_class: 4, seed: 1, test: 0.34, val: 0.17}
backbone: {name: mobilefacenet}
head: {hidden: []}
train: {epochs: 2}
sweep: {head.dropout: [0.0, 0.1, 0.2, 0.3]}
seeds: [1]
`)
	cacheDir := backbonetest.FreshCache(t) // features are written below; the run checks the models are fetched
	rng := rand.New(rand.NewPCG(1, 2))
	plan := cachedPlan(t, exp, cacheDir, func(_ backbone.Request, dim int) []float32 {
		f := make([]float32, dim)
		for i := range f {
			f[i] = rng.Float32()
		}
		return f
	})
	st := tempStore(t)
	opt := Options{Store: st, RunsDir: t.TempDir(), CacheDir: cacheDir, Log: log}
	opt.defaults()
	r := planned(plan, opt)
	return r, st
}

// cachedPlan plans exp and caches in cacheDir every feature vector its
// trials need, vector(request, its length) each, so that they train without
// a backbone.
func cachedPlan(t *testing.T, exp *schemas.Experiment, cacheDir string, vector func(backbone.Request, int) []float32) *Plan {
	t.Helper()
	plan, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	part := plan.Trials[0].Parts[0]
	cache, err := backbone.OpenCache(cacheDir, part.Spec, part.Cut)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range plan.Trials {
		for _, req := range backbone.Missing(cache, plan.Requests(tr)) {
			if err := cache.Put([]backbone.Key{req.Key}, vector(req, part.Cut.Dim)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return plan
}

// tempStore is a new SQLite store, closed when the test ends.
func tempStore(t *testing.T) *results.Store {
	t.Helper()
	st, err := results.Open(filepath.Join(t.TempDir(), "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestBadTrialFailsAloneAndTheSweepGoesOn: the second trial meets features
// missing after extraction, the third panics in a step. Each is recorded
// failed with its reason, and the others, trained two at a time beside
// them, still run.
func TestBadTrialFailsAloneAndTheSweepGoesOn(t *testing.T) {
	var log bytes.Buffer
	r, st := cachedSweep(t, &log)
	r.opt.Threads = 2
	part := r.plan.Trials[0].Parts[0]
	r.trialSteps = func(ctx context.Context, claimed *results.Trial, tr Trial, label string) error {
		switch tr.Index {
		case 1: // its vectors are gone from the cache it reads
			empty, err := backbone.OpenCache(t.TempDir(), part.Spec, part.Cut)
			if err != nil {
				return err
			}
			_, err = buildSets(r.plan, tr, []*backbone.Cache{empty}, r.plan.mustUnits(tr))
			return fmt.Errorf("extract features: %w", err)
		case 2:
			panic("a step went wrong")
		}
		return r.trial(ctx, claimed, tr, label)
	}
	sum, err := r.all(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if sum.Trained != 2 || sum.Failed != 2 {
		t.Errorf("summary %+v, want 2 trained and 2 failed\n%s", sum, log.String())
	}
	trials, err := st.Trials(context.Background(), r.expID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status results.TrialStatus
		err    string
	}{
		{results.StatusDone, ""},
		{results.StatusFailed, "extract features: features of a/a.3.png view 0 are missing from "},
		{results.StatusFailed, "internal error (a dogrun bug, please report it with this message): a step went wrong\n"},
		{results.StatusDone, ""},
	}
	for i, tr := range trials {
		if tr.Status != want[i].status || !strings.HasPrefix(tr.Error, want[i].err) || (want[i].err == "") != (tr.Error == "") {
			t.Errorf("trial %d: %s %q, want %s %q...", i+1, tr.Status, tr.Error, want[i].status, want[i].err)
		}
	}
	if !strings.Contains(log.String(), "trial 4/4 test accuracy") {
		t.Errorf("the last trial did not run:\n%s", log.String())
	}
}

// TestInterruptedTrialIsHandedBack: Ctrl-C in the middle of a trial hands it
// back, and the error says which one and that the next run does it again.
func TestInterruptedTrialIsHandedBack(t *testing.T) {
	r, st := cachedSweep(t, io.Discard)
	r.opt.Threads = 1 // one trial at a time: the first is done when the second is stopped
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.trialSteps = func(ctx context.Context, claimed *results.Trial, tr Trial, label string) error {
		if tr.Index == 1 {
			cancel() // as Ctrl-C does, while the trial works
			<-ctx.Done()
			return fmt.Errorf("train head: %w", ctx.Err())
		}
		return r.trial(ctx, claimed, tr, label)
	}
	_, err := r.all(ctx)
	checkInterrupted(t, err, "interrupted: trial 2/4 [head.dropout=0.1 seed=1] was handed back unfinished, and the next dogrun run does it again (1 trial trained in this run)")
	if got := attempts(t, st, r.expID); got != " done/1 pending/0 pending/0 pending/0" {
		t.Errorf("trials (status/attempts):%s; want the first done and the interrupted one pending, its attempt not counted", got)
	}
}

// checkInterrupted fails unless err is an *Interrupted wrapping
// context.Canceled that says want.
func checkInterrupted(t *testing.T, err error, want string) {
	t.Helper()
	var in *Interrupted
	if !errors.As(err, &in) || err.Error() != want || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v\nwant %s (an *Interrupted wrapping context.Canceled)", err, want)
	}
}

// attempts lists the experiment's trials as " status/attempts" each.
func attempts(t *testing.T, st *results.Store, expID int64) string {
	t.Helper()
	trials, err := st.Trials(context.Background(), expID)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, tr := range trials {
		got += fmt.Sprintf(" %s/%d", tr.Status, tr.Attempts)
	}
	return got
}
