package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dogrun/dogrun/report"
)

type raceCommand struct{ stdout, stderr io.Writer }

const raceUsage = `Usage: dogrun race [flags] -grid EXPERIMENT SEARCH...

Measures searches against a grid run on the same draws (seeds): per method
the best validation accuracy reached within a third and all of the grid's
fit CPU time, the CPU it needed on each draw to come within -margin of the
grid's best there, and the test accuracy of what it chose on validation, as
Markdown tables. A grid's trials count in their index order, a search's in
the order it drew them (docs/search.md).

`

func (c *raceCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("race", raceUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	grid := fs.String("grid", "", "the grid's experiment (required)")
	margin := fs.Float64("margin", 0.01, "how close to the grid's best validation accuracy counts as reaching it")
	searches, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *grid == "":
		fs.Usage()
		return fmt.Errorf("%w: race needs -grid EXPERIMENT", errUsage)
	case len(searches) == 0:
		fs.Usage()
		return fmt.Errorf("%w: race needs at least one SEARCH experiment", errUsage)
	case !(*margin >= 0 && *margin < 1):
		fs.Usage()
		return fmt.Errorf("%w: -margin %g is not in [0, 1)", errUsage, *margin)
	}
	st, err := store.open()
	if err != nil {
		return err
	}
	defer st.Close()
	var methods []report.RaceMethod
	for _, name := range append([]string{*grid}, searches...) {
		m, err := report.LoadRace(ctx, st, name)
		if err != nil {
			return err
		}
		methods = append(methods, m)
	}
	r, err := report.CompareRace(methods, *margin)
	if err != nil {
		return err
	}
	_, err = io.WriteString(c.stdout, r.Markdown())
	return err
}
