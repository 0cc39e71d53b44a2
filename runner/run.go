package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/train"
	"github.com/dogrun/dogrun/whiten"
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
	// Threads is how many cores the run may use: ONNX Runtime's intra-op
	// threads, and trials trained at once; 0 = one per CPU.
	Threads int
	Batch   int // images per backbone call; default 8
	Log     io.Writer
	// StaleAfter is how old a running trial's heartbeat must be before another
	// worker may take it over.
	StaleAfter  time.Duration
	MaxAttempts int
	// Photos, when set, is where this machine keeps the experiment's photos,
	// in place of the file's dataset.path (a worker on another machine).
	Photos string
	// Poll, for Work, is how often to look for new work once none is left;
	// 0 returns then.
	Poll time.Duration

	wait bool // set by Work: wait for trials running under other workers
	// Redesign lets a settled experiment replace the design its stored
	// outcomes were looked at under (see ErrDesignChanged).
	Redesign bool
}

// Summary counts what a run did. Pruned trials (a search's) were stopped
// by its pruner; they are not in Trained.
type Summary struct {
	Planned, AlreadyDone, Trained, Pruned, Failed int
	FeaturesComputed                              int
	ExperimentID                                  int64
}

func (o *Options) defaults() {
	if o.Worker == "" {
		host, _ := os.Hostname()
		o.Worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if _, ok := o.Log.(*lineWriter); !ok {
		o.Log = &lineWriter{w: o.Log} // trials side by side log whole lines
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
	r, err := newRun(ctx, exp, opt)
	if err != nil {
		return Summary{}, err
	}
	defer r.close()
	return r.all(ctx)
}

// Register plans the experiment and stores it with its trials and splits,
// running none: what dogrun submit does before the workers start.
func Register(ctx context.Context, exp *schemas.Experiment, opt Options) (Summary, error) {
	opt.defaults()
	r, err := newRun(ctx, exp, opt)
	if err != nil {
		return Summary{}, err
	}
	defer r.close()
	if err := r.register(ctx); err != nil {
		return r.sum, err
	}
	r.sum.Planned = r.planned()
	return r.sum, nil
}

// newRun plans the experiment, reading its photos from opt.Photos when set,
// and opens the store when opt.Store is nil (after the plan, so that a run
// refused for its data creates no database).
func newRun(ctx context.Context, exp *schemas.Experiment, opt Options) (*run, error) {
	photos := opt.Photos
	if photos == "" {
		photos = schemas.DatasetDir(exp)
	}
	plan, err := newPlan(exp, photos, opt.Log)
	if err != nil {
		return nil, err
	}
	// Every download before the sweep starts, not in the middle of a trial.
	var specs []backbone.Spec
	for _, t := range append(slices.Clone(plan.Trials), plan.choices...) {
		for _, p := range t.Parts {
			specs = append(specs, p.Spec)
		}
	}
	if err := backbone.Prepare(ctx, opt.CacheDir, specs); err != nil {
		return nil, err
	}
	if err := plan.resolveFreezes(ctx, opt.CacheDir); err != nil {
		return nil, err
	}
	r := planned(plan, opt)
	if opt.Store == nil {
		if r.opt.Store, err = opt.OpenStore(); err != nil {
			return nil, err
		}
		r.ownStore = true
	}
	return r, nil
}

// planned is a run of plan's trials.
func planned(plan *Plan, opt Options) *run {
	r := &run{opt: opt, plan: plan, models: map[string]*backbone.Model{}, caches: map[string]*backbone.Cache{},
		byHash: map[string]Trial{}}
	for _, t := range plan.Trials {
		r.byHash[t.Hash] = t
	}
	return r
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
	opt      Options
	ownStore bool // opened by newRun, closed by close
	plan     *Plan
	byHash   map[string]Trial // the plan's trials
	expID    int64
	models   map[string]*backbone.Model
	caches   map[string]*backbone.Cache
	// adapters are the trained adapters of this run's trials, by key.
	adapters map[string]*adapter.Adapter
	// whitenings are the fitted whitenings of this run's trials (see whitening).
	whitenings map[string]*whiten.PCA
	// prep is held while a trial prepares its rows (see prepare).
	prep    sync.Mutex
	sum     Summary
	build   BuildInfo
	waiting sync.Once // othersRunning says so once
	// counted are the trials counted in sum.Planned; failedHere those that
	// failed in this run, not claimed again by it.
	counted, failedHere map[string]bool
	// search is the experiment's search; nil for a sweep.
	search *searching

	// Seams for tests, nil in a real run: the steps of one trial (else
	// r.trial), the heartbeat clock (else a time.Ticker) and the pause of a
	// worker waiting for others (else a timer).
	trialSteps func(ctx context.Context, claimed *results.Trial, t Trial, label string) error
	ticker     func(every time.Duration) (ticks <-chan time.Time, stop func())
	wait       func(ctx context.Context, d time.Duration) error
}

func (r *run) close() {
	for _, m := range r.models {
		m.Close()
	}
	if r.ownStore {
		r.opt.Store.Close()
	}
}

func (r *run) all(ctx context.Context) (Summary, error) {
	if err := r.register(ctx); err != nil {
		return r.sum, err
	}
	return r.sum, r.proceed(ctx)
}

// register stores the experiment, its splits and, unless it is settled
// round by round, its trials (those already stored keep their rows and
// results).
func (r *run) register(ctx context.Context) error {
	exp := r.plan.Experiment
	yaml, err := os.ReadFile(exp.File)
	if err != nil {
		return err
	}
	if exp.Settle.Declared() {
		if err := r.checkDesign(ctx); err != nil {
			return err
		}
	}
	r.expID, err = r.opt.Store.PutExperiment(ctx, results.Experiment{
		Name: exp.Name, File: absPath(exp.File), ConfigYAML: string(yaml), DatasetFingerprint: r.plan.Data.Fingerprint(),
	})
	if err != nil {
		return err
	}
	r.sum.ExperimentID = r.expID
	splits, err := r.plan.StoredSplits()
	if err != nil {
		return err
	}
	if err := r.opt.Store.PutSplits(ctx, r.expID, splits); err != nil {
		return err
	}
	switch {
	case exp.Settle.Declared():
		return nil // each round registers its own trials
	case exp.Search.Declared():
		return r.registerSearch(ctx) // its trials are made as they are claimed
	}
	return r.registerTrials(ctx, r.plan.Trials, r.planHashes())
}

// planHashes are the hashes of every planned trial.
func (r *run) planHashes() []string {
	hashes := make([]string, len(r.plan.Trials))
	for i, t := range r.plan.Trials {
		hashes[i] = t.Hash
	}
	return hashes
}

// registerTrials stores trials; those in current stay current, the rest are
// superseded.
func (r *run) registerTrials(ctx context.Context, trials []Trial, current []string) error {
	rows := make([]results.Trial, len(trials))
	for i, t := range trials {
		row, err := storedTrial(t)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	_, err := r.opt.Store.RegisterTrialsOf(ctx, r.expID, rows, current)
	return err
}

// storedTrial is t's row for the store: its identity.
func storedTrial(t Trial) (results.Trial, error) {
	cfg, err := t.Config.CanonicalJSON()
	if err != nil {
		return results.Trial{}, err
	}
	return results.Trial{Hash: t.Hash, Index: t.Index, Seed: t.Seed, VariantKey: t.VariantKey(),
		VariantJSON: variantJSON(t.Trial), ConfigJSON: string(cfg), BackboneSHA256: backboneID(t.Parts), Fold: t.Fold}, nil
}

// proceed runs the registered experiment: round by round when it is
// settled, draw by draw when it is a search, else every trial this worker
// can claim.
func (r *run) proceed(ctx context.Context) error {
	r.build = ReadBuildInfo(filepath.Dir(r.plan.Experiment.File))
	started := time.Now()
	var err error
	switch exp := r.plan.Experiment; {
	case exp.Settle.Declared():
		err = r.settle(ctx)
	case exp.Search.Declared():
		err = r.runSearch(ctx)
	default:
		err = r.sweep(ctx)
	}
	if err != nil {
		return err
	}
	pruned := ""
	if r.search != nil {
		pruned = fmt.Sprintf(", %d pruned", r.sum.Pruned)
	}
	fmt.Fprintf(r.opt.Log, "done: %d trained%s, %d failed, %d already done, %s computed in %s\n",
		r.sum.Trained, pruned, r.sum.Failed, r.sum.AlreadyDone, english.Count(r.sum.FeaturesComputed, "feature"), roundDuration(time.Since(started)))
	return nil
}

// sweep runs the experiment's trials that this worker can claim, until none
// is left (with Options.Wait, until none is running elsewhere either).
func (r *run) sweep(ctx context.Context) error {
	if err := r.countDone(ctx, r.planHashes()); err != nil {
		return err
	}
	fmt.Fprintf(r.opt.Log, "experiment %s: %s (%d already done), %s\n",
		r.plan.Experiment.Name, english.Count(r.sum.Planned, "trial"), r.sum.AlreadyDone, r.describeData())
	return r.work(ctx)
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
	if r.plan.Experiment.Evaluation.Dogs > 0 {
		return r.plan.evaluationNote()
	}
	return fmt.Sprintf("%s, %s (train %d, val %d, test %d)", english.Count(len(r.plan.Data.Classes), "class|classes"),
		english.Count(len(r.plan.Data.Photos), "photo"), len(r.plan.Split.Train), len(r.plan.Split.Val), len(r.plan.Split.Test))
}

// work claims and runs the registered trials this worker can claim, after
// handing back those of dead workers of this host.
func (r *run) work(ctx context.Context) error {
	return r.workOn(ctx, &sweepClaims{r: r})
}

// workOn is work with the trials claims hands out.
func (r *run) workOn(ctx context.Context, claims claimer) error {
	if err := r.reclaimDead(ctx, true); err != nil {
		return err
	}
	return r.trials(ctx, claims, time.Now())
}

// planned is the number of trials the run plans: a search's draws and
// confirmations, or the plan's trials.
func (r *run) planned() int {
	if r.search != nil {
		return r.search.planned()
	}
	return len(r.plan.Trials)
}

// claimer hands a run's workers their trials.
type claimer interface {
	// claim claims this worker's next trial, nil when none is left to it;
	// claimStored claims a stored trial as the store's Claim does, passing
	// over this run's failures and those of skip.
	claim(ctx context.Context, claimStored func(skip ...string) (*results.Trial, error)) (*results.Trial, Trial, error)
	// ended says that a trial of this run ended.
	ended()
}

// sweepClaims hands out the planned trials of a sweep (or a settle round).
type sweepClaims struct{ r *run }

func (c *sweepClaims) claim(ctx context.Context, claimStored func(...string) (*results.Trial, error)) (*results.Trial, Trial, error) {
	r := c.r
	claimed, err := claimStored()
	if err != nil || claimed == nil {
		return nil, Trial{}, err
	}
	t, ok := r.byHash[claimed.Hash]
	if !ok {
		_ = r.opt.Store.ReleaseTrial(context.WithoutCancel(ctx), claimed.ID, r.opt.Worker)
		return nil, Trial{}, fmt.Errorf("experiment %s was registered again, from another version of its file, while this worker ran it: "+
			"trial %s is not one this worker planned, so it stops (start it again to work on the new version)",
			r.plan.Experiment.Name, claimed.Hash[:min(12, len(claimed.Hash))])
	}
	return claimed, t, nil
}

func (c *sweepClaims) ended() {}

// trials runs the trials claims hands this worker, Options.Threads at a time: each on a goroutine of its own, from claim to
// stored results, as the only trial would run. Heads train on one core each
// (train.Fit), so trials side by side use the cores without sharing a
// computation, and each stores what it would alone. A trial that fails is
// recorded and the others go on; Ctrl-C hands back every trial in flight.
func (r *run) trials(ctx context.Context, claims claimer, started time.Time) error {
	workers := r.opt.Threads
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var (
		mu         sync.Mutex
		finished   int
		handedBack []Trial
		fatal      error
		wg         sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if fatal == nil {
			fatal = err
		}
		mu.Unlock()
		stop(err) // the other workers hand their trials back
	}
	work := func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if err := r.reclaimDead(ctx, false); err != nil {
				if ctx.Err() == nil {
					fail(err)
				}
				return
			}
			// A stored claim holds mu: a trial that failed here is stored as
			// failed (claimable while attempts are left) only under mu, so no
			// claim can see it failed but not yet in failedHere.
			claimStored := func(skip ...string) (*results.Trial, error) {
				mu.Lock()
				defer mu.Unlock()
				skip = append(slices.Collect(maps.Keys(r.failedHere)), skip...) // not claimed again by this worker
				return r.opt.Store.Claim(ctx, r.expID, r.opt.Worker, r.opt.StaleAfter, r.opt.MaxAttempts, skip...)
			}
			claimed, t, err := claims.claim(ctx, claimStored)
			if err == nil && claimed == nil {
				var again bool
				if again, err = r.othersRunning(ctx); err == nil && again {
					continue
				}
			}
			if err != nil || claimed == nil {
				if err != nil && ctx.Err() == nil {
					fail(err)
				}
				return
			}
			// Trials are numbered from 1 in their file's order, as status shows them.
			label := fmt.Sprintf("trial %d/%d", t.Index+1, r.planned())
			what := "[" + Describe(t.VariantKey(), t.Seed, t.Fold) + "]"
			mu.Lock()
			eta := ""
			if finished > 0 {
				left := r.sum.Planned - (r.sum.AlreadyDone + r.sum.Trained + r.sum.Pruned + r.sum.Failed)
				eta = fmt.Sprintf(", run ETA %s", roundDuration(time.Since(started)/time.Duration(finished)*time.Duration(left)))
			}
			mu.Unlock()
			fmt.Fprintf(r.opt.Log, "%s %s %s%s\n", label, what, t.Hash[:12], eta)
			err = r.safely(ctx, claimed, t, label)
			mu.Lock()
			finished++
			switch {
			case err == nil:
				r.sum.Trained++
			case errors.Is(err, errPruned):
				r.sum.Pruned++
			case errors.Is(err, results.ErrNotOwned):
				// Another worker reclaimed it after this one went silent; it is theirs now.
				fmt.Fprintf(r.opt.Log, "%s taken over by another worker: %v\n", label, err)
			case ctx.Err() != nil:
				// Interrupted, not failed: hand the trial back for the next run.
				_ = r.opt.Store.ReleaseTrial(context.WithoutCancel(ctx), claimed.ID, r.opt.Worker)
				handedBack = append(handedBack, t)
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
					mu.Unlock()
					fail(errors.Join(err, ferr))
					return
				}
			}
			mu.Unlock()
			claims.ended()
		}
	}
	for range workers {
		wg.Add(1)
		go work()
	}
	wg.Wait()
	switch {
	case fatal != nil:
		return fatal
	case len(handedBack) > 0:
		slices.SortFunc(handedBack, func(a, b Trial) int { return a.Index - b.Index })
		names := make([]string, len(handedBack))
		for i, t := range handedBack {
			names[i] = fmt.Sprintf("trial %d/%d [%s]", t.Index+1, r.planned(), Describe(t.VariantKey(), t.Seed, t.Fold))
		}
		verb := "was handed back unfinished, and the next dogrun run does it again"
		if len(names) > 1 {
			verb = "were handed back unfinished, and the next dogrun run does them again"
		}
		return &Interrupted{Msg: fmt.Sprintf("interrupted: %s %s (%s in this run)",
			english.List(names), verb, english.Count(r.sum.Trained, "trial")+" trained"), Cause: context.Cause(ctx)}
	case ctx.Err() != nil:
		return &Interrupted{Msg: fmt.Sprintf("interrupted between trials (%s in this run); the next dogrun run continues with the rest",
			english.Count(r.sum.Trained, "trial")+" trained"), Cause: context.Cause(ctx)}
	}
	return nil
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
	stop := r.ticking(ctx, r.opt.StaleAfter/4, func() bool {
		if err := r.opt.Store.Heartbeat(ctx, trialID, r.opt.Worker); errors.Is(err, results.ErrNotOwned) {
			cancel(err)
			return false
		}
		return true
	})
	return ctx, func() { stop(); cancel(nil) }
}

