package train

import (
	"context"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Rows (3, 4 | 1) and (0, 0 | 2) in blocks of 2 and 1. L2 per block gives
// (0.6, 0.8 | 1) and (0, 0 | 1): the zero block stays zero. Standardising
// over those two rows: means (0.3, 0.4, 1), population standard deviations
// (0.3, 0.4, 0 -> 1 for a constant dimension).
func TestPrepL2PerBlockThenStandardize(t *testing.T) {
	d := Data{X: []float32{3, 4, 1, 0, 0, 2}, Dim: 3, Y: []int32{0, 1}, Blocks: []int{2, 1}}
	p, err := fitPrep("l2+standardize", d)
	if err != nil {
		t.Fatal(err)
	}
	approx := cmpopts.EquateApprox(0, 1e-6)
	if diff := cmp.Diff([]float32{0.3, 0.4, 1}, p.Mean, approx); diff != "" {
		t.Errorf("mean (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float32{0.3, 0.4, 1}, p.Std, approx); diff != "" {
		t.Errorf("std (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float32{1, 1, 0, -1, -1, 0}, p.apply(d.X, 3), approx); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float32{3, 4, 1, 0, 0, 2}, d.X); diff != "" {
		t.Errorf("apply changed its input (-want +got):\n%s", diff)
	}
	// Plain l2 over one block: (3, 4, 1)/sqrt(26).
	l2, err := fitPrep("l2", Data{X: []float32{3, 4, 1}, Dim: 3, Y: []int32{0}})
	if err != nil {
		t.Fatal(err)
	}
	r := float32(math.Sqrt(26))
	if diff := cmp.Diff([]float32{3 / r, 4 / r, 1 / r}, l2.apply([]float32{3, 4, 1}, 3), approx); diff != "" {
		t.Errorf("l2 (-want +got):\n%s", diff)
	}
	if p, _ := fitPrep("none", d); p != nil {
		t.Errorf("none fitted %+v, want nil", p)
	}
	if _, err := fitPrep("l2", Data{X: []float32{1, 2, 3}, Dim: 3, Y: []int32{0}, Blocks: []int{2, 2}}); err == nil {
		t.Error("blocks of 4 features for 3 accepted")
	}
}

// Rows 0-2 come from photo 7, rows 3-4 from photo 2, row 5 from photo 7 again.
func TestRowSourcesGroupsByPhoto(t *testing.T) {
	d := Data{X: make([]float32, 6), Dim: 1, Y: make([]int32, 6), Source: []int32{7, 7, 7, 2, 2, 7}}
	if diff := cmp.Diff([][]int{{0, 1, 2, 5}, {3, 4}}, rowSources(d, true)); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	if got := rowSources(d, false); got != nil {
		t.Errorf("without mix: %v, want nil", got)
	}
}

// A cosine head without hidden layers scores s·cos(x, w_c): scaling a row
// changes nothing, and its probabilities are the softmax of the scaled
// cosines computed here from its own weights.
func TestCosineHead(t *testing.T) {
	trainSet, valSet := blobs(3, 3, 20, 4, 0.3), blobs(3, 3, 5, 4, 0.3)
	cfg := testConfig()
	cfg.Hidden, cfg.Type, cfg.Epochs = nil, "cosine", 5
	h, _, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := h.weights()
	if err != nil {
		t.Fatal(err)
	}
	W, logS := w["/logits/weights"], w["/logits/log_scale"]
	if len(W) != 4*3 || len(logS) != 1 {
		t.Fatalf("weights %v", w)
	}
	if _, ok := w["/logits/biases"]; ok {
		t.Error("cosine head has biases")
	}
	row := valSet.X[:4]
	scaled := make([]float32, 4)
	for j, x := range row {
		scaled[j] = 5 * x
	}
	probs, err := h.Predict(Data{X: append(append([]float32{}, row...), scaled...), Dim: 4})
	if err != nil {
		t.Fatal(err)
	}
	approx := cmpopts.EquateApprox(0, 1e-5)
	if diff := cmp.Diff(probs[0], probs[1], approx); diff != "" {
		t.Errorf("scaling the input changed the output (-x +5x):\n%s", diff)
	}
	norm := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s)
	}
	x := make([]float64, 4)
	for j := range x {
		x[j] = float64(row[j])
	}
	logits := make([]float64, 3)
	var z float64
	for c := range logits {
		col := []float64{float64(W[0*3+c]), float64(W[1*3+c]), float64(W[2*3+c]), float64(W[3*3+c])}
		dot := 0.0
		for j := range x {
			dot += x[j] * col[j]
		}
		logits[c] = math.Exp(float64(logS[0])) * dot / (norm(x) * norm(col))
		z += math.Exp(logits[c])
	}
	want := make([]float32, 3)
	for c := range want {
		want[c] = float32(math.Exp(logits[c]) / z)
	}
	if diff := cmp.Diff(want, probs[0], approx); diff != "" {
		t.Errorf("probabilities (-softmax(s·cos) +head):\n%s", diff)
	}
}

// A head with standardisation keeps it in its checkpoint: the loaded head
// predicts what the trained one did.
func TestCheckpointKeepsPrep(t *testing.T) {
	trainSet, valSet := blobs(4, 3, 20, 4, 0.3), blobs(4, 3, 5, 4, 0.3)
	for i := range trainSet.X {
		trainSet.X[i] = 50 + 10*trainSet.X[i] // far from mean 0, variance 1
	}
	for i := range valSet.X {
		valSet.X[i] = 50 + 10*valSet.X[i]
	}
	cfg := testConfig()
	cfg.Normalize, cfg.Epochs, cfg.Mix = "standardize", 3, true
	trainSet.Source = make([]int32, trainSet.Rows())
	for i := range trainSet.Source {
		trainSet.Source[i] = int32(i / 2) // pairs of rows as a photo and its view
	}
	h, _, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.prep == nil || len(h.prep.Mean) != 4 {
		t.Fatalf("prep %+v, want a standardisation of 4 features", h.prep)
	}
	loaded := reloaded(t, h)
	a, err := h.Predict(valSet)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loaded.Predict(valSet)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("loaded head predicts differently (-trained +loaded):\n%s", diff)
	}
}
