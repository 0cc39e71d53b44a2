package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dogrun/dogrun/results"
)

type migrateCommand struct{ stdout, stderr io.Writer }

const migrateUsage = `Usage: dogrun migrate [flags]

Upgrades the results database to this dogrun's schema in place, keeping
every result. The commands that only read (status, report, compare, predict,
gradcam) never change a database, so they ask for this after an upgrade of
dogrun; dogrun run upgrades it too. It creates no database.

`

func (c *migrateCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("migrate", migrateUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if err := store.defaultErr(); err != nil {
		return err
	}
	from, to, err := results.Upgrade(store.path())
	if err != nil {
		return store.explain(err)
	}
	if from == to {
		_, err = fmt.Fprintf(c.stdout, "%s: already at schema version %d\n", results.Redact(store.path()), to)
	} else {
		_, err = fmt.Fprintf(c.stdout, "%s: upgraded from schema version %d to %d\n", results.Redact(store.path()), from, to)
	}
	return err
}