// ticking calls fn at every tick of r.heartbeats(every), from a goroutine
// of its own, until fn returns false, ctx ends or stop is called.
func (r *run) ticking(ctx context.Context, every time.Duration, fn func() bool) (stop func()) {
	done := make(chan struct{})
	ticks, stopTicks := r.heartbeats(every)
	go func() {
		defer stopTicks()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-ticks:
				if !fn() {
					return
				}
			}
		}
	}()
	return func() { close(done) }
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
	if t.Config.Evaluation.Dogs > 0 {
		return r.evaluationTrial(ctx, claimed, t, label)
	}
	start := time.Now()
	cfg := t.Config
	note, stopNote := r.noteProgress(ctx, claimed, label)
	defer stopNote()
	note.set(phase(results.PhaseFeatures, 0, cfg.Train.Epochs))
	sets, _, err := r.prepare(ctx, t, label)
	if err != nil {
		return err
	}

	lastLine := time.Time{}
	progress := func(e train.Epoch) {
		note.set(results.Progress{Phase: results.PhaseTraining, Epoch: e.Epoch, Epochs: cfg.Train.Epochs,
			EpochSeconds: e.Seconds, ValAccuracy: e.ValAccuracy})
		if time.Since(lastLine) >= 2*time.Second || e.Epoch == cfg.Train.Epochs {
			left := time.Duration(float64(cfg.Train.Epochs-e.Epoch) * e.Seconds * float64(time.Second))
			fmt.Fprintf(r.opt.Log, "  %s epoch %d/%d loss %.4f acc %.3f val_loss %.4f val_acc %.3f (%.2fs/epoch, trial ETA <= %s)\n",
				label, e.Epoch, cfg.Train.Epochs, e.TrainLoss, e.TrainAccuracy, e.ValLoss, e.ValAccuracy, e.Seconds, roundDuration(left))
			lastLine = time.Now()
		}
	}
	f, err := r.fit(ctx, claimed, t, sets, progress)
	if errors.Is(err, errPruned) {
		return r.finishPruned(ctx, claimed, t, label, f, start)
	}
	if err != nil {
		return err
	}
	head, fit := f.head, f.result
	fmt.Fprintf(r.opt.Log, "  %s stopped at epoch %d, best epoch %d\n", label, fit.StoppedEpoch, fit.BestEpoch)
	note.set(phase(results.PhaseEvaluating, fit.StoppedEpoch, cfg.Train.Epochs))

	probs, report, open, err := r.evaluate(head, sets, t)
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

	err = r.opt.Store.Finish(ctx, claimed.ID, r.opt.Worker, results.Outcome{
		Epochs: storedEpochs(fit.Epochs), BestEpoch: fit.BestEpoch, StoppedEpoch: fit.StoppedEpoch,
		CheckpointPath: filepath.Join(dir, "checkpoint"), Classes: sets.classes,
		Report: report, Predictions: predictions(r.plan, sets.testUnits, sets.classOf, probs),
		DurationSeconds: time.Since(start).Seconds(), FitCPUSeconds: f.cpu.Seconds(),
		GoVersion: runtime.Version(), GitCommit: r.build.Commit, GitDirty: r.build.Dirty,
		BackboneSHA256: backboneID(t.Parts), OpenSet: open,
	})
	if err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	return nil
}

