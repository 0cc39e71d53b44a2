package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/settle"
)

// ErrDesignChanged is returned (wrapped) when a settled experiment declares
// a design other than the one its stored outcomes were looked at under.
var ErrDesignChanged = errors.New("settle design changed")

// settle runs a settled experiment round by round: it computes every
// comparison's path from the stored trials, stops when all are decided or at
// the cap, else registers the trials the next look needs (the reference and
// the variants of open comparisons, up to that look's seeds) and runs them.
// Nothing of a round is kept in memory: a run killed anywhere starts again
// from the stored trials at the round they leave open, and workers sharing
// the database register the same trials and wait for each other's.
func (r *run) settle(ctx context.Context) error {
	exp := r.plan.Experiment
	design, err := settle.Design(exp)
	if err != nil {
		return err
	}
	st, err := r.settleState(ctx, design)
	if err != nil {
		return err
	}
	if err := r.declare(ctx, design, st.Seen()); err != nil {
		return err
	}
	fmt.Fprintf(r.opt.Log, "experiment %s: settle %s against %s: %s, alpha %g, margin ±%g, a look every %s up to %d (%s spending); %s\n",
		exp.Name, design.By, design.Reference, english.Count(len(st.Comparisons), "comparison"), design.Alpha, design.Margin,
		english.Count(design.Round, "seed"), design.MaxSeeds, design.Spending, r.describeData())
	// The cap's trials stay current however few of them run.
	current := make([]string, len(r.plan.Trials))
	for i, t := range r.plan.Trials {
		current[i] = t.Hash
	}
	// What earlier runs stored counts as already done.
	stored, err := r.opt.Store.Trials(ctx, r.expID)
	if err != nil {
		return err
	}
	var earlier []string
	for _, t := range stored {
		if _, ok := r.byHash[t.Hash]; ok {
			earlier = append(earlier, t.Hash)
		}
	}
	if err := r.countDone(ctx, earlier); err != nil {
		return err
	}
	position := map[int64]int{}
	for i, seed := range design.Seeds {
		position[seed] = i
	}
	for {
		for _, c := range st.Comparisons {
			fmt.Fprintf(r.opt.Log, "  %s\n", st.Summary(c))
		}
		if st.Decided() {
			fmt.Fprintf(r.opt.Log, "settled: every comparison is decided or at the cap; they cover %s\n", st.Population())
			return nil
		}
		needs := st.Needs()
		var round []Trial
		var hashes []string
		for _, t := range r.plan.Trials {
			if position[t.Seed] < needs[t.VariantKey()] {
				round = append(round, t)
				hashes = append(hashes, t.Hash)
			}
		}
		if err := r.registerTrials(ctx, round, current); err != nil {
			return err
		}
		before := r.sum.Planned
		if err := r.countDone(ctx, hashes); err != nil {
			return err
		}
		fmt.Fprintf(r.opt.Log, "settle: %s, %s new (%d already done)\n", nextLooks(st),
			english.Count(r.sum.Planned-before, "trial"), r.sum.AlreadyDone)
		if err := r.finishRound(ctx, hashes); err != nil {
			return err
		}
		if st, err = r.settleState(ctx, design); err != nil {
			return err
		}
	}
}

// nextLooks says which looks the round goes on to.
func nextLooks(st *settle.State) string {
	var parts []string
	seen := map[int]bool{}
	for _, c := range st.Comparisons {
		if c.Open() && !seen[c.Next] {
			seen[c.Next] = true
			parts = append(parts, fmt.Sprint(c.Next))
		}
	}
	return "running up to the look at " + strings.Join(parts, " and ") + " seeds"
}

// settleState is the experiment's state from its stored trials.
func (r *run) settleState(ctx context.Context, design results.SettleDesign) (*settle.State, error) {
	trials, err := r.opt.Store.Trials(ctx, r.expID)
	if err != nil {
		return nil, err
	}
	m, err := r.opt.Store.TestMetrics(ctx, r.expID)
	if err != nil {
		return nil, err
	}
	return settle.Evaluate(design, r.plan.Experiment, trials, m)
}

