package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/train"
)

// Options are the places and knobs of a run.
type Options struct {
	Store *results.Store
	// OpenStore, when Store is nil, opens it once the experiment is planned,
	// so that a run refused for its data creates no database.
	OpenStore func() (*results.Store, error)

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
	// Redesign lets a settled experiment replace the design its stored
	// outcomes were looked at under (see ErrDesignChanged).
	Redesign bool
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
// that fails is recorded as failed and the others still run. When ctx ends,
// the error (an *Interrupted) says what was handed back for the next run.
func Run(ctx context.Context, exp *schemas.Experiment, opt Options) (Summary, error) {
	opt.defaults()
	sum, err := plannedRun(ctx, exp, opt)
	var in *Interrupted
	if err != nil && ctx.Err() != nil && !errors.As(err, &in) {
		err = &Interrupted{Msg: "interrupted before any trial started; nothing was lost, and the next dogrun run begins where this one did", Cause: ctx.Err()}
	}
	return sum, err
}

func plannedRun(ctx context.Context, exp *schemas.Experiment, opt Options) (Summary, error) {
	plan, err := NewPlan(exp, opt.Log)
	if err != nil {
		return Summary{}, err
	}
	if err := plan.resolveFreezes(ctx, opt.CacheDir); err != nil {
		return Summary{}, err
	}
	if opt.Store == nil {
		st, err := opt.OpenStore()
		if err != nil {
			return Summary{}, err
		}
		defer st.Close()
		opt.Store = st
	}
	r := &run{opt: opt, plan: plan, models: map[string]*backbone.Model{}, caches: map[string]*backbone.Cache{}}
	defer r.close()
	return r.all(ctx)
}

// Interrupted is Run's error when its context ends (Ctrl-C): Msg says which
// trial was handed back and that the next run does it again.
type Interrupted struct {
	Msg   string
	Cause error // the context's error
}

func (e *Interrupted) Error() string { return e.Msg }
func (e *Interrupted) Unwrap() error { return e.Cause }

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
	byHash   map[string]Trial // the planned trials
	// counted are the trials counted in sum.Planned; failedHere those that
	// failed in this run, not claimed again by it.
	counted, failedHere map[string]bool

	// Seams for tests, nil in a real run: the steps of one trial (else
	// r.trial), the heartbeat clock (else a time.Ticker) and the pause of a
	// worker waiting for others (else a timer).
	trialSteps func(ctx context.Context, claimed *results.Trial, t Trial, label string) error
	ticker     func(every time.Duration) (ticks <-chan time.Time, stop func())
	wait       func(ctx context.Context, d time.Duration) error // else a timer
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
	if exp.Settle.Declared() {
		if err := r.checkDesign(ctx); err != nil {
			return r.sum, err
		}
	}
	r.expID, err = r.opt.Store.PutExperiment(ctx, results.Experiment{
		Name: exp.Name, File: absPath(exp.File), ConfigYAML: string(yaml), DatasetFingerprint: r.plan.Data.Fingerprint(),
	})
	if err != nil {
		return r.sum, err
	}
	splits, err := r.plan.StoredSplits()
	if err != nil {
		return r.sum, err
	}
	if err := r.opt.Store.PutSplits(ctx, r.expID, splits); err != nil {
		return r.sum, err
	}
	r.byHash = map[string]Trial{}
	for _, t := range r.plan.Trials {
		r.byHash[t.Hash] = t
	}
	r.build = ReadBuildInfo(filepath.Dir(exp.File))
	started := time.Now()
	if exp.Settle.Declared() {
		err = r.settle(ctx)
	} else {
		err = r.sweep(ctx)
	}
	if err != nil {
		return r.sum, err
	}
	fmt.Fprintf(r.opt.Log, "done: %d trained, %d failed, %d already done, %s computed in %s\n",
		r.sum.Trained, r.sum.Failed, r.sum.AlreadyDone, english.Count(r.sum.FeaturesComputed, "feature"), roundDuration(time.Since(started)))
	return r.sum, nil
}

