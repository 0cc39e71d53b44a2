package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

type predictCommand struct{ stdout, stderr io.Writer }

const predictUsage = `Usage: dogrun predict [flags] -trial ID IMAGE...

Names the dog in each photo with a done trial (its backbone and best
checkpoint), as the seed's testing.py did. ID is the trial's hash or a prefix
of it, as dogrun status and the report show it.

Prints a JSON array with one object per image, in argument order:
  image     the path as given
  decision  the most probable dog, or "unknown" when the trial's open-set
            rule rejects the photo (trials of experiments with open_set)
  rule      the rule with this photo's score, null for a trial without one
  scores    every dog with its probability, most probable first

`

func (c *predictCommand) Run(ctx context.Context, args []string) error {
	ctx = backbone.WithProgress(ctx, c.stderr) // downloads and conversions say so on stderr
	fs := newFlagSet("predict", predictUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	var trialF trialFlags
	trialF.register(fs)
	images, err := parse(fs, args)
	if err != nil {
		return err
	}
	if trialF.id == "" || len(images) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: predict needs -trial ID and at least one IMAGE", errUsage)
	}
	st, exp, trial, err := trialF.openTrial(ctx, store)
	if err != nil {
		return err
	}
	defer st.Close()
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return err
	}
	p, err := runner.NewPredictor(ctx, st, exp, trial, cacheDir, trialF.threads)
	if err != nil {
		return err
	}
	preds, err := p.Predict(ctx, images)
	if err != nil {
		return err
	}
	_, err = c.stdout.Write(predictionJSON(p, preds))
	return err
}

// trialFlags pick one done trial and the threads to run its backbone with.
type trialFlags struct {
	id, experiment string
	threads        int
}

func (t *trialFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.id, "trial", "", "trial hash or unique prefix (required)")
	fs.StringVar(&t.experiment, "experiment", "", "look for the trial in this experiment only")
	fs.IntVar(&t.threads, "threads", 0, "ONNX Runtime threads (0 = one per CPU)")
}

// openTrial opens the store and finds the trial the flags name; the caller
// closes the store.
func (t *trialFlags) openTrial(ctx context.Context, store storeFlags) (*results.Store, results.Experiment, results.Trial, error) {
	st, err := store.open()
	if err != nil {
		return nil, results.Experiment{}, results.Trial{}, err
	}
	exp, trial, err := findTrial(ctx, st, t.id, t.experiment)
	if err != nil {
		st.Close()
		return nil, results.Experiment{}, results.Trial{}, err
	}
	return st, exp, trial, nil
}

var hexPrefix = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

// findTrial resolves a hash prefix to exactly one trial, or says why not.
func findTrial(ctx context.Context, st *results.Store, id, expName string) (results.Experiment, results.Trial, error) {
	id = strings.ToLower(id)
	if !hexPrefix.MatchString(id) {
		return results.Experiment{}, results.Trial{}, fmt.Errorf("%w: trial ID %q is not a hexadecimal hash prefix", errUsage, id)
	}
	exps, err := st.Experiments(ctx)
	if err != nil {
		return results.Experiment{}, results.Trial{}, err
	}
	byID := map[int64]results.Experiment{}
	for _, e := range exps {
		byID[e.ID] = e
	}
	found, err := st.TrialsByHashPrefix(ctx, id)
	if err != nil {
		return results.Experiment{}, results.Trial{}, err
	}
	var match []results.Trial
	for _, t := range found {
		if expName == "" || byID[t.ExperimentID].Name == expName {
			match = append(match, t)
		}
	}
	in := ""
	if expName != "" {
		in = " in experiment " + expName
	}
	switch len(match) {
	case 0:
		return results.Experiment{}, results.Trial{}, fmt.Errorf("no trial%s has a hash starting with %s (dogrun status EXPERIMENT lists them)", in, id)
	case 1:
		return byID[match[0].ExperimentID], match[0], nil
	}
	var names []string
	for _, t := range match[:min(len(match), 5)] {
		names = append(names, fmt.Sprintf("%s (%s, seed %d)", t.Hash[:16], byID[t.ExperimentID].Name, t.Seed))
	}
	if len(match) > 5 {
		names = append(names, "...")
	}
	return results.Experiment{}, results.Trial{}, fmt.Errorf("%d trials%s have a hash starting with %s: %s; give more of the hash, or -experiment",
		len(match), in, id, strings.Join(names, ", "))
}

// predictionJSON writes one object per image, each score on its own line so
// that the file reads top-down and diffs line by line. Numbers have 4
// decimals: enough to rank, and stable across machines.
func predictionJSON(p *runner.Predictor, preds []runner.Prediction) []byte {
	var b bytes.Buffer
	str := func(s string) string { js, _ := json.Marshal(s); return string(js) }
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	b.WriteString("[\n")
	for i, pr := range preds {
		decision := p.Classes[pr.Top]
		if pr.Unknown {
			decision = "unknown"
		}
		rule := "null"
		if r := p.Rule; r != nil {
			rule = fmt.Sprintf(`{"kind": %s, "threshold": %s, "target_far": %s, "score": %s, "accepted": %t}`,
				str(r.Kind), num(r.Threshold), num(r.TargetFAR), num(pr.Score), !pr.Unknown)
		}
		fmt.Fprintf(&b, "  {\n    \"image\": %s,\n    \"decision\": %s,\n    \"rule\": %s,\n    \"scores\": [\n", str(pr.Image), str(decision), rule)
		order := make([]int, len(pr.Probs))
		for c := range order {
			order[c] = c
		}
		sort.SliceStable(order, func(x, y int) bool { return pr.Probs[order[x]] > pr.Probs[order[y]] })
		for k, c := range order {
			sep := ","
			if k == len(order)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "      {\"class\": %s, \"score\": %s}%s\n", str(p.Classes[c]), num(float64(pr.Probs[c])), sep)
		}
		sep := ","
		if i == len(preds)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    ]\n  }%s\n", sep)
	}
	b.WriteString("]\n")
	return b.Bytes()
}
