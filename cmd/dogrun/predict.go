package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

type predictCommand struct{ stdout, stderr io.Writer }

const predictUsage = `Usage: dogrun predict [flags] -trial ID IMAGE...

Names the dog in each photo with a done trial (its backbone and best
checkpoint), as the original Keras scripts' prediction step did. ID is the
trial's hash or a prefix of it, as dogrun status and the report show it.

Prints a JSON array with one object per image, in argument order:
  image     the path as given
  decision  the most probable dog, or "unknown" when the trial's open-set
            rule rejects the photo (trials of experiments with open_set)
  rule      the rule with this photo's score, null for a trial without one
  scores    every dog with its probability, most probable first
An image that cannot be read has only "image" and "error"; the others are
still answered, and dogrun exits with status 1.

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
	js, err := predictionJSON(p, preds)
	if err != nil {
		return err
	}
	if _, err := c.stdout.Write(js); err != nil {
		return err
	}
	failed := 0
	for _, pr := range preds {
		if pr.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %s could not be read; the JSON says why", failed, english.Count(len(preds), "image"))
	}
	return nil
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

// openTrial opens the store for reading and finds the trial the flags name;
// the caller closes the store.
func (t *trialFlags) openTrial(ctx context.Context, store storeFlags) (*results.Store, results.Experiment, results.Trial, error) {
	st, err := store.open()
	if err != nil {
		return nil, results.Experiment{}, results.Trial{}, err
	}
	exp, trial, err := st.FindTrial(ctx, t.id, t.experiment)
	switch {
	case errors.Is(err, results.ErrBadHashPrefix):
		err = fmt.Errorf("%w: %v", errUsage, err)
	case errors.Is(err, results.ErrNotFound):
		err = fmt.Errorf("%w (dogrun status EXPERIMENT lists its trials)", err)
	}
	if err != nil {
		st.Close()
		return nil, results.Experiment{}, results.Trial{}, err
	}
	return st, exp, trial, nil
}

// The JSON predict prints: an answer, or the reason there is none.
type (
	predictionOut struct {
		Image    string     `json:"image"`
		Decision string     `json:"decision"`
		Rule     *ruleOut   `json:"rule"`
		Scores   []scoreOut `json:"scores"`
	}
	ruleOut struct {
		Kind      string `json:"kind"`
		Threshold fixed4 `json:"threshold"`
		TargetFAR fixed4 `json:"target_far"`
		Score     fixed4 `json:"score"`
		Accepted  bool   `json:"accepted"`
	}
	scoreOut struct {
		Class string `json:"class"`
		Score fixed4 `json:"score"`
	}
	failureOut struct {
		Image string `json:"image"`
		Error string `json:"error"`
	}
)

// fixed4 is a number written with 4 decimals: enough to rank, and the same
// on every machine.
type fixed4 float64

func (f fixed4) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(f), 'f', 4, 64), nil
}

// predictionJSON is one indented object per image, in order.
func predictionJSON(p *runner.Predictor, preds []runner.Prediction) ([]byte, error) {
	out := make([]any, len(preds))
	for i, pr := range preds {
		if pr.Err != nil {
			out[i] = failureOut{Image: pr.Image, Error: pr.Err.Error()}
			continue
		}
		o := predictionOut{Image: pr.Image, Decision: p.Classes[pr.Top]}
		if pr.Unknown {
			o.Decision = "unknown"
		}
		if r := p.Rule; r != nil {
			o.Rule = &ruleOut{Kind: r.Kind, Threshold: fixed4(r.Threshold), TargetFAR: fixed4(r.TargetFAR), Score: fixed4(pr.Score), Accepted: !pr.Unknown}
		}
		order := make([]int, len(pr.Probs))
		for c := range order {
			order[c] = c
		}
		sort.SliceStable(order, func(x, y int) bool { return pr.Probs[order[x]] > pr.Probs[order[y]] })
		for _, c := range order {
			o.Scores = append(o.Scores, scoreOut{Class: p.Classes[c], Score: fixed4(pr.Probs[c])})
		}
		out[i] = o
	}
	js, err := json.MarshalIndent(out, "", "  ")
	return append(js, '\n'), err
}
