package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/stats"
	"github.com/dogrun/dogrun/train"
)

// torchTrial is one head for torch_head.py to train.
type torchTrial struct {
	Seed        int64   `json:"seed"`
	Dropout     float64 `json:"dropout"`
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Epochs      int     `json:"epochs"`
	Patience    int     `json:"patience"`
	MinDelta    float64 `json:"min_delta"`
}

// torchRun is what torch_head.py prints.
type torchRun struct {
	Torch        string          `json:"torch"`
	Threads      int             `json:"threads"`
	BLAS         json.RawMessage `json:"blas"`
	TotalSeconds float64         `json:"total_seconds"`
	Trials       []struct {
		EpochSeconds []float64 `json:"epoch_seconds"`
		BestEpoch    int       `json:"best_epoch"`
		StoppedEpoch int       `json:"stopped_epoch"`
	} `json:"trials"`
}

// torchFor is cfg as torch_head.py trains it, or an error naming what the
// script does not reproduce.
func torchFor(cfg train.Config) (torchTrial, error) {
	known := func(v string, ok ...string) bool { return slices.Contains(ok, v) }
	switch {
	case !known(cfg.Activation, "", "relu"), !known(cfg.Type, "", "dense"), !known(cfg.Normalize, "", "none"),
		!known(cfg.Optimizer, "", "adam", "adamw"), !known(cfg.Monitor, "", "val_loss"), cfg.Mix, cfg.Trunk != nil:
		return torchTrial{}, fmt.Errorf("torch_head.py trains dense relu heads with adam on plain features, monitoring val_loss; not %+v", cfg)
	}
	return torchTrial{Seed: cfg.Seed, Dropout: cfg.Dropout, LR: cfg.LR, WeightDecay: cfg.WeightDecay,
		Epochs: cfg.Epochs, Patience: cfg.Patience, MinDelta: cfg.MinDelta}, nil
}

// runTorch trains trials one after another with PyTorch on trainSet and
// valSet, written to dir the first time. OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE, which some machines set and which slow OpenBLAS, are
// unset for that command only.
func runTorch(ctx context.Context, c config, dir string, trainSet, valSet train.Data, classes int, hidden []int, batch int, trials []torchTrial) (*torchRun, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for name, v := range map[string]any{"train_x.f32": trainSet.X, "train_y.i32": trainSet.Y, "val_x.f32": valSet.X, "val_y.i32": valSet.Y} {
		if err := writeLE(filepath.Join(dir, name), v); err != nil {
			return nil, err
		}
	}
	script := filepath.Join(dir, "torch_head.py")
	if err := os.WriteFile(script, torchScript, 0o644); err != nil {
		return nil, err
	}
	js, err := json.Marshal(trials)
	if err != nil {
		return nil, err
	}
	units := make([]string, len(hidden))
	for i, h := range hidden {
		units[i] = fmt.Sprint(h)
	}
	cmd := exec.CommandContext(ctx, c.python, script, "--dir", dir, "--dim", fmt.Sprint(trainSet.Dim),
		"--classes", fmt.Sprint(classes), "--hidden", strings.Join(units, ","), "--batch", fmt.Sprint(batch),
		"--threads", fmt.Sprint(c.threads), "--trials", string(js))
	cmd.Stderr = os.Stderr
	// PyTorch would otherwise also size its inter-op pool, and OpenBLAS
	// its threads, by the CPU count.
	cmd.Env = append(torchEnv(), fmt.Sprintf("OMP_NUM_THREADS=%d", c.threads), fmt.Sprintf("OPENBLAS_NUM_THREADS=%d", c.threads))
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var res torchRun
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("torch_head.py printed %q: %w", out, err)
	}
	if len(res.Trials) != len(trials) {
		return nil, fmt.Errorf("torch_head.py trained %d heads of %d", len(res.Trials), len(trials))
	}
	return &res, nil
}

