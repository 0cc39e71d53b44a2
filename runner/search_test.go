package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/backbone/backbonetest"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/search"
)

// searchFile is a search over synthetic photos: TPE on the learning rate,
// dropout and hidden layer, ASHA with rungs at epochs 1, 2 and 4.
const searchFile = `
name: searched
dataset: {path: DATA, min_images_per_class: 4, seed: 1, test: 0.3, val: 0.3}
backbone: {name: mobilefacenet}
head: {hidden: [16]}
train: {epochs: 6, batch_size: 8, early_stopping: {monitor: val_loss, patience: 0}}
search:
  method: tpe
  trials: TRIALS
  startup_trials: 3
  space:
    train.lr: {loguniform: [1e-5, 0.3]}
    head.dropout: {uniform: [0, 0.5]}
    head.hidden: {choice: [[8], [16]]}
prune: {method: asha, min_epochs: 1, reduction_factor: 2}
CONFIRM
seeds: [1]
`

// cachedSearch plans searchFile (its trials and confirm block set) over
// synthetic photos whose features are cached: each dog's vectors scatter
// around a centre of its own, so heads learn and settings matter.
func cachedSearch(t *testing.T, trials int, confirm string) (*run, *results.Store) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 4, 10)
	text := strings.NewReplacer("DATA", data, "TRIALS", fmt.Sprint(trials), "CONFIRM", confirm).Replace(searchFile)
	r, st := planCached(t, writeExperiment(t, text), backbonetest.FreshCache(t))
	return r, st
}

// planCached plans exp and caches the features of its base trials in
// cacheDir (class centres plus noise), returning a run into a new store.
func planCached(t *testing.T, exp *schemas.Experiment, cacheDir string) (*run, *results.Store) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	plan := cachedPlan(t, exp, cacheDir, func(req backbone.Request, dim int) []float32 {
		class := filepath.Base(filepath.Dir(req.Path))[0] - 'a'
		f := make([]float32, dim)
		for i := range f {
			centre := float32((int(class)*7+i*13)%17) / 17
			f[i] = centre + 0.6*rng.Float32()
		}
		return f
	})
	st := tempStore(t)
	return runOf(plan, st, cacheDir), st
}

func runOf(plan *Plan, st *results.Store, cacheDir string) *run {
	opt := Options{Store: st, RunsDir: filepath.Dir(st.Path()), CacheDir: cacheDir, Log: io.Discard, Threads: 1}
	opt.defaults()
	return planned(plan, opt)
}

// searched is a search's stored trials: each draw by n with its record,
// and the confirmations.
type searched struct {
	draws         []searchedTrial
	confirmations []searchedTrial
}

type searchedTrial struct {
	results.Trial
	results.SearchRecord
	Epochs []results.Epoch
}

func readSearch(t *testing.T, st *results.Store, expID int64) searched {
	t.Helper()
	ctx := context.Background()
	trials, err := st.Trials(ctx, expID)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]results.Trial{}
	for _, tr := range trials {
		byID[tr.ID] = tr
	}
	recs, err := st.SearchRecords(ctx, expID)
	if err != nil {
		t.Fatal(err)
	}
	var s searched
	for _, rec := range recs {
		x := searchedTrial{Trial: byID[rec.TrialID], SearchRecord: rec}
		if x.Epochs, err = st.Epochs(ctx, rec.TrialID); err != nil {
			t.Fatal(err)
		}
		if rec.Rank == 0 {
			s.draws = append(s.draws, x)
		} else {
			s.confirmations = append(s.confirmations, x)
		}
	}
	if len(recs) != len(trials) {
		t.Errorf("%d current trials, %d of them the search's", len(trials), len(recs))
	}
	return s
}

func (x searchedTrial) curve() []float64 {
	out := make([]float64, len(x.Epochs))
	for i, e := range x.Epochs {
		out[i] = e.ValAccuracy
	}
	return out
}

