package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

// storeDropout writes a finished experiment name to runs/dogrun.db: on 20
// test photos, dropout 0 gets photos 0-9 right in seeds 1..seeds, 0.25 swaps
// photo 0 for photo 10, and 0.5 also gets photos 10..10+seed-1 right.
func storeDropout(t *testing.T, runs, name string, seeds int) {
	t.Helper()
	ctx := context.Background()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, err := st.PutExperiment(ctx, results.Experiment{Name: name, File: name + ".yaml"})
	if err != nil {
		t.Fatal(err)
	}
	type spec struct {
		value string
		seed  int
	}
	var specs []spec
	var trials []results.Trial
	for _, v := range []string{"0", "0.25", "0.5"} {
		for seed := 1; seed <= seeds; seed++ {
			trials = append(trials, results.Trial{Hash: fmt.Sprintf("%064d", len(specs)), Index: len(specs), Seed: int64(seed),
				VariantKey: "head.dropout=" + v, VariantJSON: `{"head.dropout":` + v + `}`, ConfigJSON: `{}`})
			specs = append(specs, spec{v, seed})
		}
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
		var labels []int
		var probs [][]float32
		var preds []results.Prediction
		for i := range 20 {
			right := i < 10
			switch s.value {
			case "0.25":
				right = i >= 1 && i <= 10
			case "0.5":
				right = i < 10+s.seed
			}
			y := i % 2
			pred := y
			if !right {
				pred = 1 - y
			}
			p := []float32{0.1, 0.1}
			p[pred] = 0.9
			labels, probs = append(labels, y), append(probs, p)
			preds = append(preds, results.Prediction{Photo: fmt.Sprintf("%s/%02d.jpg", classes[y], i), True: y, Pred: pred})
		}
		rep, err := metrics.Evaluate(labels, probs, classes)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Finish(ctx, tr.ID, "w", results.Outcome{Classes: classes, Report: rep, Predictions: preds}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCompare(t *testing.T) {
	runs := t.TempDir()
	storeDropout(t, runs, "dropout", 6)
	out, _, err := dogrun(t, "compare", "dropout", "-runs", runs, "-by", "head.dropout", "-reference", "0")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compare_dropout", strings.ReplaceAll(out, runs, "$RUNS"))
	md, err := os.ReadFile(filepath.Join(runs, "dropout", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "## Verdicts: head.dropout") || !strings.Contains(string(md), "| head.dropout=0.5 | 6 | 0.675") {
		t.Errorf("report.md lacks the verdicts:\n%s", md)
	}

	// Another reference, table only.
	out, _, err = dogrun(t, "compare", "dropout", "-runs", runs, "-reference", "0.5", "-no-report")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "head.dropout compared with head.dropout=0.5") || strings.Contains(out, "wrote") {
		t.Errorf("compare -reference 0.5 -no-report:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "dropout", "-runs", runs, "-by", "train.lr"}, "not a sweep axis"},
		{[]string{"compare", "dropout", "-runs", runs, "-reference", "0.9"}, "head.dropout=0.9 is not in the sweep"},
		{[]string{"compare", "ghost", "-runs", runs}, "ghost"},
	} {
		if _, _, err := dogrun(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, stderr, err := dogrun(t, "compare"); !strings.Contains(stderr, "Usage: dogrun compare") || exitCode(err) != 2 {
		t.Errorf("compare without EXPERIMENT: %v\n%s", err, stderr)
	}

	// One seed: no Wilcoxon test, and the table says why.
	storeDropout(t, runs, "once", 1)
	out, _, err = dogrun(t, "compare", "once", "-runs", runs, "-no-report")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compare_one_seed", out)
}

// TestDedupe copies real photos into a folder with edited copies of some
// and one photo filed under a second dog, then checks the printed groups,
// the CSV list and -move.
func TestDedupe(t *testing.T) {
	src := needs.Photos(t)
	dir := filepath.Join(t.TempDir(), "dogs")
	put := func(rel string, img image.Image, quality int) {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		var err error
		if quality > 0 {
			err = jpeg.Encode(&b, img, &jpeg.Options{Quality: quality})
		} else {
			err = png.Encode(&b, img)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func(rel string) image.Image {
		img, err := dataset.Decode(filepath.Join(src, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	for _, rel := range []string{"100/100.0.jpg", "100/100.1.jpg", "100/100.2.jpg", "1000/1000.0.jpg", "1000/1000.1.jpg", "1000/1000.2.jpg"} {
		put(rel[:strings.LastIndex(rel, ".")]+".png", load(rel), 0)
	}
	a := load("100/100.0.jpg")
	put("100/recrop.png", dataset.Render(a, dataset.ViewParams{Zoom: 1.15, ShiftX: -0.05, ShiftY: 0.03, Brightness: 1.1}, 224), 0)
	put("100/flipped.png", dataset.Render(a, dataset.ViewParams{Zoom: 1, Brightness: 1, Flip: true}, 224), 0)
	put("1000/resaved.jpg", load("1000/1000.1.jpg"), 90)
	put("1000/misfiled.png", load("100/100.2.jpg"), 0)

	list := filepath.Join(t.TempDir(), "groups.csv")
	moved := filepath.Join(t.TempDir(), "moved")
	out, _, err := dogrun(t, "dedupe", dir, "-list", list, "-move", moved)
	if err != nil {
		t.Fatal(err)
	}
	out = strings.NewReplacer(dir, "$DIR", list, "$LIST", moved, "$MOVED").Replace(out)
	golden(t, "dedupe", out)
	csv, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "dedupe_csv", string(csv))
	// The first photo of each group stays; the others moved, none deleted.
	for _, rel := range []string{"100/flipped.png", "100/recrop.png", "1000/resaved.jpg"} {
		if _, err := os.Stat(filepath.Join(moved, rel)); err != nil {
			t.Errorf("%s not moved: %v", rel, err)
		}
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			t.Errorf("%s still in the data folder", rel)
		}
	}
	for _, rel := range []string{"100/100.0.png", "1000/1000.1.png", "1000/misfiled.png"} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			t.Errorf("%s was moved: %v", rel, err)
		}
	}

	// The original scripts' SSIM, on what is left plus a light re-save: only
	// the re-save is a near-duplicate at 0.95, and every score is an SSIM.
	put("1000/resaved.jpg", load("1000/1000.1.jpg"), 90)
	out, _, err = dogrun(t, "dedupe", dir, "-method", "ssim", "-list", list)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "dedupe_ssim", strings.NewReplacer(dir, "$DIR", list, "$LIST").Replace(out))
	if _, _, err := dogrun(t, "dedupe", dir, "-method", "dhash"); exitCode(err) != 2 {
		t.Errorf("unknown method: %v", err)
	}
}

// TestRaceMessages: dogrun race's mistakes (status 2, with the usage) and
// failures (status 1).
func TestRaceMessages(t *testing.T) {
	t.Setenv("DOGRUN_RUNS", "/runs") // -runs shows its default in the usage; keep it the same everywhere
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	var got strings.Builder
	for _, args := range [][]string{
		{"race", "-runs", runs, "search"},
		{"race", "-runs", runs, "-grid", "grid"},
		{"race", "-runs", runs, "-grid", "grid", "-margin", "2", "search"},
		{"race", "-runs", runs, "-grid", "grid", "search"},
	} {
		var stdout, stderr bytes.Buffer
		code := 0
		if err := run(t.Context(), &stdout, &stderr, args); err != nil {
			code = fail(&stderr, err)
		}
		fmt.Fprintf(&got, "$ dogrun %s\nexit %d\n--- stdout\n%s--- stderr\n%s\n", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	golden(t, "race_messages", strings.ReplaceAll(got.String(), runs, "$RUNS"))
}