func writeLE(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = binary.Write(f, binary.LittleEndian, v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// unsetForTorch are the variables the PyTorch reference runs without.
var unsetForTorch = []string{"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}

func torchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(unsetForTorch, name) {
			env = append(env, kv)
		}
	}
	return env
}

// blas is the optimised BLAS libraries threadpoolctl found in PyTorch's
// process; none means libblas.so.3 is the reference BLAS (or threadpoolctl
// is missing and BLAS holds PyTorch's build line instead).
func (r *torchRun) blas() []string {
	var libs []struct {
		API          string `json:"internal_api"`
		Version      string `json:"version"`
		Architecture string `json:"architecture"`
	}
	var out []string
	if json.Unmarshal(r.BLAS, &libs) == nil {
		for _, l := range libs {
			out = append(out, fmt.Sprintf("%s %s %s kernel", l.API, l.Version, l.Architecture))
		}
	}
	return out
}

// describe names PyTorch's version, threads and BLAS kernel for the table.
func (r *torchRun) describe() string {
	blas := strings.Join(r.blas(), ", ")
	if blas == "" {
		blas = "no optimised BLAS found (" + strings.TrimSpace(string(r.BLAS)) + "): not a fair peer, run make bench"
	}
	return fmt.Sprintf("PyTorch %s, %d threads, %s; %s unset", r.Torch, r.Threads, blas, strings.Join(unsetForTorch, " and "))
}

// fair marks a row unjudged when PyTorch ran without an optimised BLAS.
func (r *torchRun) fair(rw row) row {
	if len(r.blas()) == 0 {
		rw.met = "?"
	}
	return rw
}

// headEpochRow alternates c.rounds fits of trial 0's head for c.epochs
// epochs (no early stopping) with PyTorch fits of the same head on the same
// rows, so drift in the machine's speed hits both alike, and reports the
// medians.
func headEpochRow(ctx context.Context, c config, tmp string, plan *runner.Plan, fits *fitTimes) (row, error) {
	cfg := runner.FitConfig(plan.Trials[0])
	cfg.Epochs, cfg.Patience = c.epochs, 0
	classes := len(plan.Data.Classes)
	what := fmt.Sprintf("head training, ms per epoch (%d rows, hidden %v, batch %d, validation included; median of %d alternating rounds of %d epochs)",
		fits.rows, cfg.Hidden, cfg.BatchSize, c.rounds, c.epochs)
	engine := "dogrun " + train.Engine()
	tt, err := torchFor(cfg)
	if err != nil {
		return row{}, err
	}
	var ours, theirs, ratio []float64
	var ref *torchRun
	for i := range c.rounds {
		step(fmt.Sprintf("head epoch round %d/%d: dogrun, then PyTorch", i+1, c.rounds))
		_, res, err := train.Fit(ctx, cfg, fits.train, fits.val, classes, nil)
		if err != nil {
			return row{}, err
		}
		ours = append(ours, 1000*meanEpoch(func(i int) float64 { return res.Epochs[i].Seconds }, len(res.Epochs)))
		if ref, err = runTorch(ctx, c, filepath.Join(tmp, "torch-epoch"), fits.train, fits.val, classes, cfg.Hidden, cfg.BatchSize, []torchTrial{tt}); err != nil {
			return row{what: what, dogrun: fmt.Sprintf("%.1f %s", stats.Median(ours), engine), ref: "PyTorch not available: " + err.Error(), goal: "<= 0.5x", met: "?"}, nil
		}
		s := ref.Trials[0].EpochSeconds
		theirs = append(theirs, 1000*meanEpoch(func(i int) float64 { return s[i] }, len(s)))
		ratio = append(ratio, ours[i]/theirs[i])
	}
	r := stats.Median(ratio)
	return ref.fair(judge(row{
		what:   what,
		dogrun: fmt.Sprintf("%.1f %s", stats.Median(ours), engine),
		ref:    fmt.Sprintf("%.1f %s", stats.Median(theirs), ref.describe()),
		ratio:  fmt.Sprintf("%.2fx", r),
		goal:   "<= 0.5x",
	}, r <= 0.5)), nil
}

// sweepFits is what the -child-sweep and -child-run processes report.
type sweepFits struct {
	Seconds float64 `json:"seconds"`
	Trials  int     `json:"trials"`
	Failed  int     `json:"failed"`
	Epochs  int     `json:"epochs"`
}

// sweepRows times the trials of the experiment c.sweep (all sharing one
// feature set, split and head shape, features cached) three ways in each of
// c.sweepRounds alternating rounds, and reports the medians:
//   - their fits alone, with train.FitMany in a child process;
//   - the whole experiment as dogrun run does it (planning, fits, evaluation,
//     storage) in a child process, whose peak RSS it reads;
//   - the same heads with PyTorch one after another, as a user would script
//     it, with the same early stopping.
func sweepRows(ctx context.Context, c config, tmp string) ([]row, error) {
	plan, cache, err := sweepPlan(ctx, c, true)
	if err != nil {
		return nil, err
	}
	var trials []torchTrial
	for _, t := range plan.Trials {
		tt, err := torchFor(runner.FitConfig(t))
		if err != nil {
			return nil, err
		}
		trials = append(trials, tt)
	}
	tr, val, _, err := plan.Sets(cache, plan.Trials[0])
	if err != nil {
		return nil, err
	}
	cfg := runner.FitConfig(plan.Trials[0])
	name := filepath.Base(c.sweep)
	var fitSec, runSec, fitCPU, runCPU, overhead, theirs, speedup, rss []float64
	var fits sweepFits
	var ref *torchRun
	theirEpochs := 0
	for i := range c.sweepRounds {
		step(fmt.Sprintf("%s round %d/%d: %d fits with train.FitMany (%d threads), dogrun run of it, then PyTorch one head after another",
			name, i+1, c.sweepRounds, len(plan.Trials), c.threads))
		fitsRes, err := childJSON(ctx, c, "-child-sweep")
		if err != nil {
			return nil, err
		}
		ranRes, err := childJSON(ctx, c, "-child-run")
		if err != nil {
			return nil, err
		}
		fits = fitsRes.sweepFits
		fitSec, runSec, rss = append(fitSec, fits.Seconds), append(runSec, ranRes.Seconds), append(rss, ranRes.peakMiB)
		fitCPU, runCPU = append(fitCPU, fitsRes.cpu), append(runCPU, ranRes.cpu)
		// CPU time, not wall time: the two children run one after the
		// other, and on a shared machine their wall times see different
		// loads (a wall-time share came out negative under a varying load).
		overhead = append(overhead, 100*(ranRes.cpu-fitsRes.cpu)/ranRes.cpu)
		if ref, err = runTorch(ctx, c, filepath.Join(tmp, "torch-sweep"), tr, val, len(plan.Data.Classes), cfg.Hidden, cfg.BatchSize, trials); err != nil {
			break
		}
		theirEpochs = 0
		for _, t := range ref.Trials {
			theirEpochs += t.StoppedEpoch
		}
		theirs = append(theirs, ref.TotalSeconds)
		speedup = append(speedup, ref.TotalSeconds/fits.Seconds)
	}
	rounds := fmt.Sprintf("median of %d alternating rounds", len(fitSec))
	what := fmt.Sprintf("%s: its %d fits, s (%d train rows, hidden %v, early stopping as configured; %s)", name, len(plan.Trials), tr.Rows(), cfg.Hidden, rounds)
	dogrun := fmt.Sprintf("%.1f %s, train.FitMany on %d threads (%d epochs in all)", stats.Median(fitSec), train.Engine(), c.threads, fits.Epochs)
	share := stats.Median(overhead)
	rest := []row{
		judge(row{
			what:   fmt.Sprintf("peak RSS of dogrun run %s (%d trials, %d at a time, features cached; largest of %d rounds)", name, len(plan.Trials), c.threads, len(rss)),
			dogrun: fmt.Sprintf("%.0f MiB", slices.Max(rss)),
			goal:   "<= 2048 MiB",
		}, slices.Max(rss) <= 2048),
		judge(row{
			what:   fmt.Sprintf("share of dogrun run %s's CPU time that is not fitting (features cached: planning, preparing rows, evaluation, storage; %s)", name, rounds),
			dogrun: fmt.Sprintf("%.1f%% of %.1f s CPU (%.1f s wall)", share, stats.Median(runCPU), stats.Median(runSec)),
			ref:    fmt.Sprintf("%.1f s CPU of fits alone (train.FitMany)", stats.Median(fitCPU)),
			goal:   "<= 5%",
		}, share <= 5),
	}
	if err != nil {
		return append([]row{{what: what, dogrun: dogrun, ref: "PyTorch not available: " + err.Error(), goal: ">= 4x faster", met: "?"}}, rest...), nil
	}
	r := stats.Median(speedup)
	return append([]row{ref.fair(judge(row{
		what:   what,
		dogrun: dogrun,
		ref:    fmt.Sprintf("%.1f %s, one head after another (%d epochs in all)", stats.Median(theirs), ref.describe(), theirEpochs),
		ratio:  fmt.Sprintf("%.1fx faster", r),
		goal:   ">= 4x faster",
	}, r >= 4))}, rest...), nil
}

// childResult is what a child reports, with its peak RSS in MiB and its CPU
// time (user and system) in seconds.
type childResult struct {
	sweepFits
	peakMiB, cpu float64
}

// childJSON runs this program with flag (a child mode) on c.sweep and
// returns what it reports, its peak RSS and its CPU time.
func childJSON(ctx context.Context, c config, flag string) (childResult, error) {
	var out childResult
	self, err := os.Executable()
	if err != nil {
		return out, err
	}
	cmd := exec.CommandContext(ctx, self, flag, "-sweep", c.sweep, "-threads", fmt.Sprint(c.threads), "-batch", fmt.Sprint(c.batch), "-data", c.data)
	cmd.Stderr = os.Stderr
	js, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s child: %w", flag, err)
	}
	if err := json.Unmarshal(js, &out.sweepFits); err != nil {
		return out, fmt.Errorf("%s child printed %q: %w", flag, js, err)
	}
	if out.Failed > 0 {
		return out, fmt.Errorf("%s child: %d of %d trials failed", flag, out.Failed, out.Trials)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return out, errors.New("no rusage on this system")
	}
	out.peakMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
	out.cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return out, nil
}