// One worker: every draw is what the sampler makes of the draws finished
// before it, every ASHA decision is what ASHA makes of the curves stored
// before it, and the best two complete draws are re-run with seeds 2 and 3.
func TestSearchDrawsPrunesAndConfirms(t *testing.T) {
	r, st := cachedSearch(t, 10, "confirm: {top: 2, seeds: 2}")
	var log bytes.Buffer
	r.opt.Log = &lineWriter{w: &log}
	sum, err := r.all(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	s := readSearch(t, st, r.expID)
	if len(s.draws) != 10 || len(s.confirmations) != 4 || sum.Planned != 14 || sum.Trained+sum.Pruned != 14 || sum.Failed != 0 {
		t.Fatalf("%d draws, %d confirmations, summary %+v\n%s", len(s.draws), len(s.confirmations), sum, log.String())
	}
	space, err := r.plan.Experiment.SearchSpace()
	if err != nil {
		t.Fatal(err)
	}
	var history []search.Trial
	var curves []search.Curve
	asha := search.ASHA{MinResource: 1, ReductionFactor: 2}
	pruned := 0
	for n, d := range s.draws {
		if d.Sample != n || d.Attempts != 1 || d.Seed != 1 {
			t.Fatalf("draw %d: stored as %d, %d attempts, seed %d", n, d.Sample, d.Attempts, d.Seed)
		}
		// One worker: draw n was made from draws 0..n-1.
		if want := seq(n); !slices.Equal(d.History, want) {
			t.Errorf("draw %d made from %v, want %v", n, d.History, want)
		}
		tpe := search.NewTPE()
		tpe.StartupTrials = 3
		pt, err := tpe.Sample(space, 1, n, history)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pt, d.Point) {
			t.Errorf("draw %d is %v, the sampler makes %v of its history", n, d.Point, pt)
		}
		c := d.curve()
		for e := 1; e < len(c); e++ {
			if asha.Prune(c[:e], truncate(curves, e)) {
				t.Errorf("draw %d went on after epoch %d, where ASHA stops it", n, e)
			}
		}
		state := search.Complete
		if d.Status == results.StatusPruned {
			state, pruned = search.Pruned, pruned+1
			if !asha.Prune(c, truncate(curves, len(c))) || d.StoppedEpoch != len(c) {
				t.Errorf("draw %d pruned after epoch %d (%d epochs stored), where ASHA does not stop it", n, d.StoppedEpoch, len(c))
			}
		} else if d.Status != results.StatusDone || d.StoppedEpoch != 6 {
			t.Errorf("draw %d: %s after %d epochs, want done after 6", n, d.Status, d.StoppedEpoch)
		}
		if d.FitCPUSeconds <= 0 {
			t.Errorf("draw %d: fit CPU time %g s", n, d.FitCPUSeconds)
		}
		value, epoch := c[len(c)-1], len(c)
		if state == search.Complete {
			value, epoch = c[d.BestEpoch-1], d.BestEpoch
		}
		history = append(history, search.Trial{N: n, Point: d.Point, State: state, Value: value, Epoch: epoch})
		curves = append(curves, search.Curve{Values: c, Complete: state == search.Complete})
	}
	if pruned == 0 || pruned == 10 {
		t.Errorf("%d of 10 draws pruned; the test needs both kinds", pruned)
	}
	// The two best complete draws, by validation accuracy at their best epoch.
	best := search.Top(history, 2, search.Maximize)
	for i, c := range s.confirmations {
		rank, seed := i/2+1, int64(i%2+2)
		if c.Rank != rank || c.Sample != best[rank-1].N || c.Seed != seed || c.Status != results.StatusDone {
			t.Errorf("confirmation %d: rank %d of draw %d, seed %d, %s; want rank %d of draw %d, seed %d, done",
				i, c.Rank, c.Sample, c.Seed, c.Status, rank, best[rank-1].N, seed)
		}
		if want := s.draws[c.Sample].VariantKey; c.VariantKey != want {
			t.Errorf("confirmation %d is %q, its draw %q", i, c.VariantKey, want)
		}
	}
	for _, want := range []string{"tpe search, 10 trials per seed x 1 seed, pruned by asha, the best 2 confirmed with 2 seeds: 14 trials (0 already done)",
		"pruned after epoch", "search of seed 1 finished: re-running its best 2 settings with seeds 2, 3: #",
		fmt.Sprintf("done: %d trained, %d pruned", 14-pruned, pruned)} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the run's output lacks %q:\n%s", want, log.String())
		}
	}
}

func seq(n int) []int {
	out := []int{}
	for i := range n {
		out = append(out, i)
	}
	return out
}