// checkDesign refuses, before anything is stored, a design other than the
// one the experiment's stored outcomes were looked at under: that voids its
// error rates, so it takes Options.Redesign.
func (r *run) checkDesign(ctx context.Context) error {
	exp := r.plan.Experiment
	stored, err := r.opt.Store.Experiment(ctx, exp.Name)
	if errors.Is(err, results.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	declared, found, err := r.opt.Store.SettleDesign(ctx, stored.ID)
	if err != nil || !found || r.opt.Redesign {
		return err
	}
	design, err := settle.Design(exp)
	if err != nil || declared.Same(design) {
		return err
	}
	trials, err := r.opt.Store.Trials(ctx, stored.ID)
	if err != nil {
		return err
	}
	m, err := r.opt.Store.TestMetrics(ctx, stored.ID)
	if err != nil {
		return err
	}
	st, err := settle.Evaluate(design, exp, trials, m)
	if err != nil || st.Seen() == 0 {
		return err
	}
	return fmt.Errorf("%w: experiment %s declared its design on %s and has %s paired since; this file or the command line changes %s, which voids the declared error rates. dogrun settle -redesign replaces the design all the same (the report then says after how many seeds), or a new experiment name starts afresh",
		ErrDesignChanged, exp.Name, declared.DeclaredAt.Format(time.DateOnly), english.Count(st.Seen(), "seed"), strings.Join(settle.Changes(declared, design), ", "))
}

// declare stores the design unless the experiment has it, replacing
// another that checkDesign let pass.
func (r *run) declare(ctx context.Context, design results.SettleDesign, seen int) error {
	design.SeenBefore = seen
	stored, err := r.opt.Store.DeclareSettle(ctx, r.expID, design, false)
	if err != nil || stored.Same(design) {
		return err
	}
	if _, err := r.opt.Store.DeclareSettle(ctx, r.expID, design, true); err != nil {
		return err
	}
	fmt.Fprintf(r.opt.Log, "note: settle design replaced (%s) with %s paired\n", strings.Join(settle.Changes(stored, design), ", "), english.Count(seen, "seed"))
	return nil
}

// settlePoll is how often a worker whose round waits on other workers'
// trials looks again.
const settlePoll = 5 * time.Second

// finishRound runs the round's trials and, when other workers hold some,
// waits for them (taking over any whose worker went silent), so that the
// next look sees the whole round.
func (r *run) finishRound(ctx context.Context, hashes []string) error {
	waiting := false
	for {
		if err := r.work(ctx); err != nil {
			return err
		}
		trials, err := r.opt.Store.Trials(ctx, r.expID)
		if err != nil {
			return err
		}
		in := map[string]bool{}
		for _, h := range hashes {
			in[h] = true
		}
		var running int
		var failed []string
		for _, t := range trials {
			switch {
			case !in[t.Hash] || t.Status == results.StatusDone:
			case t.Status == results.StatusFailed && (r.failedHere[t.Hash] || t.Attempts >= r.opt.MaxAttempts):
				failed = append(failed, fmt.Sprintf("trial %d [%s]", t.Index+1, Describe(t.VariantKey, t.Seed, t.Fold)))
			default:
				running++
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("settle: %s failed, so this look cannot be made (dogrun status %s says why); the next dogrun run retries %s while attempts are left and goes on from this look",
				strings.Join(failed, ", "), r.plan.Experiment.Name, english.Noun(len(failed), "it|them"))
		}
		if running == 0 {
			return nil
		}
		if !waiting {
			fmt.Fprintf(r.opt.Log, "settle: waiting for %s of this round that other workers are running\n", english.Count(running, "trial"))
			waiting = true
		}
		if err := r.sleep(ctx, settlePoll); err != nil {
			return &Interrupted{Msg: "interrupted while waiting for other workers' trials; nothing was lost, and the next dogrun run goes on from this look", Cause: err}
		}
	}
}

// sleep waits d, or less when ctx ends.
func (r *run) sleep(ctx context.Context, d time.Duration) error {
	if r.wait != nil {
		return r.wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