// sweep registers every trial and runs those not done.
func (r *run) sweep(ctx context.Context) error {
	hashes := make([]string, len(r.plan.Trials))
	for i, t := range r.plan.Trials {
		hashes[i] = t.Hash
	}
	if err := r.register(ctx, r.plan.Trials, hashes); err != nil {
		return err
	}
	if err := r.countDone(ctx, hashes); err != nil {
		return err
	}
	exp := r.plan.Experiment
	fmt.Fprintf(r.opt.Log, "experiment %s: %s (%d already done), %s\n",
		exp.Name, english.Count(r.sum.Planned, "trial"), r.sum.AlreadyDone, r.describeData())
	return r.work(ctx, hashes)
}

// register stores trials; those in current stay current, the rest are
// superseded.
func (r *run) register(ctx context.Context, trials []Trial, current []string) error {
	rows := make([]results.Trial, len(trials))
	for i, t := range trials {
		cfg, err := t.Config.CanonicalJSON()
		if err != nil {
			return err
		}
		rows[i] = results.Trial{Hash: t.Hash, Index: t.Index, Seed: t.Seed, VariantKey: t.VariantKey(),
			VariantJSON: variantJSON(t.Trial), ConfigJSON: string(cfg), BackboneSHA256: backboneID(t.Parts), Fold: t.Fold}
	}
	_, err := r.opt.Store.RegisterTrialsOf(ctx, r.expID, rows, current)
	return err
}

// countDone adds the trials of hashes not counted before to Planned, and
// those of them done already to AlreadyDone.
func (r *run) countDone(ctx context.Context, hashes []string) error {
	stored, err := r.opt.Store.Trials(ctx, r.expID)
	if err != nil {
		return err
	}
	status := map[string]results.TrialStatus{}
	for _, s := range stored {
		status[s.Hash] = s.Status
	}
	if r.counted == nil {
		r.counted = map[string]bool{}
	}
	for _, h := range hashes {
		if r.counted[h] {
			continue
		}
		r.counted[h] = true
		r.sum.Planned++
		if status[h] == results.StatusDone {
			r.sum.AlreadyDone++
		}
	}
	return nil
}

// describeData is the classes and photos the trials share.
func (r *run) describeData() string {
	return fmt.Sprintf("%s, %s (train %d, val %d, test %d)", english.Count(len(r.plan.Data.Classes), "class|classes"),
		english.Count(len(r.plan.Data.Photos), "photo"), len(r.plan.Split.Train), len(r.plan.Split.Val), len(r.plan.Split.Test))
}

