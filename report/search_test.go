package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

const searchYAML = `name: searched
dataset: {path: photos, min_images_per_class: 2, test: 0.5, val: 0.2}
backbone: {name: mobilefacenet}
search:
  trials: 6
  space:
    train.lr: {loguniform: [1e-4, 1e-1]}
    head.type: {choice: [dense, cosine]}
prune: {method: asha}
confirm: {top: 2, seeds: 2}
seeds: [1]
`

// searchDraw is a draw of the fixture: its point, validation accuracy,
// whether it was pruned after epoch 1, and how many of the 4 test photos
// it gets right.
type searchDraw struct {
	lr, head float64
	val      float64
	pruned   bool
	right    int
}

// Draw 3 is best on validation, draw 2 on test: the search must go by
// validation.
var searchDraws = []searchDraw{
	{0.001, 0, 0.5, false, 2},
	{0.05, 1, 0.6, false, 4},
	{0.003, 0, 0.8, false, 3},
	{0.0002, 1, 0.2, true, 0},
	{0.01, 0, 0.7, false, 2},
	{0.09, 1, 0.1, true, 0},
}

func newSearchFixture(t *testing.T) *results.Store {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "searched.yaml")
	if err := os.WriteFile(file, []byte(searchYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := results.Open(filepath.Join(dir, "runs", "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	id, err := st.PutExperiment(ctx, results.Experiment{Name: "searched", File: file, ConfigYAML: searchYAML})
	if err != nil {
		t.Fatal(err)
	}
	key := func(n int) (string, string) {
		d := searchDraws[n]
		head := []string{"dense", "cosine"}[int(d.head)]
		return fmt.Sprintf("#%d head.type=%s, train.lr=%g", n+1, head, d.lr), fmt.Sprintf(`{"head.type":%q,"train.lr":%g}`, head, d.lr)
	}
	finish := func(tr *results.Trial, worker string, d searchDraw) {
		t.Helper()
		eps := []results.Epoch{{Epoch: 1, ValAccuracy: d.val / 2, ValLoss: 1}}
		o := results.Outcome{Pruned: d.pruned, Epochs: eps, BestEpoch: 1, StoppedEpoch: 1, FitCPUSeconds: 0.5}
		if !d.pruned {
			o.Epochs = append(eps, results.Epoch{Epoch: 2, ValAccuracy: d.val, ValLoss: 0.5}, results.Epoch{Epoch: 3, ValAccuracy: d.val - 0.05, ValLoss: 0.6})
			o.BestEpoch, o.StoppedEpoch, o.FitCPUSeconds = 2, 3, 2
			o.Classes, o.Report, o.Predictions = searchOutcome(t, d.right)
		}
		if err := st.Finish(ctx, tr.ID, worker, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range searchDraws {
		tr, _, err := st.DrawSample(ctx, id, "study", 6, "w", func(n int, _ []results.SampleOutcome) (results.Trial, []float64, error) {
			k, js := key(n)
			return results.Trial{Hash: fmt.Sprintf("d%063d", n), Index: n, Seed: 1, VariantKey: k, VariantJSON: js, ConfigJSON: "{}"},
				[]float64{d.head, d.lr}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		finish(tr, "w", d)
	}
	// The best two on validation, draws 3 and 5, each re-run with seeds 2 and 3.
	var cs []results.Confirmation
	for rank, n := range []int{2, 4} {
		for _, seed := range []int64{2, 3} {
			k, js := key(n)
			cs = append(cs, results.Confirmation{Sample: n, Rank: rank + 1, Trial: results.Trial{
				Hash: fmt.Sprintf("c%d%062d", n, seed), Index: 6 + rank*2 + int(seed) - 2, Seed: seed, VariantKey: k, VariantJSON: js, ConfigJSON: "{}"}})
		}
	}
	if _, err := st.RegisterConfirmations(ctx, id, "study", cs); err != nil {
		t.Fatal(err)
	}
	for range cs {
		tr, err := st.Claim(ctx, id, "w", time.Minute, 1)
		if err != nil || tr == nil {
			t.Fatal(tr, err)
		}
		right := 4
		if strings.HasPrefix(tr.VariantKey, "#5") {
			right = 1
		}
		finish(tr, "w", searchDraw{val: 0.7, right: right})
	}
	return st
}

// searchOutcome is a test report of 4 photos of 2 dogs, right of them right.
func searchOutcome(t *testing.T, right int) ([]string, metrics.Report, []results.Prediction) {
	t.Helper()
	classes := []string{"rex", "bella"}
	labels := []int{0, 0, 1, 1}
	var probs [][]float32
	var preds []results.Prediction
	for j, y := range labels {
		pred := y
		if j >= right {
			pred = 1 - y
		}
		p := []float32{0.2, 0.2}
		p[pred] = 0.8
		probs = append(probs, p)
		preds = append(preds, results.Prediction{Photo: fmt.Sprintf("p%d.png", j), True: y, Pred: pred,
			TopK: []results.ClassScore{{Class: pred, Score: 0.8}}})
	}
	rep, err := metrics.Evaluate(labels, probs, classes)
	if err != nil {
		t.Fatal(err)
	}
	return classes, rep, preds
}

func TestSearchReport(t *testing.T) {
	st := newSearchFixture(t)
	d, err := Gather(context.Background(), st, "searched")
	if err != nil {
		t.Fatal(err)
	}
	c := d.Search
	if c == nil {
		t.Fatal("no search card")
	}
	if c.Complete != 4 || c.Pruned != 2 || c.CompleteCPU != 8 || c.PrunedCPU != 1 || len(c.Studies) != 1 || len(c.Studies[0].Draws) != 6 {
		t.Errorf("card: %d complete (%g s), %d pruned (%g s), studies %+v", c.Complete, c.CompleteCPU, c.Pruned, c.PrunedCPU, c.Studies)
	}
	best := c.Studies[0].Best
	if best == nil || best.Drawn != 3 || best.Value != 0.8 || best.Epoch != 2 || best.FitCPU != 2+2+2 {
		t.Errorf("best draw %+v, want #3 at 0.8, epoch 2, found after 6 s", best)
	}
	if d.Best == nil || !strings.HasPrefix(d.Best.VariantKey, "#3 ") {
		t.Errorf("report's best trial %+v, want the search's choice #3", d.Best)
	}
	if v := d.Verdicts; v == nil || !v.Confirm || len(v.Rows) != 2 || !strings.HasPrefix(v.Reference, "#3 ") || v.Rows[1].Pairs != 2 {
		t.Fatalf("verdicts %+v, want draw 5's re-runs against draw 3's on 2 seeds", v)
	}
	out := t.TempDir()
	md, html, err := Write(d, out, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	text := string(page)
	for _, want := range []string{
		"Trials: 10 (8 done, 2 pruned)",
		"## Search\n\nA tpe search on val_accuracy: 6 draws over 1 seed; asha stopped 2 of them early (33%), which took 11% of the heads' fit CPU time.",
		"| 1 | 6 | 2 | #3 head.type=dense, train.lr=0.003 | 0.8000 | 2 | 0.750 | 6.0 s |",
		"![Each draw in the order it was made", "(search_history.png)", "(search_slices.png)", "(search_parallel.png)",
		"## Confirmation of the search's best settings",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report.md lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Variants ranked by mean test accuracy") {
		t.Error("a search's report ranks its draws by test accuracy")
	}
	for _, f := range []string{"search_history.png", "search_slices.png", "search_parallel.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if h, err := os.ReadFile(html); err != nil || !strings.Contains(string(h), `<section id="search">`) {
		t.Errorf("report.html has no search section (%v)", err)
	}
}
