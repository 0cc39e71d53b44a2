package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

// Work runs the trials of experiments registered in opt.Store: what dogrun
// worker does on each machine of a cluster. Each target is an experiment's
// name, or an experiment file (ending in .yaml or .yml), which is
// registered first unless the store holds it with the same text. Without
// targets it works on every experiment in the store, by name.
//
// A registered experiment is planned from the text stored with it, its
// photos read from Options.Photos or else where its file says, and the
// worker refuses when those photos differ from the ones it was registered
// with. Unlike Run, Work waits while other workers run an experiment's last
// trials, so that a trial whose worker goes silent is taken over; with
// Options.Poll it then looks for new work every Poll instead of returning.
func Work(ctx context.Context, targets []string, opt Options) (Summary, error) {
	opt.defaults()
	opt.wait = true
	fmt.Fprintf(opt.Log, "worker %s on %s\n", opt.Worker, opt.Store.Path())
	var total Summary
	// Stopped between trials (while polling the store or sleeping), a worker
	// was only waiting: say so, whichever read the stop cut short.
	waiting := func(err error) error {
		var in *Interrupted
		if ctx.Err() == nil || errors.As(err, &in) {
			return err
		}
		return &Interrupted{Msg: fmt.Sprintf("interrupted while waiting for work (%s in this run); nothing was lost",
			english.Count(total.Trained, "trial")+" trained"), Cause: ctx.Err()}
	}
	for {
		names := targets
		if len(names) == 0 {
			exps, err := opt.Store.Experiments(ctx)
			if err != nil {
				return total, waiting(err)
			}
			for _, e := range exps {
				names = append(names, e.Name)
			}
		}
		for _, target := range names {
			sum, err := workOn(ctx, target, opt)
			total.Planned += sum.Planned
			total.AlreadyDone += sum.AlreadyDone
			total.Trained += sum.Trained
			total.Pruned += sum.Pruned
			total.Failed += sum.Failed
			total.FeaturesComputed += sum.FeaturesComputed
			if err != nil {
				return total, waiting(err)
			}
		}
		if opt.Poll <= 0 {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, waiting(ctx.Err())
		case <-time.After(opt.Poll):
		}
	}
}

// IsExperimentFile reports whether a worker's target names an experiment
// file rather than a registered experiment.
func IsExperimentFile(target string) bool {
	return strings.HasSuffix(target, ".yaml") || strings.HasSuffix(target, ".yml")
}

// workOn runs the trials of one target of Work.
func workOn(ctx context.Context, target string, opt Options) (Summary, error) {
	var exp *schemas.Experiment
	var stored results.Experiment
	register := false
	if IsExperimentFile(target) {
		var err error
		if exp, err = schemas.Load(target); err != nil {
			return Summary{}, err
		}
		text, err := os.ReadFile(target)
		if err != nil {
			return Summary{}, err
		}
		stored, err = opt.Store.Experiment(ctx, exp.Name)
		switch {
		case errors.Is(err, results.ErrNotFound):
			register = true
		case err != nil:
			return Summary{}, err
		default:
			register = stored.ConfigYAML != string(text)
		}
	} else {
		var err error
		if stored, err = opt.Store.Experiment(ctx, target); err != nil {
			return Summary{}, err
		}
		// Relative paths in it (the photos) are taken from where the file was.
		if exp, err = schemas.Decode(stored.File, []byte(stored.ConfigYAML)); err != nil {
			return Summary{}, fmt.Errorf("experiment %s as registered in %s: %w", target, opt.Store.Path(), err)
		}
		// A search makes its trials as it goes: the stored ones do not say
		// whether any are left to make.
		if !exp.Search.Declared() {
			if left, err := workLeft(ctx, opt, stored); err != nil || !left {
				return Summary{}, err
			}
		}
	}
	r, err := newRun(ctx, exp, opt)
	if err != nil {
		return Summary{}, err
	}
	defer r.close()
	if register {
		err = r.register(ctx)
	} else {
		err = r.attach(ctx, stored)
	}
	if err == nil {
		r.sum.ExperimentID = r.expID
		err = r.proceed(ctx)
	}
	return r.sum, err
}

// workLeft reports whether any current trial of the experiment is not
// finished for good (done, or failed with no attempts left), saying so
// when none is: planning reads every photo, so it is skipped then.
func workLeft(ctx context.Context, opt Options, e results.Experiment) (bool, error) {
	trials, err := opt.Store.Trials(ctx, e.ID)
	if err != nil {
		return false, err
	}
	done, failed := 0, 0
	for _, t := range trials {
		switch {
		case t.Status == results.StatusDone:
			done++
		case t.Status == results.StatusFailed && t.Attempts >= opt.MaxAttempts:
			failed++
		default:
			return true, nil
		}
	}
	fmt.Fprintf(opt.Log, "experiment %s: nothing left to do (%d done, %d failed)\n", e.Name, done, failed)
	return false, nil
}

// attach makes r work on the experiment as stored, after checking that this
// machine sees the photos it was registered with and plans the same trials.
func (r *run) attach(ctx context.Context, stored results.Experiment) error {
	r.expID = stored.ID
	if fp := r.plan.Data.Fingerprint(); stored.DatasetFingerprint != "" && fp != stored.DatasetFingerprint {
		return fmt.Errorf("experiment %s: the photos in %s are not the ones it was registered with "+
			"(content fingerprint %.12s here, %.12s in %s): every worker must see the same photos, "+
			"though each may keep them in its own folder (-photos); check this machine's copy",
			stored.Name, r.plan.photos, fp, stored.DatasetFingerprint, r.opt.Store.Path())
	}
	if r.plan.Experiment.Search.Declared() {
		// Its trials are checked as they are claimed (searchClaims.trialOf).
		var err error
		r.search, err = newSearching(r.plan)
		return err
	}
	trials, err := r.opt.Store.Trials(ctx, stored.ID)
	if err != nil {
		return err
	}
	for _, t := range trials {
		if _, ok := r.byHash[t.Hash]; !ok {
			return fmt.Errorf("experiment %s: trial %d (%s) of %s is not one this dogrun plans from the same file and photos; "+
				"were they registered by another version of dogrun? (dogrun version says which this is)",
				stored.Name, t.Index+1, t.Hash[:min(12, len(t.Hash))], r.opt.Store.Path())
		}
	}
	return nil
}

// othersRunning is, for a worker (Options.wait), whether to claim again
// after nothing was claimable: while trials run under other workers it
// waits a while, so that it takes over any whose worker goes silent.
func (r *run) othersRunning(ctx context.Context) (bool, error) {
	if !r.opt.wait {
		return false, nil
	}
	trials, err := r.opt.Store.Trials(ctx, r.expID)
	if err != nil {
		return false, err
	}
	running := 0
	for _, t := range trials {
		if t.Status == results.StatusRunning && t.Worker != r.opt.Worker {
			running++
		}
	}
	if running == 0 {
		return false, nil
	}
	r.waiting.Do(func() {
		fmt.Fprintf(r.opt.Log, "waiting: %s running under other workers (taken over if one sends no heartbeat for %s)\n",
			english.Count(running, "trial"), r.opt.StaleAfter)
	})
	select {
	case <-ctx.Done():
		return true, nil // the claim loop reports the interruption
	case <-time.After(min(r.opt.StaleAfter/4, 10*time.Second)):
		return true, nil
	}
}
