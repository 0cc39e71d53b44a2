package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dogrun/dogrun/report"
)

type compareCommand struct{ stdout, stderr io.Writer }

const compareUsage = `Usage: dogrun compare [flags] EXPERIMENT

Compares the values of one sweep axis (or, with -by variant, whole variants;
for a search with confirm, by default its re-run best settings with its best)
with a reference value on the same test photos and prints the verdict table: per value the mean test accuracy over
seeds (and folds) with its 95% interval; against the reference the accuracy
difference with a paired bootstrap interval, McNemar's exact test per seed,
the Wilcoxon signed-rank test across seeds with Holm's correction, effect
sizes, and "no significant difference" where that is the truth. The table is
also written into the experiment's report (as dogrun report writes it).

`

func (c *compareCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("compare", compareUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	by := fs.String("by", "", "sweep axis to compare, e.g. head.dropout (default: the first axis)")
	reference := fs.String("reference", "", "value of the axis the others are compared with (default: its first value)")
	where := fs.String("where", "", "only trials with these settings, as 'AXIS=VALUE; AXIS=VALUE'")
	values := fs.String("values", "", "only these values of the axis besides the reference, as 'V1; V2' (with -by variant: variant keys)")
	metric := fs.String("metric", "top1", "what counts as a correct photo: top1 or top5")
	out := fs.String("out", "", "report folder (default <runs>/<EXPERIMENT>)")
	noReport := fs.Bool("no-report", false, "print the table only; leave the report as it is")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: compare needs one EXPERIMENT", errUsage)
	}
	st, d, err := gather(ctx, store, names[0])
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := report.ComputeVerdictsWith(ctx, st, d.Experiment, report.VerdictOptions{
		By: *by, Reference: *reference, Where: splitList(*where), Values: splitList(*values), Metric: *metric})
	if err != nil {
		return err
	}
	if err := printVerdicts(c.stdout, v); err != nil {
		return err
	}
	if err := printSettle(ctx, c.stdout, st, d.Experiment); err != nil {
		return err
	}
	if *noReport {
		return nil
	}
	d.Verdicts = v
	return writeReport(ctx, c.stdout, st, store, *out, d)
}

// splitList splits a ';'-separated flag value (values such as [a,b] hold
// commas); nil when empty.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ";") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// printVerdicts writes the verdict table as aligned text.
func printVerdicts(w io.Writer, v *report.Verdicts) error {
	if v.Confirm {
		fmt.Fprintf(w, "%s: the search's best settings, re-run with new seeds, compared with its best, %s (alpha %g)\n\n", v.Experiment, v.Reference, v.Alpha)
	} else {
		fmt.Fprintf(w, "%s: %s compared with %s=%s (alpha %g)\n\n", v.Experiment, v.By, v.By, v.Reference, v.Alpha)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	t := v.Table()
	fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range t.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	fmt.Fprintln(w)
	return nil
}
