package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/train"
)

// Options are the places and knobs of a run.
type Options struct {
	Store    *results.Store
	RunsDir  string // trial folders (checkpoints, CSV) go under RunsDir/<experiment>/
	CacheDir string // fetched models and features
	Worker   string // this process's name in the store; default host:pid
	Threads  int    // ONNX Runtime intra-op threads; 0 = one per CPU
	Batch    int    // images per backbone call; default 8
	Log      io.Writer
	// StaleAfter is how old a running trial's heartbeat must be before another
	// worker may take it over.
	StaleAfter  time.Duration
	MaxAttempts int
}

// Summary counts what a run did.
type Summary struct {
	Planned, AlreadyDone, Trained, Failed int
	FeaturesComputed                      int
	ExperimentID                          int64
}

func (o *Options) defaults() {
	if o.Worker == "" {
		host, _ := os.Hostname()
		o.Worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Batch < 1 {
		o.Batch = 8
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 2 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 2
	}
}

// Run registers every trial of the experiment and runs those not done yet. A trial
// that fails is recorded as failed and the others still run.
func Run(ctx context.Context, exp *schemas.Experiment, opt Options) (Summary, error) {
	opt.defaults()
	plan, err := NewPlan(exp, opt.Log)
	if err != nil {
		return Summary{}, err
	}
	// Every download before the sweep starts, not in the middle of a trial.
	var specs []backbone.Spec
	for _, t := range plan.Trials {
		for _, p := range t.Parts {
			specs = append(specs, p.Spec)
		}
	}
	if err := backbone.Prepare(ctx, opt.CacheDir, specs); err != nil {
		return Summary{}, err
	}
	if err := plan.resolveFreezes(ctx, opt.CacheDir); err != nil {
		return Summary{}, err
	}
	r := &run{opt: opt, plan: plan, models: map[string]*backbone.Model{}, caches: map[string]*backbone.Cache{}}
	defer r.close()
	return r.all(ctx)
}

type run struct {
	opt    Options
	plan   *Plan
	expID  int64
	models map[string]*backbone.Model
	caches map[string]*backbone.Cache
	// adapters are the trained adapters of this run's trials, by key.
	adapters map[string]*adapter.Adapter
	sum      Summary
	build    BuildInfo
}

func (r *run) close() {
	for _, m := range r.models {
		m.Close()
	}
}

func (r *run) all(ctx context.Context) (Summary, error) {
	exp := r.plan.Experiment
	yaml, err := os.ReadFile(exp.File)
	if err != nil {
		return r.sum, err
	}
	r.expID, err = r.opt.Store.PutExperiment(ctx, results.Experiment{
		Name: exp.Name, File: absPath(exp.File), ConfigYAML: string(yaml), DatasetFingerprint: r.plan.Data.Fingerprint(),
	})
	if err != nil {
		return r.sum, err
	}
	rows := make([]results.Trial, len(r.plan.Trials))
	hashes := make([]string, len(r.plan.Trials))
	byHash := map[string]Trial{}
	for i, t := range r.plan.Trials {
		cfg, err := t.Config.CanonicalJSON()
		if err != nil {
			return r.sum, err
		}
		rows[i] = results.Trial{Hash: t.Hash, Index: t.Index, Seed: t.Seed, VariantKey: t.VariantKey(),
			VariantJSON: variantJSON(t.Trial), ConfigJSON: string(cfg), BackboneSHA256: backboneID(t.Parts), Fold: t.Fold}
		hashes[i] = t.Hash
		byHash[t.Hash] = t
	}
	if _, err := r.opt.Store.RegisterTrials(ctx, r.expID, rows); err != nil {
		return r.sum, err
	}
	splits, err := r.plan.StoredSplits()
	if err != nil {
		return r.sum, err
	}
	if err := r.opt.Store.PutSplits(ctx, r.expID, splits); err != nil {
		return r.sum, err
	}
	stored, err := r.opt.Store.Trials(ctx, r.expID)
	if err != nil {
		return r.sum, err
	}
	r.sum.Planned = len(r.plan.Trials)
	for _, s := range stored {
		if _, ok := byHash[s.Hash]; ok && s.Status == results.StatusDone {
			r.sum.AlreadyDone++
		}
	}
	fmt.Fprintf(r.opt.Log, "experiment %s: %d trials (%d already done), %d classes, %d photos (train %d, val %d, test %d)\n",
		exp.Name, r.sum.Planned, r.sum.AlreadyDone, len(r.plan.Data.Classes), len(r.plan.Data.Photos),
		len(r.plan.Split.Train), len(r.plan.Split.Val), len(r.plan.Split.Test))
	r.build = ReadBuildInfo(filepath.Dir(exp.File))

	started := time.Now()
	finished := 0
	for {
		if err := ctx.Err(); err != nil {
			return r.sum, err
		}
		if err := r.reclaimDead(ctx); err != nil {
			return r.sum, err
		}
		claimed, err := r.opt.Store.Claim(ctx, r.expID, hashes, r.opt.Worker, r.opt.StaleAfter, r.opt.MaxAttempts)
		if err != nil {
			return r.sum, err
		}
		if claimed == nil {
			break
		}
		t := byHash[claimed.Hash]
		k := r.sum.AlreadyDone + r.sum.Trained + r.sum.Failed + 1
		eta := ""
		if finished > 0 {
			left := r.sum.Planned - k + 1
			eta = fmt.Sprintf(", run ETA %s", roundDuration(time.Since(started)/time.Duration(finished)*time.Duration(left)))
		}
		fold := ""
		if t.Fold > 0 {
			fold = fmt.Sprintf(" fold=%d", t.Fold)
		}
		fmt.Fprintf(r.opt.Log, "trial %d/%d [%s seed=%d%s] %s%s\n", k, r.sum.Planned, t.VariantKey(), t.Seed, fold, t.Hash[:12], eta)
		err = r.one(ctx, claimed, t, fmt.Sprintf("trial %d/%d", k, r.sum.Planned))
		finished++
		switch {
		case err == nil:
			r.sum.Trained++
		case errors.Is(err, results.ErrNotOwned):
			// Another worker reclaimed it after this one went silent; it is theirs now.
			fmt.Fprintf(r.opt.Log, "trial %d/%d taken over by another worker: %v\n", k, r.sum.Planned, err)
		case ctx.Err() != nil:
			// Interrupted, not failed: hand the trial back for the next run.
			_ = r.opt.Store.ReleaseTrial(context.WithoutCancel(ctx), claimed.ID, r.opt.Worker)
			return r.sum, ctx.Err()
		default:
			r.sum.Failed++
			// Not again in this run: a NaN loss fails the same way twice in a row.
			// The next run (or another worker) retries it while attempts are left.
			hashes = without(hashes, claimed.Hash)
			fmt.Fprintf(r.opt.Log, "trial %d/%d failed: %v\n", k, r.sum.Planned, err)
			if ferr := r.opt.Store.Fail(ctx, claimed.ID, r.opt.Worker, err.Error()); ferr != nil {
				return r.sum, errors.Join(err, ferr)
			}
		}
	}
	fmt.Fprintf(r.opt.Log, "done: %d trained, %d failed, %d already done, %d features computed in %s\n",
		r.sum.Trained, r.sum.Failed, r.sum.AlreadyDone, r.sum.FeaturesComputed, roundDuration(time.Since(started)))
	return r.sum, nil
}

func roundDuration(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// keepClaim refreshes the trial's heartbeat until stop is called, so that other
// workers do not take it over during a long extraction or epoch. If the claim is
// lost anyway (this worker stalled past StaleAfter), the trial's context is
// cancelled with results.ErrNotOwned as the cause.
func (r *run) keepClaim(ctx context.Context, trialID int64) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(r.opt.StaleAfter / 4)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := r.opt.Store.Heartbeat(ctx, trialID, r.opt.Worker); errors.Is(err, results.ErrNotOwned) {
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

// one runs a claimed trial from features to stored results.
func (r *run) one(ctx context.Context, claimed *results.Trial, t Trial, label string) error {
	ctx, release := r.keepClaim(ctx, claimed.ID)
	defer release()
	err := r.trial(ctx, claimed, t, label)
	if cause := context.Cause(ctx); errors.Is(cause, results.ErrNotOwned) {
		return cause
	}
	return err
}

func (r *run) trial(ctx context.Context, claimed *results.Trial, t Trial, label string) error {
	start := time.Now()
	cfg := t.Config
	aug := augmentOf(cfg)
	units, err := r.plan.Units(t)
	if err != nil {
		return err
	}
	sets, cache, err := r.trialSets(ctx, t, units, label)
	if err != nil {
		return err
	}
	if t.Adapter != nil {
		if sets, err = r.adapt(ctx, t, sets, units, label); err != nil {
			return err
		}
	}

	lastLine := time.Time{}
	onEpoch := func(e train.Epoch) {
		if time.Since(lastLine) >= 2*time.Second || e.Epoch == cfg.Train.Epochs {
			left := time.Duration(float64(cfg.Train.Epochs-e.Epoch) * e.Seconds * float64(time.Second))
			fmt.Fprintf(r.opt.Log, "  %s epoch %d/%d loss %.4f acc %.3f val_loss %.4f val_acc %.3f (%.2fs/epoch, trial ETA <= %s)\n",
				label, e.Epoch, cfg.Train.Epochs, e.TrainLoss, e.TrainAccuracy, e.ValLoss, e.ValAccuracy, e.Seconds, roundDuration(left))
			lastLine = time.Now()
		}
	}
	head, fit, err := train.Fit(ctx, FitConfig(t), sets.train, sets.val, len(sets.classes), onEpoch)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.opt.Log, "  %s stopped at epoch %d, best epoch %d\n", label, fit.StoppedEpoch, fit.BestEpoch)

	probs, err := head.Predict(sets.test)
	if err != nil {
		return err
	}
	report, err := metrics.Evaluate(toInts(sets.test.Y), probs, sets.classes)
	if err != nil {
		return err
	}
	var open *results.OpenSet
	if r.plan.Unknown != nil {
		if open, err = r.plan.openSet(head, sets, probs, cache, aug.Key()); err != nil {
			return err
		}
		logOpenSet(r.opt.Log, label, open)
	}
	dir := filepath.Join(r.opt.RunsDir, r.plan.Experiment.Name, "trials", t.Hash[:16])
	if err := head.Save(filepath.Join(dir, "checkpoint")); err != nil {
		return err
	}
	if err := writeCSVs(dir, report); err != nil {
		return err
	}
	if err := writeTensorBoard(dir, time.Now(), fit.Epochs); err != nil {
		return err
	}
	fmt.Fprintf(r.opt.Log, "  %s test accuracy %.3f top-5 %.3f macro F1 %.3f (%d photos)\n",
		label, report.Accuracy, report.Top5, report.Macro.F1, report.N)

	epochs := make([]results.Epoch, len(fit.Epochs))
	for i, e := range fit.Epochs {
		epochs[i] = results.Epoch{Epoch: e.Epoch, TrainLoss: e.TrainLoss, TrainAccuracy: e.TrainAccuracy,
			ValLoss: e.ValLoss, ValAccuracy: e.ValAccuracy, Seconds: e.Seconds}
	}
	return r.opt.Store.Finish(ctx, claimed.ID, r.opt.Worker, results.Outcome{
		Epochs: epochs, BestEpoch: fit.BestEpoch, StoppedEpoch: fit.StoppedEpoch,
		CheckpointPath: filepath.Join(dir, "checkpoint"), Classes: sets.classes,
		Report: report, Predictions: predictions(r.plan, sets.testUnits, sets.classOf, probs),
		DurationSeconds: time.Since(start).Seconds(),
		GoVersion:       runtime.Version(), GitCommit: r.build.Commit, GitDirty: r.build.Dirty,
		BackboneSHA256: backboneID(t.Parts), OpenSet: open,
	})
}

func augmentOf(cfg schemas.Experiment) dataset.Augment {
	a := cfg.Augmentation
	return dataset.Augment{RotationDeg: a.RotationDeg, Shift: a.Shift, Zoom: a.Zoom, Brightness: a.Brightness, HFlip: a.HFlip}
}

func toInts(ys []int32) []int {
	out := make([]int, len(ys))
	for i, y := range ys {
		out[i] = int(y)
	}
	return out
}

// predictions keeps every test photo's true class (classOf maps the plan's
// classes to the trial's), decision and top five scores. An augmented copy
// (tested only by the leaky protocol) is named photo#view.
func predictions(p *Plan, units []dataset.Unit, classOf []int, probs [][]float32) []results.Prediction {
	out := make([]results.Prediction, len(units))
	for i, x := range units {
		ph := p.Data.Photos[x.Photo]
		top := metrics.TopK(probs[i], 5)
		scores := make([]results.ClassScore, len(top))
		for j, c := range top {
			scores[j] = results.ClassScore{Class: c, Score: float64(probs[i][c])}
		}
		out[i] = results.Prediction{Photo: UnitName(ph, x.View), PhotoSHA256: ph.SHA256, True: classOf[ph.Class], Pred: top[0], TopK: scores}
	}
	return out
}

func writeCSVs(dir string, r metrics.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer, metrics.Report) error{
		"classification_report.csv": metrics.WriteClassificationCSV,
		"confusion_matrix.csv":      metrics.WriteConfusionCSV,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := write(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
