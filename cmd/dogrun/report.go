package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/report"
	"github.com/dogrun/dogrun/results"
)

type reportCommand struct{ stdout, stderr io.Writer }

const reportUsage = `Usage: dogrun report [flags] EXPERIMENT

Writes <runs>/<EXPERIMENT>/report.md (pictures beside it) and a self-contained
report.html: the environment the trials ran in, variants ranked by mean test
accuracy with 95% intervals over seeds, a chart per swept setting, validation
curves per variant, per-dog F1, a confusion heatmap with the most confused
dogs shown as photos, Grad-CAM overlays of the best trial on test photos it
got right and wrong (see dogrun gradcam), and every trial, whose pages
report.html also carries as collapsed sections. Each trial also gets a page
pair, trials/<hash>/index.md and index.html. Charts and Grad-CAM overlays
that did not change since the last report there are reused, not redrawn.

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
	st, d, err := gather(ctx, store, names[0])
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(c.stdout, "%s: %s (%s)\n", names[0], english.Count(len(d.Trials), "trial"), d.StatusCounts())
	for i, v := range d.Variants {
		fmt.Fprintf(c.stdout, "  %d. %-40s accuracy %s (%d/%d %s)\n", i+1, v.Key, report.Interval(v.Accuracy), v.Done, len(v.Trials), english.Noun(len(v.Trials), "seed"))
	}
	return writeReport(ctx, c.stdout, st, store, *out, d)
}

// gather opens the results store and reads one experiment; the caller closes
// the store.
func gather(ctx context.Context, store storeFlags, name string) (*results.Store, *report.Data, error) {
	st, err := store.open()
	if err != nil {
		return nil, nil, err
	}
	d, err := report.Gather(ctx, st, name)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, d, nil
}

// writeReport writes d's report into out, by default <runs>/<experiment>, and
// says where. It draws the Grad-CAM overlays of the best trial first, or
// reuses those drawn for an earlier report there.
func writeReport(ctx context.Context, w io.Writer, st *results.Store, store storeFlags, out string, d *report.Data) error {
	if out == "" {
		out = filepath.Join(store.runsDir, d.Experiment.Name)
	}
	addGradCAM(ctx, w, st, d, out)
	md, html, err := report.Write(d, out, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\nwrote %s\n", md, html)
	return nil
}
