package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
)

type runCommand struct{ stdout, stderr io.Writer }

const runUsage = `Usage: dogrun run [flags] FILE

Registers every trial of the experiment in the results database (creating it
when there is none), then extracts the missing backbone features, trains and
evaluates each trial not done yet. Finished trials are skipped, so an
interrupted run continues where it stopped: Ctrl-C hands the trials in
progress back, and the next run does them again. A file with a settle block
runs its seeds round by round until its comparisons are decided, as dogrun
settle does.

`

func (c *runCommand) Run(ctx context.Context, args []string) error {
	ctx = backbone.WithProgress(ctx, c.stderr) // downloads and conversions say so on stderr
	fs := newFlagSet("run", runUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	var w workFlags
	w.register(fs)
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: run needs exactly one FILE", errUsage)
	}
	exp, err := schemas.Load(files[0])
	if err != nil {
		return err
	}
	return runExperiment(ctx, c.stdout, store, w, exp, false)
}

// runExperiment runs exp's trials as run and settle do, logging to log;
// redesign replaces a settle design declared before.
func runExperiment(ctx context.Context, log io.Writer, store storeFlags, w workFlags, exp *schemas.Experiment, redesign bool) error {
	// A new database is made only once the photos are known to be usable; an
	// existing one is checked (and upgraded) before they are read.
	opts, err := w.options(log, store)
	if err != nil {
		return err
	}
	opts.Redesign = redesign
	if _, err := os.Stat(store.path()); err == nil && !results.IsURL(store.path()) {
		if opts.Store, err = store.create(); err != nil {
			return err
		}
		defer opts.Store.Close()
	}
	sum, err := runner.Run(ctx, exp, opts)
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d of %s failed (dogrun status %s says why)", sum.Failed, english.Count(sum.Planned, "trial"), exp.Name)
	}
	return nil
}