// sweepPlan plans c.sweep and opens its feature cache (the shared one:
// features are the same whoever extracts them), extracting what is missing
// when extract is set.
func sweepPlan(ctx context.Context, c config, extract bool) (*runner.Plan, *backbone.Cache, error) {
	exp, err := schemas.Load(c.sweep)
	if err != nil {
		return nil, nil, err
	}
	plan, err := runner.NewPlan(exp, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	// Every trial must train on trial 0's rows.
	t := plan.Trials[0]
	if exp.Dataset.Resample || exp.Split.KFold > 0 {
		return nil, nil, fmt.Errorf("%s: dataset.resample and split.kfold give trials rows of their own", c.sweep)
	}
	for _, o := range plan.Trials {
		if o.Backbone.Name != t.Backbone.Name || o.Cut.Name != t.Cut.Name || len(o.Parts) != 1 || o.Adapter != nil || o.Frozen != nil || o.Config.Split.Leaky != t.Config.Split.Leaky {
			return nil, nil, fmt.Errorf("%s: trials do not all share one backbone, its features and one split", c.sweep)
		}
	}
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return nil, nil, err
	}
	cache, err := backbone.OpenCache(cacheDir, t.Backbone, t.Cut)
	if err != nil {
		return nil, nil, err
	}
	missing := backbone.Missing(cache, plan.Requests(t))
	if len(missing) > 0 {
		if !extract {
			return nil, nil, fmt.Errorf("%s: %d feature vectors not cached", c.sweep, len(missing))
		}
		step(fmt.Sprintf("extracting %d missing feature vectors of %s into the shared cache", len(missing), filepath.Base(c.sweep)))
		m, err := backbone.Open(ctx, cacheDir, t.Backbone, t.Cut.Name, c.threads)
		if err != nil {
			return nil, nil, err
		}
		defer m.Close()
		if _, err := backbone.Extract(ctx, m, cache, missing, c.batch, nil); err != nil {
			return nil, nil, err
		}
	}
	return plan, cache, nil
}

