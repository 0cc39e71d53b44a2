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
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

type workerCommand struct{ stdout, stderr io.Writer }

const workerUsage = `Usage: dogrun worker [flags] [EXPERIMENT...]

Claims and runs trials of experiments registered in the results database
until none is left: the experiments named, or all of them. An EXPERIMENT
ending in .yaml or .yml is an experiment file, registered first unless the
database holds it with the same text.

Start one worker on each machine (dogrun submit writes the Slurm or
Kubernetes job that does) against one PostgreSQL database (-db or
DOGRUN_DB): they split the trials without running one twice, and a trial
whose worker stops sending heartbeats is taken over after -stale. A worker
plans each experiment from the text stored with it and reads its photos
where the experiment's file says, or from -photos; it refuses photos whose
content differs from those the experiment was registered with. It waits
while other workers run the last trials, and with -poll keeps looking for
new work instead of ending.

`

func (c *workerCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("worker", workerUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	var w workFlags
	w.register(fs)
	photos := fs.String("photos", "", "where this machine keeps the experiments' photos (default: where each experiment's file says)")
	poll := fs.Duration("poll", 0, "when no trial is left, look for new work this often instead of ending (0: end)")
	targets, err := parse(fs, args)
	if err != nil {
		return err
	}
	opts, err := w.options(c.stdout, store)
	if err != nil {
		return err
	}
	opts.Photos, opts.Poll = *photos, *poll
	if opts.Store, err = store.openForWork(targets); err != nil {
		return err
	}
	defer opts.Store.Close()
	sum, err := runner.Work(ctx, targets, opts)
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%s failed in this worker (dogrun status says why)", english.Count(sum.Failed, "trial"))
	}
	return nil
}

// workFlags are how run and worker run trials.
type workFlags struct {
	threads, batch *int
	stale          *time.Duration
}

func (w *workFlags) register(fs *flag.FlagSet) {
	w.threads = fs.Int("threads", 0, "cores to use: ONNX Runtime threads, and trials trained at once (0 = one per CPU)")
	w.batch = fs.Int("batch", 8, "images per backbone call")
	w.stale = fs.Duration("stale", 2*time.Minute, "take over a running trial whose worker sent no heartbeat for this long\n"+
		"(a dead worker of this host is taken over at once)")
}

// options are the runner's options from the flags, logging to log.
func (w *workFlags) options(log io.Writer, store storeFlags) (runner.Options, error) {
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return runner.Options{}, err
	}
	return runner.Options{
		OpenStore: store.create, RunsDir: store.runsDir, CacheDir: cacheDir,
		Threads: *w.threads, Batch: *w.batch, Log: log, StaleAfter: *w.stale,
	}, nil
}

// openForWork opens the database a worker writes to: created when a
// target is an experiment file, else one that exists already.
func (s *storeFlags) openForWork(targets []string) (*results.Store, error) {
	for _, t := range targets {
		if runner.IsExperimentFile(t) {
			return s.create()
		}
	}
	if err := s.defaultErr(); err != nil {
		return nil, err
	}
	if p := s.path(); !results.IsURL(p) {
		if _, err := os.Stat(p); err != nil {
			return nil, s.explain(fmt.Errorf("%w at %s", results.ErrNoDatabase, p))
		}
	}
	return results.Open(s.path())
}
