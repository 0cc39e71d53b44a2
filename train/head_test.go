package train

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// blobs makes classes Gaussian clusters around random centres in dim dimensions.
func blobs(seed uint64, classes, perClass, dim int, spread float32) Data {
	rng := rand.New(rand.NewPCG(seed, 1))
	centres := make([]float32, classes*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64())
	}
	d := Data{Dim: dim}
	for c := 0; c < classes; c++ {
		for k := 0; k < perClass; k++ {
			for j := 0; j < dim; j++ {
				d.X = append(d.X, centres[c*dim+j]+spread*float32(rng.NormFloat64()))
			}
			d.Y = append(d.Y, int32(c))
		}
	}
	return d
}

func testConfig() Config {
	return Config{Hidden: []int{16}, Activation: "relu", Optimizer: "adam", LR: 0.01,
		BatchSize: 16, Epochs: 30, Monitor: "val_loss", Patience: 5, Seed: 7}
}

func TestFitLearnsSeparableClasses(t *testing.T) {
	trainSet, valSet := blobs(1, 4, 40, 8, 0.3), blobs(1, 4, 10, 8, 0.3)
	h, res, err := Fit(context.Background(), testConfig(), trainSet, valSet, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	probs, err := h.Predict(valSet)
	if err != nil {
		t.Fatal(err)
	}
	_, acc := LossAndAccuracy(probs, valSet.Y, 4)
	if acc < 0.95 {
		t.Errorf("validation accuracy %.3f, want >= 0.95 on well separated blobs", acc)
	}
	first, last := res.Epochs[0], res.Epochs[len(res.Epochs)-1]
	if last.TrainLoss >= first.TrainLoss {
		t.Errorf("training loss did not fall: %.4f -> %.4f", first.TrainLoss, last.TrainLoss)
	}
	// The head must hold the best epoch's weights: its validation loss is the one recorded there.
	loss, _ := LossAndAccuracy(probs, valSet.Y, 4)
	if want := res.Epochs[res.BestEpoch-1].ValLoss; diff(loss, want) > 1e-5 {
		t.Errorf("restored head has val loss %.6f, best epoch %d recorded %.6f", loss, res.BestEpoch, want)
	}
}

func diff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestFitIsDeterministic(t *testing.T) {
	trainSet, valSet := blobs(2, 3, 30, 6, 1.0), blobs(2, 3, 10, 6, 1.0)
	cfg := testConfig()
	cfg.Dropout = 0.3
	cfg.Epochs = 5
	run := func() ([][]float32, []Epoch) {
		h, res, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := h.Predict(valSet)
		if err != nil {
			t.Fatal(err)
		}
		for i := range res.Epochs {
			res.Epochs[i].Seconds = 0
		}
		return p, res.Epochs
	}
	p1, e1 := run()
	p2, e2 := run()
	if d := cmp.Diff(e1, e2); d != "" {
		t.Errorf("epochs differ between runs with one seed (-first +second):\n%s", d)
	}
	if d := cmp.Diff(p1, p2); d != "" {
		t.Errorf("predictions differ between runs with one seed:\n%s", d)
	}
	cfg.Seed++
	h3, _, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	p3, _ := h3.Predict(valSet)
	if cmp.Equal(p1, p3) {
		t.Error("another seed gave identical predictions")
	}
}

func TestEarlyStoppingStopsAfterPatience(t *testing.T) {
	// Labels are noise: validation loss stops improving almost at once.
	trainSet := blobs(3, 3, 30, 6, 1.0)
	valSet := blobs(4, 3, 10, 6, 1.0)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range trainSet.Y {
		trainSet.Y[i] = int32(rng.IntN(3))
	}
	cfg := testConfig()
	cfg.Hidden = []int{64}
	cfg.LR = 0.05
	cfg.Epochs = 200
	cfg.Patience = 3
	_, res, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StoppedEpoch == cfg.Epochs {
		t.Fatalf("ran all %d epochs; early stopping never fired", cfg.Epochs)
	}
	if got := res.StoppedEpoch - res.BestEpoch; got != cfg.Patience {
		t.Errorf("stopped %d epochs after the best, want patience %d", got, cfg.Patience)
	}
}

func TestHugeLearningRateIsReportedNotTrained(t *testing.T) {
	cfg := testConfig()
	cfg.LR = 1e9
	cfg.Optimizer = "sgd"
	_, _, err := Fit(context.Background(), cfg, blobs(5, 3, 20, 6, 1), blobs(5, 3, 5, 6, 1), 3, nil)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("got %v, want ErrNonFinite", err)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	trainSet, valSet := blobs(6, 3, 20, 5, 0.5), blobs(6, 3, 5, 5, 0.5)
	cfg := testConfig()
	cfg.Epochs = 3
	h, _, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	loaded := reloaded(t, h)
	want, _ := h.Predict(valSet)
	got, err := loaded.Predict(valSet)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("loaded head predicts differently (-saved +loaded):\n%s", d)
	}
	if d := cmp.Diff(h.Config, loaded.Config); d != "" {
		t.Errorf("config changed:\n%s", d)
	}
}

func TestWeightDecayShrinksWeights(t *testing.T) {
	trainSet, valSet := blobs(8, 3, 30, 6, 0.5), blobs(8, 3, 10, 6, 0.5)
	norm := func(decay float64) float64 {
		cfg := testConfig()
		cfg.Epochs, cfg.Patience, cfg.WeightDecay = 20, 0, decay
		h, _, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := h.weights()
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, v := range w {
			for _, x := range v {
				sum += float64(x) * float64(x)
			}
		}
		return sum
	}
	if plain, decayed := norm(0), norm(0.5); decayed >= plain {
		t.Errorf("weight decay 0.5 left squared weight norm %.3f >= %.3f without decay", decayed, plain)
	}
	cfg := testConfig()
	cfg.Optimizer, cfg.WeightDecay = "sgd", 0.1
	if _, _, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil); err == nil {
		t.Error("sgd with weight decay trained instead of failing")
	}
}

// reloaded saves h as a checkpoint and loads it back.
func reloaded(t *testing.T, h *Head) *Head {
	t.Helper()
	dir := t.TempDir()
	if err := h.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

// TestLogitsAreWhatSoftmaxTurnsIntoPredict checks that Logits gives the
// outputs Predict normalises, their scale kept: softmax of a trained head's
// logits is its probabilities, and the logits are not probabilities.
func TestLogitsAreWhatSoftmaxTurnsIntoPredict(t *testing.T) {
	for _, typ := range []string{"", "cosine"} {
		trainSet, valSet := blobs(3, 3, 30, 6, 0.5), blobs(3, 3, 10, 6, 0.5)
		cfg := testConfig()
		cfg.Type = typ
		h, _, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		probs, err := h.Predict(valSet)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := h.Logits(valSet)
		if err != nil {
			t.Fatal(err)
		}
		outside := false
		for r, row := range logits {
			for _, v := range row {
				outside = outside || v < 0 || v > 1
			}
			soft := append([]float32(nil), row...)
			Probabilities(soft)
			for c, p := range soft {
				if diff(float64(p), float64(probs[r][c])) > 1e-6 {
					t.Fatalf("%q head, row %d: softmax of the logits %v is %v, Predict gave %v", typ, r, row, soft, probs[r])
				}
			}
		}
		if !outside {
			t.Errorf("%q head: every logit lies in [0, 1]; Logits returned probabilities", typ)
		}
	}
}
