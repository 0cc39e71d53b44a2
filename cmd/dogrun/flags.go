package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
)

// storeFlags say where the results database and the trial folders are.
// Only run creates them; every other command reads what is there.
type storeFlags struct {
	runsDir string
	dbPath  string
	fs      *flag.FlagSet
	lookErr error // why the default runs folder could not be worked out
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	s.fs = fs
	def, err := workspace.RunsDir()
	if err != nil {
		def, s.lookErr = "runs", err
	}
	fs.StringVar(&s.runsDir, "runs", def, "folder of the results database, trial outputs and reports: runs/ in the nearest\n"+
		"folder from here up that holds runs/dogrun.db or .cache/dogrun, else here;\n"+
		"$DOGRUN_RUNS overrides it")
	fs.StringVar(&s.dbPath, "db", "", "results database: a SQLite file, or a PostgreSQL URL (postgres://user@host/db)\n"+
		"shared by workers on several machines; $DOGRUN_DB sets it (default <runs>/dogrun.db)")
}

// path is the database: a PostgreSQL URL, or the file, absolute when the
// working directory is known.
func (s *storeFlags) path() string {
	p := s.dbPath
	if p == "" {
		p = os.Getenv("DOGRUN_DB") // not the flag's default: -h would show its password
	}
	if results.IsURL(p) {
		return p
	}
	if p == "" {
		p = filepath.Join(s.runsDir, "dogrun.db")
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// create opens the database, creating it and its folder when missing: for
// run, the one command that writes results.
func (s *storeFlags) create() (*results.Store, error) {
	if err := s.defaultErr(); err != nil {
		return nil, err
	}
	return results.Open(s.path())
}

// open opens the existing database for reading; it creates nothing, and
// when there is nothing to read it says where it looked and why there.
func (s *storeFlags) open() (*results.Store, error) {
	if err := s.defaultErr(); err != nil {
		return nil, err
	}
	st, err := results.OpenReadOnly(s.path())
	if err != nil {
		return nil, s.explain(err)
	}
	return st, nil
}

// explain adds to an error of opening the database what to do about it.
func (s *storeFlags) explain(err error) error {
	switch {
	case errors.Is(err, results.ErrNoDatabase):
		return fmt.Errorf("%w (%s)", err, s.why())
	case errors.Is(err, results.ErrSchemaOld):
		return fmt.Errorf("%w; dogrun migrate upgrades it in place (so does the next dogrun run)", err)
	}
	return err
}

func (s *storeFlags) defaultErr() error {
	if s.lookErr != nil && !s.set("runs") && !s.set("db") && os.Getenv("DOGRUN_DB") == "" {
		return fmt.Errorf("cannot tell where the results are: %w; give -runs or -db", s.lookErr)
	}
	return nil
}

func (s *storeFlags) set(name string) bool {
	set := false
	s.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// why says how the database path was chosen.
func (s *storeFlags) why() string {
	switch {
	case s.set("db"):
		return "as -db says"
	case os.Getenv("DOGRUN_DB") != "":
		return "as DOGRUN_DB says"
	case s.set("runs"):
		return "in the folder -runs names"
	case os.Getenv("DOGRUN_RUNS") != "":
		return "in the folder DOGRUN_RUNS names"
	}
	root, found, err := workspace.Root()
	switch {
	case err != nil:
		return err.Error()
	case found:
		return fmt.Sprintf("%s holds .cache/dogrun, so the results go there, but dogrun run has not stored any yet", root)
	}
	return fmt.Sprintf("neither %s nor a folder above it holds runs/dogrun.db; dogrun run FILE creates it, and -runs, -db or DOGRUN_RUNS point to another", root)
}

// helpRequest is -h: its text goes to stdout, and dogrun exits 0.
type helpRequest struct{ text string }

func (h *helpRequest) Error() string { return "help requested" }

func (h *helpRequest) Unwrap() error { return flag.ErrHelp }

// newFlagSet makes a FlagSet whose errors are returned, not fatal. Its Usage
// writes to the FlagSet's output, stderr unless parse asks for help.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseNone is parse for a command that takes no arguments.
func parseNone(fs *flag.FlagSet, args []string) error {
	rest, err := parse(fs, args)
	if err == nil && len(rest) > 0 {
		fs.Usage()
		err = fmt.Errorf("%w: %s takes no arguments", errUsage, fs.Name())
	}
	return err
}

// parse parses flags that may come before or after positional arguments, as
// people type them ("run file.yaml -runs x"). -h returns a *helpRequest
// holding the usage; a bad flag prints the usage and returns a usage error.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package's own message: the error below says it
	defer fs.SetOutput(out)
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			fs.SetOutput(&b)
			fs.Usage()
			return nil, &helpRequest{b.String()}
		}
		if err != nil {
			fs.SetOutput(out)
			fs.Usage()
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
