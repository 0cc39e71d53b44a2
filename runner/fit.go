package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/train"
)

// errPruned ends a trial that a search's pruner stopped: not a failure.
var errPruned = errors.New("pruned")

// fitted is a head's fit: the head (nil when pruned), its epochs and the
// CPU time the fit took on its thread, the epoch callbacks left out.
type fitted struct {
	head   *train.Head
	result train.Result
	cpu    time.Duration
}

// fit trains trial t's head on its rows, progress seeing each epoch. A
// draw of a search with a pruner asks it after every epoch where it can
// decide (but the last); a stop ends the fit with errPruned, keeping the
// epochs trained.
func (r *run) fit(ctx context.Context, claimed *results.Trial, t Trial, s sets, progress func(train.Epoch)) (fitted, error) {
	fitCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var pruner *studyView
	if t.search != nil && t.search.rank == 0 && r.search.pruner != nil {
		pruner = &studyView{r: r, claimed: claimed, study: t.search.study}
	}
	// The head trains on this goroutine alone: pinned to its thread, the
	// thread's CPU clock times the fit and nothing else.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var callbacks time.Duration
	var seen []train.Epoch
	onEpoch := func(e train.Epoch) {
		in := train.ThreadCPU()
		defer func() { callbacks += train.ThreadCPU() - in }()
		progress(e)
		seen = append(seen, e)
		if pruner == nil || e.Epoch >= t.Config.Train.Epochs || !r.search.pruner.Asks(e.Epoch) {
			return
		}
		switch prune, err := pruner.ask(ctx, seen); {
		case err != nil:
			stop(fmt.Errorf("prune: %w", err))
		case prune:
			stop(errPruned)
		}
	}
	start := train.ThreadCPU()
	head, res, err := train.Fit(fitCtx, FitConfig(t), s.train, s.val, len(s.classes), onEpoch)
	f := fitted{head: head, result: res, cpu: train.ThreadCPU() - start - callbacks}
	if err == nil {
		return f, nil
	}
	if cause := context.Cause(fitCtx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return f, cause // errPruned, or what kept the pruner from deciding
	}
	return f, fmt.Errorf("train head: %w", err)
}

// finishPruned stores a pruned trial: its curve, its times and its build.
func (r *run) finishPruned(ctx context.Context, claimed *results.Trial, t Trial, label string, f fitted, start time.Time) error {
	res := f.result
	last := res.Epochs[len(res.Epochs)-1]
	fmt.Fprintf(r.opt.Log, "  %s pruned after epoch %d (%s %.4f)\n", label, res.StoppedEpoch, r.search.metric, r.search.value(last.ValLoss, last.ValAccuracy))
	err := r.opt.Store.Finish(ctx, claimed.ID, r.opt.Worker, results.Outcome{
		Pruned: true, Epochs: storedEpochs(res.Epochs), BestEpoch: res.BestEpoch, StoppedEpoch: res.StoppedEpoch,
		DurationSeconds: time.Since(start).Seconds(), FitCPUSeconds: f.cpu.Seconds(),
		GoVersion: runtime.Version(), GitCommit: r.build.Commit, GitDirty: r.build.Dirty, BackboneSHA256: backboneID(t.Parts),
	})
	if err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	return errPruned
}

func storedEpochs(es []train.Epoch) []results.Epoch {
	out := make([]results.Epoch, len(es))
	for i, e := range es {
		out[i] = results.Epoch{Epoch: e.Epoch, TrainLoss: e.TrainLoss, TrainAccuracy: e.TrainAccuracy,
			ValLoss: e.ValLoss, ValAccuracy: e.ValAccuracy, Seconds: e.Seconds}
	}
	return out
}
