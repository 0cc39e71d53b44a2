package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dogrun/dogrun/report"
)

type selectCommand struct{ stdout, stderr io.Writer }

const selectUsage = `Usage: dogrun select [flags] EXPERIMENT

Ranks the variants of an experiment by their validation accuracy at each
done trial's best epoch (mean over seeds, with its 95% interval; a lower
validation loss first among equals): the choice of a configuration that
leaves the test photos out of it. The first row is the one to choose; its
test accuracy is then for dogrun compare and dogrun report.

`

func (c *selectCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("select", selectUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	where := fs.String("where", "", "only variants whose key holds each of these settings, as 'AXIS=VALUE; AXIS=VALUE'")
	top := fs.Int("top", 0, "print only the first N rows (0: all)")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: select needs one EXPERIMENT", errUsage)
	}
	st, err := store.open()
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := report.Validation(ctx, st, names[0])
	if err != nil {
		return err
	}
	var kept []report.ValidationRow
	for _, r := range rows {
		if holdsAll(r.Variant, splitList(*where)) {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		_, err := fmt.Fprintf(c.stdout, "%s: no done trial to rank%s\n", names[0], whereText(*where))
		return err
	}
	if *top > 0 && len(kept) > *top {
		kept = kept[:*top]
	}
	fmt.Fprintf(c.stdout, "%s: variants by validation accuracy at each trial's best epoch%s; test photos play no part\n\n", names[0], whereText(*where))
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RANK\tVARIANT\tTRIALS\tVAL ACCURACY [95% CI]\tVAL LOSS")
	for i, r := range kept {
		interval := "-"
		if r.Trials > 1 {
			interval = fmt.Sprintf("[%.3f, %.3f]", r.Accuracy.Lo, r.Accuracy.Hi)
		}
		fmt.Fprintf(w, "%d\t%s\t%d\t%.3f %s\t%.4f\n", i+1, r.Variant, r.Trials, r.Accuracy.Mean, interval, r.Loss)
	}
	return w.Flush()
}

// holdsAll says whether a variant key (settings joined by ", ") holds every
// one of settings.
func holdsAll(variant string, settings []string) bool {
	have := strings.Split(variant, ", ")
	for _, s := range settings {
		found := false
		for _, h := range have {
			if h == strings.ReplaceAll(s, " ", "") || h == s {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func whereText(where string) string {
	if strings.TrimSpace(where) == "" {
		return ""
	}
	return " (where " + where + ")"
}