// sweepChild is the -child-sweep process: the fits of c.sweep with
// train.FitMany, timed, printed as JSON.
func sweepChild(ctx context.Context, c config) error {
	plan, cache, err := sweepPlan(ctx, c, false)
	if err != nil {
		return err
	}
	tr, val, _, err := plan.Sets(cache, plan.Trials[0])
	if err != nil {
		return err
	}
	cfgs := make([]train.Config, len(plan.Trials))
	for i, t := range plan.Trials {
		cfgs[i] = runner.FitConfig(t)
	}
	out := sweepFits{Trials: len(cfgs)}
	start := time.Now()
	train.FitMany(ctx, cfgs, tr, val, len(plan.Data.Classes), c.threads, nil, func(i int, o train.Outcome) {
		if o.Err != nil {
			fmt.Fprintf(os.Stderr, "bench: trial %d: %v\n", i, o.Err)
			out.Failed++
		}
		out.Epochs += o.Result.StoppedEpoch
		if c.verbose {
			fmt.Fprintf(os.Stderr, "bench: trial %d stopped at epoch %d, best %d\n", i, o.Result.StoppedEpoch, o.Result.BestEpoch)
		}
	})
	out.Seconds = time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(out)
}

// runChild is the -child-run process: c.sweep as dogrun run does it, into a
// new results database, with the shared (warm) feature cache, timed.
func runChild(ctx context.Context, c config) error {
	exp, err := schemas.Load(c.sweep)
	if err != nil {
		return err
	}
	sum, seconds, err := runFresh(ctx, c, exp, false)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(sweepFits{Seconds: seconds, Trials: sum.Planned, Failed: sum.Failed})
}