// work claims and runs the trials of hashes until none is left to claim. A
// trial that fails is not claimed again by this run.
func (r *run) work(ctx context.Context, hashes []string) error {
	started := time.Now()
	finished := 0
	for {
		if err := ctx.Err(); err != nil {
			return &Interrupted{Msg: fmt.Sprintf("interrupted between trials (%s in this run); the next dogrun run continues with the rest",
				english.Count(r.sum.Trained, "trial")+" trained"), Cause: err}
		}
		if err := r.reclaimDead(ctx); err != nil {
			return err
		}
		claimed, err := r.opt.Store.Claim(ctx, r.expID, r.notFailedHere(hashes), r.opt.Worker, r.opt.StaleAfter, r.opt.MaxAttempts)
		if err != nil {
			return err
		}
		if claimed == nil {
			return nil
		}
		t := r.byHash[claimed.Hash]
		eta := ""
		if finished > 0 {
			left := r.sum.Planned - (r.sum.AlreadyDone + r.sum.Trained + r.sum.Failed)
			eta = fmt.Sprintf(", run ETA %s", roundDuration(time.Since(started)/time.Duration(finished)*time.Duration(left)))
		}
		// Trials are numbered from 1 in their file's order, as status shows them.
		label := fmt.Sprintf("trial %d/%d", t.Index+1, len(r.plan.Trials))
		what := "[" + Describe(t.VariantKey(), t.Seed, t.Fold) + "]"
		fmt.Fprintf(r.opt.Log, "%s %s %s%s\n", label, what, t.Hash[:12], eta)
		err = r.safely(ctx, claimed, t, label)
		finished++
		switch {
		case err == nil:
			r.sum.Trained++
		case errors.Is(err, results.ErrNotOwned):
			// Another worker reclaimed it after this one went silent; it is theirs now.
			fmt.Fprintf(r.opt.Log, "%s taken over by another worker: %v\n", label, err)
		case ctx.Err() != nil:
			// Interrupted, not failed: hand the trial back for the next run.
			_ = r.opt.Store.ReleaseTrial(context.WithoutCancel(ctx), claimed.ID, r.opt.Worker)
			return &Interrupted{Msg: fmt.Sprintf("interrupted: %s %s was handed back unfinished, and the next dogrun run does it again (%s in this run)",
				label, what, english.Count(r.sum.Trained, "trial")+" trained"), Cause: ctx.Err()}
		default:
			r.sum.Failed++
			// Not again in this run: a NaN loss fails the same way twice in a row.
			// The next run (or another worker) retries it while attempts are left.
			if r.failedHere == nil {
				r.failedHere = map[string]bool{}
			}
			r.failedHere[claimed.Hash] = true
			fmt.Fprintf(r.opt.Log, "%s failed: %v\n", label, err)
			if ferr := r.opt.Store.Fail(ctx, claimed.ID, r.opt.Worker, err.Error()); ferr != nil {
				return errors.Join(err, ferr)
			}
		}
	}
}

// notFailedHere is hashes without the trials that failed in this run; never
// nil, as a nil list would mean "every trial" to Store.Claim.
func (r *run) notFailedHere(hashes []string) []string {
	out := make([]string, 0, len(hashes))
	for _, h := range hashes {
		if !r.failedHere[h] {
			out = append(out, h)
		}
	}
	return out
}

