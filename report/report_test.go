package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

// storeWith writes an experiment whose two variants have known test accuracies
// per seed: dropout=0.5 gets 3/4 and 4/4, dropout=0 gets 1/4 and 2/4.
func storeWith(t *testing.T) *results.Store {
	t.Helper()
	ctx := context.Background()
	st, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	id, err := st.PutExperiment(ctx, results.Experiment{Name: "toy", File: "toy.yaml", ConfigYAML: "name: toy\n", DatasetFingerprint: "fp"})
	if err != nil {
		t.Fatal(err)
	}
	type spec struct {
		variant string
		seed    int64
		correct int
	}
	specs := []spec{{"head.dropout=0", 1, 1}, {"head.dropout=0", 2, 2}, {"head.dropout=0.5", 1, 3}, {"head.dropout=0.5", 2, 4}}
	var trials []results.Trial
	for i, s := range specs {
		trials = append(trials, results.Trial{Hash: fmt.Sprintf("%064d", i), Index: i, Seed: s.seed, VariantKey: s.variant,
			VariantJSON: "{}", ConfigJSON: `{"train":{"epochs":10}}`})
	}
	if _, err := st.RegisterTrials(ctx, id, trials); err != nil {
		t.Fatal(err)
	}
	classes := []string{"a", "b"}
	for _, s := range specs {
		tr, err := st.Claim(ctx, id, "w", time.Minute, 1)
		if err != nil || tr == nil {
			t.Fatal(tr, err)
		}
		labels := []int{0, 0, 1, 1}
		var probs [][]float32
		for i, y := range labels {
			p := []float32{0.2, 0.2}
			if i < s.correct {
				p[y] = 0.8
			} else {
				p[1-y] = 0.8
			}
			probs = append(probs, p)
		}
		rep, err := metrics.Evaluate(labels, probs, classes)
		if err != nil {
			t.Fatal(err)
		}
		err = st.Finish(ctx, tr.ID, "w", results.Outcome{
			Epochs:    []results.Epoch{{Epoch: 1, TrainLoss: 1, ValLoss: 1.2, TrainAccuracy: .5, ValAccuracy: .4}, {Epoch: 2, TrainLoss: .5, ValLoss: 1, TrainAccuracy: .8, ValAccuracy: .6}},
			BestEpoch: 2, StoppedEpoch: 2, Classes: classes, Report: rep,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestGatherRanksVariantsByMeanAccuracy(t *testing.T) {
	d, err := Gather(context.Background(), storeWith(t), "toy")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range d.Variants {
		got = append(got, fmt.Sprintf("%s %.3f n=%d", v.Key, v.Accuracy.Mean, v.Done))
	}
	want := []string{"head.dropout=0.5 0.875 n=2", "head.dropout=0 0.375 n=2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ranking (-want +got):\n%s", diff)
	}
	if d.Best == nil || d.Best.Index != 3 {
		t.Errorf("best trial %+v, want index 3 (4/4 correct)", d.Best)
	}
}

func TestWriteProducesSelfContainedHTMLAndMarkdown(t *testing.T) {
	d, err := Gather(context.Background(), storeWith(t), "toy")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	md, html, err := Write(d, dir, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	mdText, _ := os.ReadFile(md)
	htmlText, _ := os.ReadFile(html)
	for _, want := range []string{
		"| 1 | head.dropout=0.5 | 2/2 | 0.875 [0.000, 1.000] |", // t interval of {0.75, 1} cut to [0, 1]
		"| 2 | head.dropout=0 | 2/2 | 0.375 [0.000, 1.000] |",
		"![", "variants.png", "learning_curve.png", "confusion.png", "Generated 2026-01-02T03:04:05Z",
	} {
		if !strings.Contains(string(mdText), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// Variants, validation curves, best curve, class F1, heatmap; no axis
	// chart, as the stored variants name no swept setting.
	main, trials, _ := strings.Cut(string(htmlText), `<section id="trials">`)
	imgRE := regexp.MustCompile(`<img class="chart" src="([^"]*)"`)
	imgs := imgRE.FindAllStringSubmatch(main, -1)
	if len(imgs) != 5 {
		t.Fatalf("HTML has %d charts before the trials, want 5", len(imgs))
	}
	// Every trial's page is in the one file, with its pictures, and the
	// trial table links to it there.
	for _, tr := range d.Trials {
		id := fmt.Sprintf("trial-%d", tr.Index+1)
		if !strings.Contains(trials, `<details class="trial" id="`+id+`">`) || !strings.Contains(trials, `href="#`+id+`"`) {
			t.Errorf("report.html does not carry the page of %s", id)
		}
	}
	if n := len(imgRE.FindAllStringSubmatch(trials, -1)); n != 3*len(d.Metrics) {
		t.Errorf("the embedded trial pages have %d charts, want 3 for each of %d done trials", n, len(d.Metrics))
	}
	imgs = append(imgs, imgRE.FindAllStringSubmatch(trials, -1)...)
	for _, m := range imgs {
		if !strings.HasPrefix(m[1], "data:image/png;base64,") {
			t.Errorf("HTML image %.40q is not embedded", m[1])
		}
	}
	// This experiment file does not decode, so there is no photo folder:
	// the dogs are listed without photos rather than failing the report.
	if !strings.Contains(string(htmlText), "photo not found") {
		t.Errorf("HTML does not say a photo was not found")
	}
	for _, name := range []string{"variants.png", "learning_curve.png", "confusion.png"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s next to the Markdown: %v", name, err)
		}
	}
}

func TestGatherUnknownExperiment(t *testing.T) {
	_, err := Gather(context.Background(), storeWith(t), "nope")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v, want an error naming the experiment", err)
	}
}

// TestEmbedKeepsReportMailable: report.html carries trial pages while their
// pictures fit embedBudget; it links to the others' files and says that
// it does not carry them.
func TestEmbedKeepsReportMailable(t *testing.T) {
	big := &figure{PNG: make([]byte, embedBudget/2+1)}
	var pages []*trialView
	v := &view{Data: &Data{}, VariantLinks: map[string][]trialLink{}}
	for i := range 3 {
		tr := results.Trial{Hash: fmt.Sprintf("%02x%062d", i, i), Index: i, Seed: int64(i), VariantKey: "x=1", Status: results.StatusDone}
		v.Trials = append(v.Trials, tr)
		v.Rows = append(v.Rows, trialRow{Number: i + 1, Dir: trialDir(tr)})
		v.VariantLinks["x=1"] = append(v.VariantLinks["x=1"], trialLink{Seed: tr.Seed, Dir: trialDir(tr)})
		pages = append(pages, &trialView{Trial: tr, Row: v.Rows[i], Curve: big})
	}
	v.embed(pages)
	if len(v.Embedded) != 1 || v.Separate != 2 {
		t.Fatalf("embedded %d pages, %d separate; want 1 and 2", len(v.Embedded), v.Separate)
	}
	for i, tr := range v.Trials {
		want := trialDir(tr) + "/index.html"
		if i == 0 {
			want = "#trial-1"
		}
		if v.Rows[i].Href != want || v.VariantLinks["x=1"][i].Href != want {
			t.Errorf("trial %d links to %q and %q, want %q", i+1, v.Rows[i].Href, v.VariantLinks["x=1"][i].Href, want)
		}
	}
	p, err := mainPage()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := p.html.Execute(&b, v); err != nil {
		t.Fatal(err)
	}
	if want := "the first 1 are in this file, below the table; the other 2 are <strong>separate files</strong>"; !strings.Contains(b.String(), want) {
		t.Errorf("report.html does not say %q", want)
	}
}