// prepare gives trial t its rows: its split, its features (extracted when
// missing) and, for an adapter backbone, the adapter's projection. One
// trial prepares at a time: the plan's draws, the open models, caches and
// adapters are filled on first use, and one extraction already uses every
// core.
func (r *run) prepare(ctx context.Context, t Trial, label string) (sets, *backbone.Cache, error) {
	r.prep.Lock()
	defer r.prep.Unlock()
	units, err := r.plan.Units(t)
	if err != nil {
		return sets{}, nil, fmt.Errorf("split: %w", err)
	}
	s, cache, err := r.trialSets(ctx, t, units, label)
	if err != nil {
		return sets{}, nil, fmt.Errorf("extract features: %w", err)
	}
	if t.Adapter != nil {
		if s, err = r.adapt(ctx, t, s, units, label); err != nil {
			return sets{}, nil, fmt.Errorf("train adapter: %w", err)
		}
	}
	return s, cache, nil
}

// evaluate scores the trained head on the test photos and, with open_set,
// calibrates and counts its rule for unknown dogs.
func (r *run) evaluate(head *train.Head, s sets, t Trial) ([][]float32, metrics.Report, *results.OpenSet, error) {
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
		if open, err = r.plan.openSet(head, s, probs, r.partCachesOf(t), t); err != nil {
			return nil, metrics.Report{}, nil, err
		}
	}
	return probs, report, open, nil
}

// partCachesOf are the feature caches of t's parts, which prepare filled.
func (r *run) partCachesOf(t Trial) []*backbone.Cache {
	r.prep.Lock()
	defer r.prep.Unlock()
	var out []*backbone.Cache
	for _, p := range t.featureParts() {
		out = append(out, r.caches[p.Spec.SHA256()+"/"+p.Cut.Name])
	}
	return out
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

// lineWriter serialises writes, so lines that trials side by side print
// (one Fprintf each) never mix.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
