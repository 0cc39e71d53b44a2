package runner

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/train"
)

func TestResolveFreezeRefusesWhatWouldActOnTheCut(t *testing.T) {
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	const base = "name: f\ndataset: {path: d}\nseeds: [1]\n"
	for yaml, want := range map[string]string{
		"backbone: {names: [mobilenetv2-imagenet, inceptionv3], freeze: -5}":            "not backbone.names",
		"backbone: {name: mobilenetv2-imagenet, freeze: -5}\nfeatures: {normalize: l2}": "features.normalize",
		"backbone: {name: mobilenetv2-imagenet, freeze: -5}\nfeatures: {tta: flip}":     "features.tta",
	} {
		exp := writeExperiment(t, base+yaml+"\n")
		_, err := ResolveFreeze(t.Context(), cacheDir, exp, *exp)
		if err == nil || !strings.Contains(err.Error(), "backbone.freeze") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one on backbone.freeze naming %s", yaml, err, want)
		}
	}
	exp := writeExperiment(t, base+"backbone: {name: mobilenetv2-imagenet, freeze: all}\n")
	if f, err := ResolveFreeze(t.Context(), cacheDir, exp, *exp); f != nil || err != nil {
		t.Errorf("freeze: all = %v, %v; want nothing to split", f, err)
	}
}

// TestFreezeTrialOnRealPhotos runs a freeze -5 trial end to end: features
// cached at the cut, the trunk trained with the head, its fine-tuned weights
// in the checkpoint, which predicts again after loading.
func TestFreezeTrialOnRealPhotos(t *testing.T) {
	if testing.Short() {
		t.Skip("real end-to-end run")
	}
	data := needs.Photos(t)
	_, err := os.Stat(data)
	needs.Met(t, err)
	exp := writeExperiment(t, `
name: freeze-e2e
dataset: {path: `+data+`, min_images_per_class: 10, max_classes: 4, seed: 3, test: 0.3, val: 0.2}
backbone: {name: mobilenetv2-imagenet, freeze: -5}
head: {hidden: [32]}
train: {batch_size: 16, epochs: 2, early_stopping: {patience: 0}}
seeds: [1]
`)
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	runs := t.TempDir()
	st, err := results.Open(runs + "/dogrun.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var log bytes.Buffer
	ctx := context.Background()
	if sum, err := Run(ctx, exp, Options{Store: st, RunsDir: runs, CacheDir: cacheDir, Log: &log}); err != nil || sum.Trained != 1 {
		t.Fatalf("%+v, %v\n%s", sum, err, log.String())
	}
	if !strings.Contains(log.String(), "epoch 2/2") {
		t.Errorf("no second epoch in the log:\n%s", log.String())
	}
	e, err := st.Experiment(ctx, "freeze-e2e")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil || len(trials) != 1 || trials[0].Status != results.StatusDone {
		t.Fatalf("trials %+v, %v; want one done", trials, err)
	}
	h, err := train.Load(trials[0].CheckpointPath)
	if err != nil {
		t.Fatal(err)
	}
	if h.Config.Trunk == nil || h.Dim != 7*7*320 {
		t.Fatalf("checkpoint: trunk %v on %d-d rows, want the Conv_1 trunk on the 15680-d cut", h.Config.Trunk, h.Dim)
	}
	plan, err := NewPlan(exp, &log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.resolveFreezes(ctx, cacheDir); err != nil {
		t.Fatal(err)
	}
	tr := plan.Trials[0]
	cache, err := backbone.OpenCache(cacheDir, tr.Frozen.Prefix, tr.Frozen.Cut)
	if err != nil {
		t.Fatal(err)
	}
	_, _, test, err := plan.Sets(cache, tr)
	if err != nil {
		t.Fatal(err)
	}
	probs, err := h.Predict(test)
	if err != nil {
		t.Fatal(err)
	}
	preds, err := st.Predictions(ctx, trials[0].ID)
	if err != nil || len(preds) != len(probs) {
		t.Fatalf("%d stored predictions (%v) for %d test rows", len(preds), err, len(probs))
	}
	for i, p := range preds {
		if got := slices.Index(probs[i], slices.Max(probs[i])); got != p.Pred {
			t.Errorf("test photo %d: loaded checkpoint predicts class %d, the trial stored %d", i, got, p.Pred)
		}
	}
}