// truncate is the curves as they stood at epoch e.
func truncate(curves []search.Curve, e int) []search.Curve {
	out := make([]search.Curve, len(curves))
	for i, c := range curves {
		out[i] = search.Curve{Values: c.Values[:min(e, len(c.Values))], Complete: c.Complete}
	}
	return out
}

// A search stopped in the middle (Ctrl-C during its third trial) and run
// again, then widened to more trials, draws the points one uninterrupted
// run draws.
func TestSearchResumesTheSameSequence(t *testing.T) {
	whole, wholeStore := cachedSearch(t, 8, "")
	if _, err := whole.all(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := readSearch(t, wholeStore, whole.expID)

	parted, st := planCached(t, whole.plan.Experiment, whole.opt.CacheDir)
	ctx, cancel := context.WithCancel(context.Background())
	parted.opt.Log = &lineWriter{w: cancelAt{"trial 3/8", cancel}}
	if _, err := parted.all(ctx); err == nil {
		t.Fatal("the interrupted run ended without error")
	}
	// Then a run of four trials, then of eight: the file's trials raised.
	for _, trials := range []int{4, 8} {
		exp := *whole.plan.Experiment
		exp.Search.Trials = trials
		plan := *whole.plan
		plan.Experiment = &exp
		if _, err := runOf(&plan, st, whole.opt.CacheDir).all(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got := readSearch(t, st, parted.expID)
	if len(got.draws) != 8 {
		t.Fatalf("%d draws after the runs, want 8", len(got.draws))
	}
	for n := range want.draws {
		w, g := want.draws[n], got.draws[n]
		if !slices.Equal(w.Point, g.Point) || !slices.Equal(w.History, g.History) || w.Status != g.Status || w.Hash != g.Hash {
			t.Errorf("draw %d: %v from %v (%s), uninterrupted %v from %v (%s)", n, g.Point, g.History, g.Status, w.Point, w.History, w.Status)
		}
	}
}

// cancelAt cancels when a line containing at is written.
type cancelAt struct {
	at     string
	cancel func()
}

func (c cancelAt) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(c.at)) {
		c.cancel()
	}
	return len(p), nil
}

// Four workers (two runs of two threads, each run its own connection)
// share one search: every draw and confirmation is trained once, by one
// of them, and the draws' indices run 0..budget-1.
func TestWorkersShareOneSearch(t *testing.T) {
	a, st := cachedSearch(t, 12, "confirm: {top: 2, seeds: 2}")
	other, err := results.Open(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	b := runOf(a.plan, other, a.opt.CacheDir)
	var logs [2]bytes.Buffer
	var wg sync.WaitGroup
	sums := make([]Summary, 2)
	for i, r := range []*run{a, b} {
		r.opt.Threads, r.opt.Worker, r.opt.Log = 2, fmt.Sprintf("w%d", i), &lineWriter{w: &logs[i]}
		wg.Go(func() {
			var err error
			if sums[i], err = r.all(context.Background()); err != nil {
				t.Errorf("worker %d: %v\n%s", i, err, logs[i].String())
			}
		})
	}
	wg.Wait()
	s := readSearch(t, st, a.expID)
	if len(s.draws) != 12 || len(s.confirmations) != 4 {
		t.Fatalf("%d draws and %d confirmations, want 12 and 4", len(s.draws), len(s.confirmations))
	}
	per := map[string]int{}
	for n, d := range append(s.draws, s.confirmations...) {
		if n < 12 && d.Sample != n {
			t.Errorf("draw %d stored as %d", n, d.Sample)
		}
		if d.Attempts != 1 || (d.Status != results.StatusDone && d.Status != results.StatusPruned) {
			t.Errorf("trial %s: %s after %d attempts", d.Hash[:12], d.Status, d.Attempts)
		}
		per[d.Worker]++
	}
	ran := sums[0].Trained + sums[0].Pruned + sums[1].Trained + sums[1].Pruned
	if ran != 16 || per["w0"] == 0 || per["w1"] == 0 {
		t.Errorf("trials trained %d (want 16), per worker %v\n%s\n%s", ran, per, logs[0].String(), logs[1].String())
	}
	t.Logf("trials per worker: %v", per)
	if diff := cmp.Diff(0, sums[0].Failed+sums[1].Failed); diff != "" {
		t.Error(diff)
	}
}
