// Command dogrun runs declarative transfer-learning experiments that identify
// individual dogs (or any animal) from photos. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/dogrun/dogrun/schemas"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	if err != nil {
		os.Exit(fail(os.Stderr, err))
	}
}

// fail says what went wrong on stderr and returns the exit status. A bare
// errUsage follows the usage text, which says it all.
func fail(stderr io.Writer, err error) int {
	if err != errUsage {
		fmt.Fprintln(stderr, "dogrun:", err)
	}
	return exitCode(err)
}

// errUsage marks a mistake in how dogrun was called; wrapped, as
// "%w: what was wrong", it reads "usage: what was wrong".
var errUsage = errors.New("usage")

// unknownCommandError is a usage mistake that needs no "usage:" in front.
type unknownCommandError struct{ name string }

func (e *unknownCommandError) Error() string {
	hint := ""
	if near := closestCommand(e.name); near != "" {
		hint = ", did you mean " + near + "?"
	}
	return fmt.Sprintf("unknown command %q%s (dogrun help lists the commands)", e.name, hint)
}

func (e *unknownCommandError) Is(target error) bool { return target == errUsage }

func exitCode(err error) int {
	switch {
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, context.Canceled):
		return 130 // as a shell reports a process stopped by Ctrl-C
	}
	return 1
}

const usage = `dogrun runs transfer-learning experiments for identifying individual animals.

Usage:
  dogrun <command> [flags] [arguments]

Commands:
  validate   check experiment files and show the trials they expand to
  run        run every trial of an experiment that is not done yet
  settle     run seeds round by round until a comparison is decided
  worker     run trials of registered experiments, one of many workers
  submit     start workers as a Slurm job array or a Kubernetes Indexed Job
  copy       copy experiments between results databases
  status     show experiments, or the trials of one
  report     write the Markdown and HTML report of an experiment
  compare    statistical verdicts between the values of a sweep axis
  select     rank the variants by validation accuracy, to choose one
  race       searches against a grid: validation accuracy reached per CPU time
  predict    name the dog in photos with a trained trial, or answer "unknown"
  gradcam    heatmap of where a trained trial looks in a photo
  serve      a live dashboard of the results in the browser
  dedupe     find near-duplicate photos (bursts, re-crops, copies) in a folder
  setup      fetch ONNX Runtime and backbones into the cache
  backbones  list the backbones dogrun can use
  migrate    upgrade a results database written by an older dogrun
  version    print the versions dogrun was built from

Run "dogrun help <command>" (or "dogrun <command> -h") for a command's flags.
`

// command is one subcommand: its own flags and arguments in, an error out.
type command interface {
	Run(ctx context.Context, args []string) error
}

// commands are the subcommands by name, in the order usage lists them.
func commands(stdout, stderr io.Writer) map[string]command {
	return map[string]command{
		"validate":  &validateCommand{stdout: stdout, stderr: stderr},
		"run":       &runCommand{stdout: stdout, stderr: stderr},
		"settle":    &settleCommand{stdout: stdout, stderr: stderr},
		"worker":    &workerCommand{stdout: stdout, stderr: stderr},
		"submit":    &submitCommand{stdout: stdout, stderr: stderr},
		"copy":      &copyCommand{stdout: stdout, stderr: stderr},
		"status":    &statusCommand{stdout: stdout, stderr: stderr},
		"report":    &reportCommand{stdout: stdout, stderr: stderr},
		"compare":   &compareCommand{stdout: stdout, stderr: stderr},
		"select":    &selectCommand{stdout: stdout, stderr: stderr},
		"race":      &raceCommand{stdout: stdout, stderr: stderr},
		"predict":   &predictCommand{stdout: stdout, stderr: stderr},
		"gradcam":   &gradcamCommand{stdout: stdout, stderr: stderr},
		"serve":     &serveCommand{stdout: stdout, stderr: stderr},
		"dedupe":    &dedupeCommand{stdout: stdout, stderr: stderr},
		"setup":     &setupCommand{stdout: stdout, stderr: stderr},
		"backbones": &backbonesCommand{stdout: stdout, stderr: stderr},
		"migrate":   &migrateCommand{stdout: stdout, stderr: stderr},
		"version":   &versionCommand{stdout: stdout, stderr: stderr},
	}
}

// run is main without the process: tests call it with their own writers.
func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 1 {
			return fmt.Errorf("%w: help takes one command, got %d arguments", errUsage, len(rest))
		}
		if len(rest) == 0 || rest[0] == "help" {
			fmt.Fprint(stdout, usage)
			return nil
		}
		// Help about a command is its -h.
		name, rest = rest[0], []string{"-h"}
	}
	cmd, ok := commands(stdout, stderr)[name]
	if !ok {
		return &unknownCommandError{name}
	}
	err := cmd.Run(ctx, rest)
	// Help that was asked for is an answer, not an error.
	var help *helpRequest
	if errors.As(err, &help) {
		_, err = io.WriteString(stdout, help.text)
	}
	return err
}

// closestCommand is the command a mistyped name most likely meant, or "".
func closestCommand(name string) string {
	var names []string
	for n := range commands(io.Discard, io.Discard) {
		names = append(names, n)
	}
	slices.Sort(names) // the first of equally near names, every time
	return schemas.Closest(name, names)
}
