package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
)

type runCommand struct{ stdout, stderr io.Writer }

const runUsage = `Usage: dogrun run [flags] FILE

Registers every trial of the experiment in the results database (creating it
when there is none), then extracts the missing backbone features, trains and
evaluates each trial not done yet. Finished trials are skipped, so an
interrupted run continues where it stopped: Ctrl-C hands the trial in
progress back, and the next run does it again. A file with a settle block
runs its seeds round by round until its comparisons are decided, as dogrun
settle does.

`

func (c *runCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("run", runUsage, c.stderr)
	var rf runFlags
	rf.register(fs)
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
	return rf.run(ctx, c.stdout, exp, false)
}

// runFlags are the flags of the commands that run trials.
type runFlags struct {
	store   storeFlags
	threads *int
	batch   *int
	stale   *time.Duration
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.store.register(fs)
	f.threads = fs.Int("threads", 0, "ONNX Runtime threads (0 = one per CPU)")
	f.batch = fs.Int("batch", 8, "images per backbone call")
	f.stale = fs.Duration("stale", 2*time.Minute, "take over a running trial whose worker sent no heartbeat for this long\n"+
		"(a dead worker of this host is taken over at once)")
}

// run runs exp's trials, logging to w.
func (f *runFlags) run(ctx context.Context, w io.Writer, exp *schemas.Experiment, redesign bool) error {
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return err
	}
	// A new database is made only once the photos are known to be usable; an
	// existing one is checked (and upgraded) before they are read.
	opts := runner.Options{
		OpenStore: f.store.create, RunsDir: f.store.runsDir, CacheDir: cacheDir,
		Threads: *f.threads, Batch: *f.batch, Log: w, StaleAfter: *f.stale, Redesign: redesign,
	}
	if _, err := os.Stat(f.store.path()); err == nil {
		if opts.Store, err = f.store.create(); err != nil {
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
