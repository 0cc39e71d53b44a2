package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/dogrun/dogrun/report"
)

type reportCommand struct{ stdout, stderr io.Writer }

const reportUsage = `Usage: dogrun report [flags] EXPERIMENT

Writes <runs>/<EXPERIMENT>/report.md (pictures beside it) and a self-contained
report.html: the environment the trials ran in, variants ranked by mean test
accuracy with 95% intervals over seeds, a chart per swept setting, validation
curves per variant, per-dog F1, a confusion heatmap with the most confused
dogs shown as photos, and every trial. Each trial also gets a page pair,
trials/<hash>/index.md and index.html.

`

func (c *reportCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("report", reportUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	out := fs.String("out", "", "output folder (default <runs>/<EXPERIMENT>)")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: report needs one EXPERIMENT", errUsage)
	}
	st, err := store.open()
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := report.Gather(ctx, st, names[0])
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(store.runsDir, names[0])
	}
	md, html, err := report.Write(d, dir, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: %d trials (%s)\n", names[0], len(d.Trials), d.StatusCounts())
	for i, v := range d.Variants {
		fmt.Fprintf(c.stdout, "  %d. %-40s accuracy %s (%d/%d seeds)\n", i+1, v.Key, report.Interval(v.Accuracy), v.Done, len(v.Trials))
	}
	fmt.Fprintf(c.stdout, "wrote %s\nwrote %s\n", md, html)
	return nil
}
