package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/settle"
)

type settleCommand struct{ stdout, stderr io.Writer }

const settleUsage = `Usage: dogrun settle [flags] FILE

Runs the experiment's seeds round by round and looks after every round,
until each value of the compared sweep axis is decided against the
reference (better, worse, or equivalent within ±margin) or max_seeds is
reached, with the chance of any false verdict held at alpha however many
looks it takes (docs/settle.md). The design comes from the file's settle
block; the flags below set or override its fields. It is fixed once the
first look is made: a run with another design is refused unless -redesign.
A killed run, or several runs sharing the database, go on from the stored
trials at the round they leave open.

`

func (c *settleCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("settle", settleUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	var w workFlags
	w.register(fs)
	var sf settleFlags
	sf.register(fs)
	redesign := fs.Bool("redesign", false, "replace the design declared before, although outcomes were looked at under it\n"+
		"(its error rates then no longer hold as declared; the report says after how many seeds)")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: settle needs exactly one FILE", errUsage)
	}
	exp, err := schemas.Load(files[0])
	if err != nil {
		return err
	}
	if err := sf.apply(fs, exp); err != nil {
		return err
	}
	return runExperiment(ctx, c.stdout, store, w, exp, *redesign)
}

// settleFlags set the fields of the settle block.
type settleFlags struct {
	by, reference, metric, spending *string
	margin, alpha                   *float64
	round, maxSeeds                 *int
}

func (f *settleFlags) register(fs *flag.FlagSet) {
	f.by = fs.String("by", "", "settle.by: the swept field whose values are compared, e.g. head.dropout")
	f.reference = fs.String("reference", "", "settle.reference: its value the others are compared with (default: its first)")
	f.metric = fs.String("metric", "", "settle.metric: top1 or top5 (default top1)")
	f.margin = fs.Float64("margin", 0, "settle.margin: the smallest difference in accuracy that matters, e.g. 0.01")
	f.alpha = fs.Float64("alpha", 0, "settle.alpha: the chance of any false verdict (default 0.05)")
	f.round = fs.Int("round", 0, "settle.round: seeds between looks (default 4)")
	f.maxSeeds = fs.Int("max-seeds", 0, "settle.max_seeds: the cap, a multiple of the round")
	f.spending = fs.String("spending", "", "settle.spending: obrien-fleming or pocock (default obrien-fleming)")
}

// apply overrides exp's settle block with the flags given, or makes one
// from them, and checks the result as the file's own would be.
func (f *settleFlags) apply(fs *flag.FlagSet, exp *schemas.Experiment) error {
	set := map[string]func(s *schemas.Settle){
		"by":        func(s *schemas.Settle) { s.By = *f.by },
		"reference": func(s *schemas.Settle) { s.Reference = schemas.Label(*f.reference) },
		"metric":    func(s *schemas.Settle) { s.Metric = *f.metric },
		"margin":    func(s *schemas.Settle) { s.Margin = *f.margin },
		"alpha":     func(s *schemas.Settle) { s.Alpha = *f.alpha },
		"round":     func(s *schemas.Settle) { s.Round = *f.round },
		"max-seeds": func(s *schemas.Settle) { s.MaxSeeds = *f.maxSeeds },
		"spending":  func(s *schemas.Settle) { s.Spending = *f.spending },
	}
	var given []string
	fs.Visit(func(fl *flag.Flag) {
		if _, ok := set[fl.Name]; ok {
			given = append(given, "-"+fl.Name)
		}
	})
	if len(given) == 0 {
		if !exp.Settle.Declared() {
			return fmt.Errorf("%s has no settle block: add one, or give at least -by, -margin and -max-seeds (docs/settle.md)", exp.File)
		}
		return nil
	}
	if exp.Settle == (schemas.Settle{}) {
		exp.Settle = schemas.DefaultSettle()
	}
	fs.Visit(func(fl *flag.Flag) {
		if apply, ok := set[fl.Name]; ok {
			apply(&exp.Settle)
		}
	})
	if err := exp.Validate(); err != nil {
		return fmt.Errorf("with %s: %w", strings.Join(given, " "), err)
	}
	return nil
}

// printSettle writes where the experiment's settled comparisons stand, when
// it declared a design.
func printSettle(ctx context.Context, w io.Writer, st *results.Store, exp results.Experiment) error {
	s, err := settle.Load(ctx, st, exp)
	if err != nil || s == nil {
		return err
	}
	d := s.Design
	fmt.Fprintf(w, "\nsettle %s against %s (%s, alpha %g, margin ±%g, a look every %d seeds up to %d, %s spending):\n",
		d.By, d.Reference, d.Metric, d.Alpha, d.Margin, d.Round, d.MaxSeeds, d.Spending)
	for _, c := range s.Comparisons {
		fmt.Fprintf(w, "  %s\n", s.Summary(c))
	}
	if d.SeenBefore > 0 {
		fmt.Fprintf(w, "  note: the design was declared with %d paired seeds already stored; its error rates assume they were not looked at before\n", d.SeenBefore)
	}
	state := "open: dogrun settle (or run) goes on"
	if s.Decided() {
		state = "settled"
	}
	fmt.Fprintf(w, "  %s; the verdicts cover %s\n", state, s.Population())
	return nil
}

// describeSettle says what a settled experiment compares and how it looks.
func describeSettle(exp *schemas.Experiment) (string, error) {
	d, err := settle.Design(exp)
	if err != nil {
		return "", err
	}
	comps, err := settle.Comparisons(d, exp)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("  settle %s against %s: %s, a look every %s up to %d, seeds in the order %s; round 1:",
		d.By, d.Reference, english.Count(len(comps), "comparison"), english.Count(d.Round, "seed"), d.MaxSeeds, settle.SeedList(d.Seeds)), nil
}
