package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
)

type copyCommand struct{ stdout, stderr io.Writer }

const copyUsage = `Usage: dogrun copy [flags] SRC DST [EXPERIMENT...]

Copies experiments (those named, or all) with their trials, results, splits
and attempts from the results database SRC to DST. Each is a SQLite file or
a PostgreSQL URL: a laptop's runs/dogrun.db into the shared database, and
back. A trial DST lacks is added; a trial DST has not finished is replaced by
a done one of SRC; the rest of DST is kept, so copying again changes nothing.
An experiment both hold must come from the same file and photos. SRC is only
read; DST is created when missing. Trial folders (checkpoints) are not
copied: copy runs/<experiment>/trials/ along for predict and gradcam.

`

func (c *copyCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("copy", copyUsage, c.stderr)
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) < 2 {
		fs.Usage()
		return fmt.Errorf("%w: copy needs SRC and DST", errUsage)
	}
	src, err := results.OpenReadOnly(args[0])
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := results.Open(args[1])
	if err != nil {
		return err
	}
	defer dst.Close()
	copied, err := results.Copy(ctx, src, dst, args[2:])
	for _, e := range copied {
		var parts []string
		if e.Created {
			parts = append(parts, "new there")
		}
		parts = append(parts, english.Count(e.New, "trial")+" copied", fmt.Sprintf("%d replaced", e.Replaced), fmt.Sprintf("%d already there", e.Kept))
		if e.Splits {
			parts = append(parts, "its split copied")
		}
		fmt.Fprintf(c.stdout, "%s: %s\n", e.Experiment, strings.Join(parts, ", "))
	}
	if err == nil && len(copied) == 0 {
		fmt.Fprintf(c.stdout, "%s holds no experiments: nothing copied\n", src.Path())
	}
	return err
}
