package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/search"
)

type validateCommand struct{ stdout, stderr io.Writer }

const validateUsage = `Usage: dogrun validate FILE...

Checks experiment files strictly (unknown keys, wrong types, out-of-range values,
bad sweep paths and search ranges, unknown backbones, a backbone.file that is
missing or not the named backbone, a dataset.path that is not a folder of class
folders with enough photos) and lists the trials each expands to, numbered as
dogrun run and dogrun status number them; for a search, its space, pruning
and confirmation. Errors name the file, line, column and field.

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
	choices, err := runner.BackboneChoices(exp)
	if err != nil {
		return err
	}
	for _, t := range append(trials, choices...) {
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
	if exp.Search.Declared() {
		c.describeSearch(file, exp, len(data.Photos), len(data.Classes))
		return nil
	}
	variants := map[string]bool{}
	for _, t := range trials {
		variants[t.VariantKey()] = true
	}
	seeds, upTo := english.Count(len(exp.Seeds), "seed"), ""
	if exp.Settle.Declared() {
		seeds, upTo = "up to "+english.Count(exp.Settle.MaxSeeds, "seed"), "up to "
	}
	counts := english.Count(len(variants), "variant") + " x " + seeds
	folds := runner.Folds(exp)
	if k := exp.Split.KFold; k > 0 {
		counts += " x " + english.Count(k, "fold")
	}
	fmt.Fprintf(c.stdout, "%s: ok: experiment %q, %s = %s%s\n", file, exp.Name, counts, upTo, english.Count(len(folds)*len(trials), "trial"))
	fmt.Fprintf(c.stdout, "  dataset %s: %s of %s\n", schemas.DatasetDir(exp),
		english.Count(len(data.Photos), "photo"), english.Count(len(data.Classes), "class|classes"))
	listed := trials
	if exp.Settle.Declared() {
		line, err := describeSettle(exp)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, line)
		listed = trials[:len(variants)*exp.Settle.Round]
	}
	// Numbered as run and status number them: from 1, each seed's folds in turn.
	for i, t := range listed {
		for j, fold := range folds {
			fmt.Fprintf(c.stdout, "  trial %d: %s\n", i*len(folds)+j+1, runner.Describe(t.VariantKey(), t.Seed, fold))
		}
	}
	if len(listed) < len(trials) {
		fmt.Fprintf(c.stdout, "  trials %d to %d: the next rounds, as far as the looks need them\n", len(listed)*len(folds)+1, len(trials)*len(folds))
	}
	for _, line := range freezes {
		fmt.Fprintln(c.stdout, line)
	}
	return nil
}

// describeSearch says what a search file runs: its draws, its space, where
// its pruner can stop a trial and what it confirms.
func (c *validateCommand) describeSearch(file string, exp *schemas.Experiment, photos, classes int) {
	sc := exp.Search
	total := sc.Trials * len(exp.Seeds)
	what := fmt.Sprintf("%s search of %s per seed x %s = %s", sc.Method, english.Count(sc.Trials, "trial"),
		english.Count(len(exp.Seeds), "seed"), english.Count(total, "trial"))
	if cf := exp.Confirm; cf.Declared() {
		what += fmt.Sprintf(", then up to %d confirming the best", cf.Top*cf.Seeds)
	}
	fmt.Fprintf(c.stdout, "%s: ok: experiment %q, %s\n", file, exp.Name, what)
	fmt.Fprintf(c.stdout, "  dataset %s: %s of %s\n", schemas.DatasetDir(exp),
		english.Count(photos, "photo"), english.Count(classes, "class|classes"))
	for _, d := range exp.Search.Space {
		fmt.Fprintf(c.stdout, "  search %s: %s\n", d.Path, d.String())
	}
	fmt.Fprintf(c.stdout, "  each seed's draws optimise %s on its validation photos", sc.Metric)
	if sc.Method == "tpe" {
		fmt.Fprintf(c.stdout, "; the first %d are random", sc.StartupTrials)
	}
	fmt.Fprintln(c.stdout)
	switch _, pruner, _ := exp.Searcher(); p := pruner.(type) {
	case search.ASHA:
		epochs := p.Rungs(exp.Train.Epochs - 1) // nothing is saved by a stop after the last epoch
		fmt.Fprintf(c.stdout, "  asha may stop a trial after epochs %s (of %d)\n", joinInts(epochs), exp.Train.Epochs)
	case search.Median:
		fmt.Fprintf(c.stdout, "  the median rule may stop a trial after every %s past epoch %d, once %s are complete\n",
			english.Count(p.Interval, "epoch"), p.WarmupEpochs, english.Count(p.StartupTrials, "trial"))
	}
	if cf := exp.Confirm; cf.Declared() {
		fmt.Fprintf(c.stdout, "  confirm: the best %d settings re-run with %s (1, 2, ... but %d) on the same split, compared with the best\n",
			cf.Top, english.Count(cf.Seeds, "seed"), exp.Seeds[0])
	}
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
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
