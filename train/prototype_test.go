package train

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Two dogs of two training rows each: dog 0 at (1, 0) and (1, 0.2), dog 1
// at (0, 1) and (0.2, 1), so their prototypes are (1, 0.1) and (0.1, 1). A
// validation row is (0.9, 0.3), of dog 0.
func TestPrototypeHeadByHand(t *testing.T) {
	trainSet := Data{X: []float32{1, 0, 1, 0.2, 0, 1, 0.2, 1}, Y: []int32{0, 0, 1, 1}, Dim: 2}
	valSet := Data{X: []float32{0.9, 0.3, 0.2, 0.8}, Y: []int32{0, 1}, Dim: 2}
	cfg := testConfig()
	cfg.Hidden, cfg.Type = nil, Prototype
	var seen []Epoch
	h, res, err := Fit(t.Context(), cfg, trainSet, valSet, 2, func(e Epoch) { seen = append(seen, e) })
	if err != nil {
		t.Fatal(err)
	}
	if res.BestEpoch != 1 || res.StoppedEpoch != 1 || len(res.Epochs) != 1 || len(seen) != 1 {
		t.Fatalf("result %+v, %d epochs seen; want one epoch, the best", res, len(seen))
	}
	w, err := h.weights()
	if err != nil {
		t.Fatal(err)
	}
	approx := cmpopts.EquateApprox(0, 1e-6)
	// Weights are dim x classes: row j holds feature j of each prototype.
	if diff := cmp.Diff([]float32{1, 0.1, 0.1, 1}, w["/logits/weights"], approx); diff != "" {
		t.Errorf("prototypes (-want +got):\n%s", diff)
	}
	s := math.Exp(float64(w["/logits/log_scale"][0]))
	cosOf := func(x, m [2]float64) float64 {
		return (x[0]*m[0] + x[1]*m[1]) / math.Hypot(x[0], x[1]) / math.Hypot(m[0], m[1])
	}
	m := [2][2]float64{{1, 0.1}, {0.1, 1}}
	x := [2]float64{0.9, 0.3}
	l0, l1 := s*cosOf(x, m[0]), s*cosOf(x, m[1])
	p0 := 1 / (1 + math.Exp(l1-l0))
	probs, err := h.Predict(Data{X: []float32{0.9, 0.3}, Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(probs[0][0])-p0) > 1e-5 {
		t.Errorf("P(dog 0) = %g, want softmax(s·cos) = %g at s = %g", probs[0][0], p0, s)
	}
	// The scale is the grid's best for the validation loss.
	cos := cosines(h.net, valSet)
	best := scaledLoss(cos, valSet.Y, 2, s)
	for _, other := range scaleGrid() {
		if l := scaledLoss(cos, valSet.Y, 2, other); l < best-1e-9 {
			t.Errorf("scale %g has validation loss %g, below the chosen %g's %g", other, l, s, best)
		}
	}
	if e := res.Epochs[0]; e.ValAccuracy != 1 || e.TrainAccuracy != 1 || math.Abs(e.ValLoss-best) > 1e-5 {
		t.Errorf("epoch %+v: want accuracies 1 and validation loss %g", e, best)
	}
	loaded := reloaded(t, h)
	again, err := loaded.Predict(Data{X: []float32{0.9, 0.3}, Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(probs, again); diff != "" {
		t.Errorf("loaded prototype head predicts differently:\n%s", diff)
	}
	bad := cfg
	bad.Hidden = []int{4}
	if _, _, err := Fit(t.Context(), bad, trainSet, valSet, 2, nil); err == nil {
		t.Error("a prototype head with a hidden layer trained")
	}
}

// A cosine+prototype head predicts the mean of its trained cosine layer's
// probabilities and its prototype layer's; its last epoch record is that
// mean's; a checkpoint and Grad-CAM's graph view give the same.
func TestCosinePlusPrototypeHead(t *testing.T) {
	trainSet, valSet := blobs(61, 3, 20, 6, 0.8), blobs(62, 3, 6, 6, 0.8)
	cfg := testConfig()
	cfg.Hidden, cfg.Type, cfg.Normalize, cfg.Epochs = nil, CosinePrototype, "l2", 8
	h, res, err := Fit(t.Context(), cfg, trainSet, valSet, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.proto == nil {
		t.Fatal("no prototype layer")
	}
	last := res.Epochs[len(res.Epochs)-1]
	if res.BestEpoch != last.Epoch || res.StoppedEpoch != last.Epoch || last.Epoch != res.Epochs[len(res.Epochs)-2].Epoch+1 {
		t.Fatalf("best %d, stopped %d, last record %d: the averaged record must close the epochs and be the best", res.BestEpoch, res.StoppedEpoch, last.Epoch)
	}
	got, err := h.Predict(valSet)
	if err != nil {
		t.Fatal(err)
	}
	rows := Data{X: h.prep.apply(valSet.X, valSet.Dim), Dim: valSet.Dim}
	a, b := probabilities(h.net, rows), probabilities(h.proto, rows)
	for r := range got {
		for c := range got[r] {
			if want := (a[r][c] + b[r][c]) / 2; math.Abs(float64(got[r][c]-want)) > 1e-6 {
				t.Fatalf("row %d class %d: %g, want the mean of %g and %g", r, c, got[r][c], a[r][c], b[r][c])
			}
		}
	}
	loss, acc := LossAndAccuracy(got, valSet.Y, 3)
	if math.Abs(loss-last.ValLoss) > 1e-5 || acc != last.ValAccuracy {
		t.Errorf("last record %+v, the averaged head scores loss %g accuracy %g", last, loss, acc)
	}
	again, err := reloaded(t, h).Predict(valSet)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("loaded head predicts differently:\n%s", diff)
	}
	exec, err := h.NewExec(func(logits func(*Node) *Node, in []*Node) []*Node {
		return []*Node{Softmax(logits(in[0]), -1)}
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(valSet.X, valSet.Rows(), valSet.Dim))
	if err != nil {
		t.Fatal(err)
	}
	graph := tensors.MustCopyFlatData[float32](out[0])
	for r, row := range got {
		for c, p := range row {
			if g := graph[r*3+c]; math.Abs(float64(g-p)) > 1e-5 {
				t.Fatalf("row %d class %d: graph %g, native %g", r, c, g, p)
			}
		}
	}
}

// Two blocks of two features: block A tells the dogs apart on training and
// validation rows alike; block B does on the training rows but points to
// the other dog on the validation rows. With equal weights each validation
// row is a tie; validation must drop B and keep A.
func TestBlockWeightsChosenOnValidation(t *testing.T) {
	trainSet := Data{Dim: 4, Blocks: []int{2, 2},
		X: []float32{1, 0, 1, 0, 0.9, 0.1, 1, 0, 0, 1, 0, 1, 0.1, 0.9, 0, 1},
		Y: []int32{0, 0, 1, 1}}
	valSet := Data{Dim: 4, Blocks: []int{2, 2},
		X: []float32{1, 0.1, 0, 1, 0.1, 1, 1, 0},
		Y: []int32{0, 1}}
	cfg := testConfig()
	cfg.Hidden, cfg.Type, cfg.Normalize, cfg.BlockWeights = nil, Prototype, "l2", "validation"
	h, res, err := Fit(t.Context(), cfg, trainSet, valSet, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{1, 0}, h.prep.Weights); diff != "" {
		t.Errorf("block weights (-want +got):\n%s", diff)
	}
	if res.Epochs[0].ValAccuracy != 1 {
		t.Errorf("validation accuracy %g with the chosen weights, want 1", res.Epochs[0].ValAccuracy)
	}
	equal := cfg
	equal.BlockWeights = "equal"
	_, res, err = Fit(t.Context(), equal, trainSet, valSet, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Epochs[0].ValAccuracy == 1 {
		t.Error("equal weights already separate the validation rows: the case tests nothing")
	}
	// The weights are part of the head: a loaded head applies them.
	probs, _ := h.Predict(valSet)
	again, err := reloaded(t, h).Predict(valSet)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(probs, again); diff != "" {
		t.Errorf("loaded head predicts differently:\n%s", diff)
	}
	standardized := cfg
	standardized.Normalize = "l2+standardize"
	if _, _, err := Fit(t.Context(), standardized, trainSet, valSet, 2, nil); err == nil {
		t.Error("block weights under standardisation accepted")
	}
}
