// Command searchrace prints issue 19's measurement from a results database:
// a grid's and searches' trials on the same draws, as the best validation
// accuracy each had reached against the CPU time its heads' fits had taken.
//
//	go run ./cmd/searchrace -db runs/dogrun.db -grid search-grid search-random search-tpe
//
// A grid runs its trials in the file's order; a search in the order it drew
// them. A pruned or failed trial cannot be chosen; a complete one counts with
// its validation accuracy at its best epoch, which is what it would be
// chosen by.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dogrun/dogrun/results"
)

func main() {
	if err := Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		os.Exit(fail(os.Stderr, err))
	}
}

// fail reports err on stderr and returns the exit status: 2 for a mistake in
// the arguments (already reported with the usage), 1 for a failure.
func fail(stderr io.Writer, err error) int {
	var usage usageError
	if errors.As(err, &usage) {
		return 2
	}
	fmt.Fprintln(stderr, "searchrace:", err)
	return 1
}

// usageError is a mistake in the arguments, already reported with the usage.
type usageError struct{ error }

const usage = `Usage: searchrace -db FILE -grid EXPERIMENT SEARCH...

Prints, for a grid and the searches run on the same draws (seeds), the best
validation accuracy each reached within a third and all of the grid's fit CPU
time, the CPU each needed to come within -margin of the grid's best, and the
test accuracy of what each chose, as Markdown tables.

`

// Run parses args and writes the tables to out.
func Run(ctx context.Context, args []string, out, log io.Writer) error {
	fs := flag.NewFlagSet("searchrace", flag.ContinueOnError)
	db := fs.String("db", "", "results database (required)")
	grid := fs.String("grid", "", "the grid's experiment (required)")
	margin := fs.Float64("margin", 0.01, "how close to the grid's best counts as reaching it")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	// Help asked for is the answer (stdout); a mistake is not (stderr).
	var parsed bytes.Buffer
	fs.SetOutput(&parsed)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		_, err = out.Write(parsed.Bytes())
		return err
	}
	fs.SetOutput(log)
	if err != nil {
		log.Write(parsed.Bytes())
		return usageError{err}
	}
	mistake := func(msg string) error {
		fmt.Fprintln(log, msg)
		fs.Usage()
		return usageError{errors.New(msg)}
	}
	switch {
	case *db == "":
		return mistake("-db is required")
	case *grid == "":
		return mistake("-grid is required")
	case fs.NArg() == 0:
		return mistake("name at least one SEARCH experiment")
	case !(*margin >= 0 && *margin < 1):
		return mistake(fmt.Sprintf("-margin %g is not in [0, 1)", *margin))
	}
	st, err := results.OpenReadOnly(*db)
	if err != nil {
		return err
	}
	defer st.Close()
	var methods []method
	for _, name := range append([]string{*grid}, fs.Args()...) {
		m, err := load(ctx, st, name)
		if err != nil {
			return err
		}
		methods = append(methods, m)
	}
	t, err := compare(methods, *margin)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, t.markdown())
	return err
}
