package report

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

// sweepYAML is a valid experiment file whose dataset sits beside it.
const sweepYAML = `name: sweep
description: Two swept settings over three dogs.
dataset: {path: photos, min_images_per_class: 2, test: 0.5, val: 0.1}
backbone: {name: mobilefacenet}
head: {hidden: [8], dropout: 0.0, activation: relu}
train: {optimizer: adam, lr: 0.001, batch_size: 4, epochs: 10, early_stopping: {monitor: val_loss, patience: 2}}
sweep: {head.dropout: [0.0, 0.5], train.lr: [0.001, 0.01]}
seeds: [1, 2]
`

var sweepClasses = []string{"rex", "bella", "fido"}

// sweepFixture is a store holding an experiment of 8 trials over a 2x2
// sweep with 2 seeds: 7 done, the last one failed. Its photo folder has
// photos of rex and bella but none of fido, whose thumbnails must read
// "photo not found".
type sweepFixture struct {
	store   *results.Store
	dataDir string
}

func newSweepFixture(t *testing.T) sweepFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "photos")
	for ci, c := range sweepClasses[:2] {
		if err := os.MkdirAll(filepath.Join(data, c), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 2; i++ {
			writePNG(t, filepath.Join(data, c, fmt.Sprintf("%s%d.png", c, i)), 160, 120, color.RGBA{R: uint8(90 * ci), G: 120, B: uint8(60 * i), A: 255})
		}
	}
	file := filepath.Join(dir, "sweep.yaml")
	if err := os.WriteFile(file, []byte(sweepYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := results.Open(filepath.Join(dir, "runs", "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	id, err := st.PutExperiment(ctx, results.Experiment{Name: "sweep", File: file, ConfigYAML: sweepYAML, DatasetFingerprint: "f1ngerpr1nt"})
	if err != nil {
		t.Fatal(err)
	}

	var trials []results.Trial
	i := 0
	for _, dropout := range []string{"0", "0.5"} {
		for _, lr := range []string{"0.001", "0.01"} {
			for seed := int64(1); seed <= 2; seed++ {
				trials = append(trials, results.Trial{
					Hash: fmt.Sprintf("%02x%062d", i, i), Index: i, Seed: seed,
					VariantKey:  "head.dropout=" + dropout + ", train.lr=" + lr,
					VariantJSON: `{"head.dropout":` + dropout + `,"train.lr":` + lr + `}`,
					ConfigJSON:  `{"backbone":{"name":"mobilefacenet"},"head":{"dropout":` + dropout + `},"train":{"lr":` + lr + `,"epochs":10},"seeds":[` + fmt.Sprint(seed) + `]}`,
				})
				i++
			}
		}
	}
	if _, err := st.RegisterTrials(ctx, id, trials); err != nil {
		t.Fatal(err)
	}
	photos := []string{"rex/rex1.png", "rex/rex2.png", "bella/bella1.png", "bella/bella2.png", "fido/fido1.png", "fido/fido2.png"}
	labels := []int{0, 0, 1, 1, 2, 2}
	for k := range trials {
		tr, err := st.Claim(ctx, id, "host-a:1", time.Minute, 1)
		if err != nil || tr == nil {
			t.Fatal(tr, err)
		}
		if k == len(trials)-1 {
			if err := st.Fail(ctx, tr.ID, "host-a:1", "loss became NaN at epoch 3"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		// Trial k gets photo j wrong when (j+k)%4 == 0: fido and rex are
		// mixed up most.
		var probs [][]float32
		var preds []results.Prediction
		for j, y := range labels {
			p := []float32{0.1, 0.1, 0.1}
			pred := y
			if (j+k)%4 == 0 {
				pred = (y + 1) % 3
			}
			p[pred] = 0.8
			probs = append(probs, p)
			preds = append(preds, results.Prediction{Photo: photos[j], True: y, Pred: pred,
				TopK: []results.ClassScore{{Class: pred, Score: 0.8}}})
		}
		rep, err := metrics.Evaluate(labels, probs, sweepClasses)
		if err != nil {
			t.Fatal(err)
		}
		// Seed 2 stops two epochs early.
		n := 10 - 2*int(trials[k].Seed-1)
		var eps []results.Epoch
		for e := 1; e <= n; e++ {
			x := float64(e)
			eps = append(eps, results.Epoch{Epoch: e, TrainLoss: 2 / x, ValLoss: 2/x + 0.3 + 0.05*float64(k),
				TrainAccuracy: 1 - 0.5/x, ValAccuracy: 0.8 - 0.5/x - 0.01*float64(k), Seconds: 0.1})
		}
		err = st.Finish(ctx, tr.ID, "host-a:1", results.Outcome{
			Epochs: eps, BestEpoch: n - 1, StoppedEpoch: n, Classes: sweepClasses, Report: rep, Predictions: preds,
			CheckpointPath: "runs/sweep/trials/x/checkpoint", DurationSeconds: 1.5,
			GoVersion: "go1.26.8", GitCommit: "c0ffee", BackboneSHA256: "b0b0",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return sweepFixture{store: st, dataDir: data}
}

func writePNG(t *testing.T, path string, w, h int, c color.Color) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