// Describe names a trial for people: its variant, seed and fold.
func Describe(variantKey string, seed int64, fold int) string {
	s := fmt.Sprintf("%s seed=%d", variantKey, seed)
	if fold > 0 {
		s += fmt.Sprintf(" fold=%d", fold)
	}
	return s
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
	ticks, stop := r.heartbeats(r.opt.StaleAfter / 4)
	go func() {
		defer stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-ticks:
				if err := r.opt.Store.Heartbeat(ctx, trialID, r.opt.Worker); errors.Is(err, results.ErrNotOwned) {
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

// safely is one, with a panic in any step turned into the trial's failure:
// a bad trial must not take the whole sweep down with it.
func (r *run) safely(ctx context.Context, claimed *results.Trial, t Trial, label string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error (a dogrun bug, please report it with this message): %v\n%s", p, debug.Stack())
		}
	}()
	return r.one(ctx, claimed, t, label)
}

func (r *run) heartbeats(every time.Duration) (<-chan time.Time, func()) {
	if r.ticker != nil {
		return r.ticker(every)
	}
	t := time.NewTicker(every)
	return t.C, t.Stop
}

// one runs a claimed trial from features to stored results.
func (r *run) one(ctx context.Context, claimed *results.Trial, t Trial, label string) error {
	ctx, release := r.keepClaim(ctx, claimed.ID)
	defer release()
	steps := r.trial
	if r.trialSteps != nil {
		steps = r.trialSteps
	}
	err := steps(ctx, claimed, t, label)
	if cause := context.Cause(ctx); errors.Is(cause, results.ErrNotOwned) {
		return cause
	}
	return err
}

// trial runs a claimed trial's steps. Each error names the step that failed:
// it is what dogrun status shows for the trial.
func (r *run) trial(ctx context.Context, claimed *results.Trial, t Trial, label string) error {
	start := time.Now()
	cfg := t.Config
	units, err := r.plan.Units(t)
	if err != nil {
		return fmt.Errorf("split: %w", err)
	}
	sets, cache, err := r.trialSets(ctx, t, units, label)
	if err != nil {
		return fmt.Errorf("extract features: %w", err)
	}
	if t.Adapter != nil {
		if sets, err = r.adapt(ctx, t, sets, units, label); err != nil {
			return fmt.Errorf("train adapter: %w", err)
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
		return fmt.Errorf("train head: %w", err)
	}
	fmt.Fprintf(r.opt.Log, "  %s stopped at epoch %d, best epoch %d\n", label, fit.StoppedEpoch, fit.BestEpoch)

	probs, report, open, err := r.evaluate(head, sets, cache, augmentOf(cfg).Key())
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	if open != nil {
		logOpenSet(r.opt.Log, label, open)
	}
	dir := filepath.Join(r.opt.RunsDir, r.plan.Experiment.Name, "trials", t.Hash[:16])
	if err := writeTrialFiles(dir, head, report, fit.Epochs); err != nil {
		return fmt.Errorf("write trial files: %w", err)
	}
	fmt.Fprintf(r.opt.Log, "  %s test accuracy %.3f top-5 %.3f macro F1 %.3f (%s)\n",
		label, report.Accuracy, report.Top5, report.Macro.F1, english.Count(report.N, "photo"))

	epochs := make([]results.Epoch, len(fit.Epochs))
	for i, e := range fit.Epochs {
		epochs[i] = results.Epoch{Epoch: e.Epoch, TrainLoss: e.TrainLoss, TrainAccuracy: e.TrainAccuracy,
			ValLoss: e.ValLoss, ValAccuracy: e.ValAccuracy, Seconds: e.Seconds}
	}
	err = r.opt.Store.Finish(ctx, claimed.ID, r.opt.Worker, results.Outcome{
		Epochs: epochs, BestEpoch: fit.BestEpoch, StoppedEpoch: fit.StoppedEpoch,
		CheckpointPath: filepath.Join(dir, "checkpoint"), Classes: sets.classes,
		Report: report, Predictions: predictions(r.plan, sets.testUnits, sets.classOf, probs),
		DurationSeconds: time.Since(start).Seconds(),
		GoVersion:       runtime.Version(), GitCommit: r.build.Commit, GitDirty: r.build.Dirty,
		BackboneSHA256: backboneID(t.Parts), OpenSet: open,
	})
	if err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	return nil
}

// evaluate scores the trained head on the test photos and, with open_set,
// calibrates and counts its rule for unknown dogs.
func (r *run) evaluate(head *train.Head, s sets, cache *backbone.Cache, augKey string) ([][]float32, metrics.Report, *results.OpenSet, error) {
	probs, err := head.Predict(s.test)
	if err != nil {
		return nil, metrics.Report{}, nil, err
	}
	report, err := metrics.Evaluate(toInts(s.test.Y), probs, s.classes)
	if err != nil {
		return nil, metrics.Report{}, nil, err
	}
	var open *results.OpenSet
	if r.plan.Unknown != nil {
		if open, err = r.plan.openSet(head, s, probs, cache, augKey); err != nil {
			return nil, metrics.Report{}, nil, err
		}
	}
	return probs, report, open, nil
}

// writeTrialFiles writes the trial's checkpoint, its CSV reports and its
// TensorBoard logs into dir.
func writeTrialFiles(dir string, head *train.Head, report metrics.Report, epochs []train.Epoch) error {
	if err := head.Save(filepath.Join(dir, "checkpoint")); err != nil {
		return err
	}
	if err := writeCSVs(dir, report); err != nil {
		return err
	}
	return writeTensorBoard(dir, time.Now(), epochs)
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
