package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
)

type validateCommand struct{ stdout, stderr io.Writer }

const validateUsage = `Usage: dogrun validate FILE...

Checks experiment files strictly (unknown keys, wrong types, out-of-range values,
bad sweep paths, unknown backbones, a backbone.file that is missing or not
the named backbone, a dataset.path that is not a folder of class folders with
enough photos) and lists the trials each expands to, numbered as dogrun run
and dogrun status number them. Errors name the file, line, column and field.

`

func (c *validateCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("validate", validateUsage, c.stderr)
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: validate needs at least one FILE", errUsage)
	}
	var errs []error
	for _, file := range files {
		if err := c.one(ctx, file); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *validateCommand) one(ctx context.Context, file string) error {
	exp, err := schemas.Load(file)
	if err != nil {
		return err
	}
	trials, err := exp.Trials()
	if err != nil {
		return err
	}
	for _, t := range trials {
		if _, err := runner.ResolveBackbones(exp, t.Config); err != nil {
			return err
		}
	}
	freezes, err := describeFreezes(ctx, exp, trials)
	if err != nil {
		return err
	}
	data, err := runner.LoadDataset(exp)
	if err != nil {
		return err
	}
	variants := map[string]bool{}
	for _, t := range trials {
		variants[t.VariantKey()] = true
	}
	counts := english.Count(len(variants), "variant") + " x " + english.Count(len(exp.Seeds), "seed")
	folds := runner.Folds(exp)
	if k := exp.Split.KFold; k > 0 {
		counts += " x " + english.Count(k, "fold")
	}
	fmt.Fprintf(c.stdout, "%s: ok: experiment %q, %s = %s\n", file, exp.Name, counts, english.Count(len(folds)*len(trials), "trial"))
	fmt.Fprintf(c.stdout, "  dataset %s: %s of %s\n", schemas.DatasetDir(exp),
		english.Count(len(data.Photos), "photo"), english.Count(len(data.Classes), "class|classes"))
	// Numbered as run and status number them: from 1, each seed's folds in turn.
	for i, t := range trials {
		for j, fold := range folds {
			fmt.Fprintf(c.stdout, "  trial %d: %s\n", i*len(folds)+j+1, runner.Describe(t.VariantKey(), t.Seed, fold))
		}
	}
	for _, line := range freezes {
		fmt.Fprintln(c.stdout, line)
	}
	return nil
}

// describeFreezes checks each backbone.freeze of the trials and says what it
// trains and what that costs; a deep unfreeze is far slower than a head.
func describeFreezes(ctx context.Context, exp *schemas.Experiment, trials []schemas.Trial) ([]string, error) {
	var lines []string
	seen := map[string]bool{}
	for _, t := range trials {
		b := t.Config.Backbone
		key := b.Name + "\x00" + b.Cut + "\x00" + string(b.Freeze)
		if _, all := b.Freeze.Depth(); all || seen[key] {
			continue
		}
		seen[key] = true
		cacheDir, err := workspace.CacheDir()
		if err != nil {
			return nil, err
		}
		f, err := runner.ResolveFreeze(ctx, cacheDir, exp, t.Config)
		if err != nil {
			return nil, err
		}
		line := "  backbone.freeze " + string(b.Freeze) + " of " + b.Name + ": freezes every layer"
		if f != nil {
			d, err := runner.DescribeFreeze(f)
			if err != nil {
				return nil, err
			}
			line = "  backbone.freeze " + string(b.Freeze) + " of " + b.Name + ": " + d
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		lines = append(lines, "  (deeper layers are convolutions GoMLX's pure-Go backend cannot differentiate; written as im2col matmuls, a whole ResNet-50 trained at only 0.35-0.9 images/s on 2 cores)")
	}
	return lines, nil
}
