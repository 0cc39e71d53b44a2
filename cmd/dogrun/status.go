package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dogrun/dogrun/results"
)

type statusCommand struct{ stdout, stderr io.Writer }

const statusUsage = `Usage: dogrun status [flags] [EXPERIMENT]

Without EXPERIMENT, lists the experiments in the results database with their
trial counts. With it, lists that experiment's trials: number, variant, seed,
status (a search's pruned trials have their curve but no test metrics), test
metrics, hash and, for a failed trial, the step that failed and why.

`

func (c *statusCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("status", statusUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) > 1 {
		fs.Usage()
		return fmt.Errorf("%w: status takes at most one EXPERIMENT", errUsage)
	}
	st, err := store.open()
	if err != nil {
		return err
	}
	defer st.Close()
	if len(names) == 0 {
		return c.experiments(ctx, st)
	}
	return c.trials(ctx, st, names[0])
}

func (c *statusCommand) experiments(ctx context.Context, st *results.Store) error {
	exps, err := st.Experiments(ctx)
	if err != nil {
		return err
	}
	if len(exps) == 0 {
		_, err := fmt.Fprintf(c.stdout, "no experiments in %s yet (dogrun run FILE adds one)\n", st.Path())
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EXPERIMENT\tTRIALS\tDONE\tPRUNED\tRUNNING\tPENDING\tFAILED\tFILE")
	for _, e := range exps {
		trials, err := st.Trials(ctx, e.ID)
		if err != nil {
			return err
		}
		n := map[results.TrialStatus]int{}
		for _, t := range trials {
			n[t.Status]++
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", e.Name, len(trials), n[results.StatusDone],
			n[results.StatusPruned], n[results.StatusRunning], n[results.StatusPending], n[results.StatusFailed], e.File)
	}
	return w.Flush()
}

func (c *statusCommand) trials(ctx context.Context, st *results.Store, name string) error {
	exp, err := st.Experiment(ctx, name)
	if err != nil {
		return err
	}
	trials, err := st.Trials(ctx, exp.ID)
	if err != nil {
		return err
	}
	m, err := st.TestMetrics(ctx, exp.ID)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "#\tVARIANT\tSEED\tSTATUS\tACCURACY\tTOP-5\tEPOCHS\tHASH\tERROR")
	for _, t := range trials {
		acc, top5 := "-", "-"
		if tm, ok := m[t.ID]; ok {
			acc, top5 = fmt.Sprintf("%.3f", tm.Accuracy), fmt.Sprintf("%.3f", tm.Top5)
		}
		epochs := "-"
		if t.StoppedEpoch > 0 {
			epochs = fmt.Sprintf("%d/%d", t.BestEpoch, t.StoppedEpoch)
		}
		fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Index+1, t.VariantKey, t.Seed, t.Status, acc, top5, epochs, t.Hash[:12], firstLine(t.Error))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return printSettle(ctx, c.stdout, st, exp)
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
