package runner

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

func writeExperiment(t *testing.T, yaml string) *schemas.Experiment {
	t.Helper()
	file := filepath.Join(t.TempDir(), "e2e.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	exp, err := schemas.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// TestEndToEndOnRealPhotos runs a small sweep on real dog photos with the real
// backbone, then runs it again and expects nothing to be trained or extracted.
func TestEndToEndOnRealPhotos(t *testing.T) {
	if testing.Short() {
		t.Skip("real end-to-end run")
	}
	data := needs.Photos(t)
	exp := writeExperiment(t, `
name: e2e
dataset: {path: `+data+`, min_images_per_class: 10, max_classes: 6, seed: 3, test: 0.3, val: 0.2}
backbone: {name: mobilefacenet}
head: {hidden: [64], dropout: 0.0, activation: relu}
augmentation: {views: 1, rotation_deg: 10, shift: 0.05, zoom: [0.95, 1.1], brightness: [0.9, 1.1], hflip: true}
train: {optimizer: adam, lr: 0.003, batch_size: 16, epochs: 25, early_stopping: {monitor: val_loss, patience: 5}}
sweep: {head.dropout: [0.0, 0.5]}
seeds: [1]
`)
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A private feature cache would make every test run extract; the shared one is
	// keyed by content, so reusing it is safe. Count this run's extraction instead.
	var log bytes.Buffer
	ctx := context.Background()
	sum, err := Run(ctx, exp, Options{Store: st, RunsDir: runs, CacheDir: cacheDir, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if sum.Planned != 2 || sum.Trained != 2 || sum.Failed != 0 {
		t.Fatalf("summary %+v, want 2 planned and trained\n%s", sum, log.String())
	}
	for _, want := range []string{"trial 1/2", "trial 2/2", "epoch 1/25", "test accuracy"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("progress output lacks %q:\n%s", want, log.String())
		}
	}

	e, err := st.Experiment(ctx, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.TestMetrics(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trials {
		tm := m[tr.ID]
		// Six dogs: chance is 1/6. Face embeddings of real photos do far better.
		if tm.Accuracy < 0.5 {
			t.Errorf("trial %d: test accuracy %.3f, want well above chance (0.167)", tr.Index, tm.Accuracy)
		}
		preds, err := st.Predictions(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(preds) != tm.N || tm.N == 0 {
			t.Errorf("trial %d: %d predictions stored for %d test photos", tr.Index, len(preds), tm.N)
		}
		for _, f := range []string{"classification_report.csv", "confusion_matrix.csv", "checkpoint/head.json"} {
			if _, err := os.Stat(filepath.Join(filepath.Dir(tr.CheckpointPath), f)); err != nil {
				t.Errorf("trial %d: %v", tr.Index, err)
			}
		}
		eps, err := st.Epochs(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkTensorBoard(t, filepath.Dir(tr.CheckpointPath), eps)
	}

	checkPredictImage(t, st, e, trials[0], cacheDir, data)

	log.Reset()
	again, err := Run(ctx, exp, Options{Store: st, RunsDir: runs, CacheDir: cacheDir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if again.Trained != 0 || again.FeaturesComputed != 0 || again.AlreadyDone != 2 {
		t.Errorf("rerun %+v, want nothing trained or extracted and 2 already done\n%s", again, log.String())
	}
}

// checkPredictImage: a photo in memory, run through the backbone directly,
// gets the answer Predict gives the file through the feature cache.
func checkPredictImage(t *testing.T, st *results.Store, exp results.Experiment, tr results.Trial, cacheDir, data string) {
	t.Helper()
	ctx := context.Background()
	preds, err := st.Predictions(ctx, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	photo := filepath.Join(data, filepath.FromSlash(preds[0].Photo))
	p, err := NewPredictor(ctx, st, exp, tr, cacheDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want, err := p.Predict(ctx, []string{photo})
	if err != nil || want[0].Err != nil {
		t.Fatal(err, want[0].Err)
	}
	img, err := dataset.Decode(photo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.PredictImage(ctx, "upload.jpg", img)
	if err != nil {
		t.Fatal(err)
	}
	if got.Top != want[0].Top || got.Image != "upload.jpg" || len(got.Probs) != len(want[0].Probs) {
		t.Fatalf("PredictImage %+v, Predict %+v", got, want[0])
	}
	for c := range got.Probs {
		if d := math.Abs(float64(got.Probs[c] - want[0].Probs[c])); d > 1e-4 {
			t.Errorf("class %d: PredictImage %.6f, Predict %.6f", c, got.Probs[c], want[0].Probs[c])
		}
	}
}
