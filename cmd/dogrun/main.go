// Command dogrun runs declarative transfer-learning experiments that identify
// individual dogs (or any animal) from photos. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/dogrun/dogrun/results"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Stderr, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "dogrun:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage marks a mistake in how dogrun was called.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

const usage = `dogrun runs transfer-learning experiments for identifying individual animals.

Usage:
  dogrun <command> [flags] [arguments]

Commands:
  validate   check experiment files and show the trials they expand to
  run        run every trial of an experiment that is not done yet
  status     show experiments, or the trials of one
  report     write the Markdown and HTML report of an experiment
  compare    statistical verdicts between the values of a sweep axis
  predict    name the dog in photos with a trained trial, or answer "unknown"
  gradcam    heatmap of where a trained trial looks in a photo
  dedupe     find near-duplicate photos (bursts, re-crops, copies) in a folder
  setup      fetch ONNX Runtime and backbones into the cache
  backbones  list the backbones dogrun can use

Run "dogrun <command> -h" for a command's flags.
`

// run is main without the process: tests call it with their own writers.
func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "validate":
		return (&validateCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "run":
		return (&runCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "status":
		return (&statusCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "report":
		return (&reportCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "compare":
		return (&compareCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "predict":
		return (&predictCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "gradcam":
		return (&gradcamCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "dedupe":
		return (&dedupeCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "setup":
		return (&setupCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "backbones":
		return (&backbonesCommand{stdout: stdout, stderr: stderr}).Run(ctx, rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// storeFlags are the places every command that reads or writes results shares.
type storeFlags struct {
	runsDir string
	dbPath  string
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.runsDir, "runs", envOr("DOGRUN_RUNS", "runs"), "folder for trial outputs and reports (env DOGRUN_RUNS)")
	fs.StringVar(&s.dbPath, "db", "", "SQLite results database (default <runs>/dogrun.db)")
}

func (s *storeFlags) open() (*results.Store, error) {
	path := s.dbPath
	if path == "" {
		path = filepath.Join(s.runsDir, "dogrun.db")
	}
	return results.Open(path)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// newFlagSet makes a FlagSet whose -h prints usage to stderr and whose errors are
// returned, not fatal.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after positional arguments, as
// people type them ("run file.yaml -runs x").
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
