package train

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fitted is what a trial leaves: its epochs (times aside), weights and
// validation predictions.
type fitted struct {
	Result  Result
	Weights map[string][]float32
	Probs   [][]float32
	Err     error
}

func outcomeOf(t *testing.T, h *Head, res Result, err error, val Data) fitted {
	t.Helper()
	for i := range res.Epochs {
		res.Epochs[i].Seconds = 0
	}
	f := fitted{Result: res, Err: err}
	if err != nil {
		return f
	}
	var werr, perr error
	f.Weights, werr = h.weights()
	f.Probs, perr = h.Predict(val)
	if werr != nil || perr != nil {
		t.Fatal(werr, perr)
	}
	return f
}

// fitAll trains cfgs together on two threads and returns each trial's outcome.
func fitAll(t *testing.T, cfgs []Config, trainSet, valSet Data, classes int) []fitted {
	t.Helper()
	out := make([]fitted, len(cfgs))
	seen := make([]int, len(cfgs))
	FitMany(context.Background(), cfgs, trainSet, valSet, classes, 2, nil, func(i int, o Outcome) {
		seen[i]++
		out[i] = outcomeOf(t, o.Head, o.Result, o.Err, valSet)
	})
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("trial %d finished %d times", i, n)
		}
	}
	return out
}

// A small sweep, the common kind: seeds, dropout rates, learning rates and
// weight decay over the same rows, plus a cosine head and one with
// standardised features. Trained together on two threads, each trial must
// be bit for bit what it is trained alone.
func TestFitManyEqualsAlone(t *testing.T) {
	trainSet, valSet := blobs(21, 4, 25, 12, 1.2), blobs(22, 4, 6, 12, 1.2)
	base := testConfig()
	base.Hidden, base.Epochs, base.Patience = []int{24, 8}, 8, 3
	var cfgs []Config
	for _, seed := range []int64{1, 2} {
		for _, drop := range []float64{0, 0.5} {
			c := base
			c.Seed, c.Dropout = seed, drop
			cfgs = append(cfgs, c)
		}
	}
	lr, wd, cos, std := base, base, base, base
	lr.LR = 0.003
	wd.WeightDecay = 0.01
	cos.Type = "cosine"
	std.Normalize = "l2+standardize"
	cfgs = append(cfgs, lr, wd, cos, std)

	together := fitAll(t, cfgs, trainSet, valSet, 4)
	for i, cfg := range cfgs {
		h, res, err := Fit(context.Background(), cfg, trainSet, valSet, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		alone := outcomeOf(t, h, res, err, valSet)
		if d := cmp.Diff(alone, together[i]); d != "" {
			t.Errorf("trial %d (%+v) differs trained together (-alone +together):\n%s", i, cfg, d)
		}
	}
	if cmp.Equal(together[0].Weights, together[2].Weights) {
		t.Error("seeds 1 and 2 trained the same weights: the sweep's trials are not distinct")
	}
}

// Inside a batch, a trial on noise labels stops early while another runs
// all its epochs; the one that stopped holds its best epoch's weights (its
// validation loss is the one recorded at that epoch), not its last ones.
func TestFitManyStopsEachTrialOnItsOwn(t *testing.T) {
	trainSet, valSet := blobs(31, 3, 30, 6, 0.5), blobs(32, 3, 10, 6, 0.5)
	noisy := trainSet
	noisy.Y = append([]int32(nil), trainSet.Y...)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range noisy.Y {
		noisy.Y[i] = int32(rng.IntN(3))
	}
	early := testConfig()
	early.Hidden, early.LR, early.Epochs, early.Patience = []int{64}, 0.05, 60, 2
	full := early
	full.Patience, full.Epochs, full.Seed = 0, 12, 8
	out := fitAll(t, []Config{early, full}, noisy, valSet, 3)
	stopped := out[0].Result
	if stopped.StoppedEpoch >= early.Epochs || stopped.StoppedEpoch-stopped.BestEpoch != early.Patience {
		t.Fatalf("early trial stopped at %d (best %d) of %d, want patience %d after its best", stopped.StoppedEpoch, stopped.BestEpoch, early.Epochs, early.Patience)
	}
	if got := out[1].Result.StoppedEpoch; got != full.Epochs {
		t.Errorf("trial without patience stopped at epoch %d of %d", got, full.Epochs)
	}
	loss, _ := LossAndAccuracy(out[0].Probs, valSet.Y, 3)
	best, last := stopped.Epochs[stopped.BestEpoch-1].ValLoss, stopped.Epochs[stopped.StoppedEpoch-1].ValLoss
	if loss != best || loss == last {
		t.Errorf("stopped trial's head has val loss %g; best epoch %d recorded %g, last epoch %g", loss, stopped.BestEpoch, best, last)
	}
}

// A learning rate that blows a trial up fails that trial only: the others in
// its batch train to the result they have alone.
func TestFitManyNonFiniteFailsOneTrial(t *testing.T) {
	trainSet, valSet := blobs(41, 3, 20, 6, 1), blobs(42, 3, 5, 6, 1)
	good := testConfig()
	good.Epochs = 6
	bad := good
	bad.Optimizer, bad.LR = "sgd", 1e9
	other := good
	other.Seed = 3
	out := fitAll(t, []Config{good, bad, other}, trainSet, valSet, 3)
	if !errors.Is(out[1].Err, ErrNonFinite) {
		t.Fatalf("blown-up trial: %v, want ErrNonFinite", out[1].Err)
	}
	for _, i := range []int{0, 2} {
		cfg := []Config{good, bad, other}[i]
		h, res, err := Fit(context.Background(), cfg, trainSet, valSet, 3, nil)
		if err != nil || out[i].Err != nil {
			t.Fatalf("trial %d: alone %v, together %v", i, err, out[i].Err)
		}
		if d := cmp.Diff(outcomeOf(t, h, res, err, valSet), out[i]); d != "" {
			t.Errorf("trial %d changed beside a failing one (-alone +together):\n%s", i, d)
		}
	}
}

// Rows that do not fit the head are refused with what is wrong, before any
// training.
func TestFitRejectsRowsThatDoNotFit(t *testing.T) {
	good, val := blobs(61, 3, 5, 4, 1), blobs(62, 3, 2, 4, 1)
	short := good
	short.Y = short.Y[:len(short.Y)-1]
	wide := val
	wide.Dim = 2
	label := good
	label.Y = append([]int32{7}, good.Y[1:]...)
	zero := testConfig()
	zero.Hidden = []int{8, 0}
	for name, tc := range map[string]struct {
		cfg        Config
		train, val Data
		want       string
	}{
		"labels":    {testConfig(), short, val, "do not make whole rows"},
		"dims":      {testConfig(), good, wide, "validation rows have 2 features, training rows 4"},
		"class":     {testConfig(), label, val, "row 0 has label 7, outside the 3 classes"},
		"no units":  {zero, good, val, "must have at least one unit"},
		"bad batch": {Config{Epochs: 1}, good, val, "batch size 0"},
	} {
		_, _, err := Fit(context.Background(), tc.cfg, tc.train, tc.val, 3, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", name, err, tc.want)
		}
	}
}
