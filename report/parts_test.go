package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

func TestConfusedPairsRanking(t *testing.T) {
	classes := []string{"a", "b", "c", "d"}
	confusion := [][]int{
		{6, 2, 0, 0}, // a: 8 photos, 2 taken for b (25%)
		{1, 3, 0, 0}, // b: 4 photos, 1 taken for a (25%)
		{0, 0, 1, 1}, // c: 2 photos, 1 taken for d (50%)
		{0, 0, 0, 0}, // d: no test photos
	}
	pairs := confusedPairs(confusion, classes, newThumbs("", nil, nil), 10)
	type row struct {
		A, B           string
		AB, BA         int
		RateAB, RateBA float64
	}
	var got []row
	for _, p := range pairs {
		got = append(got, row{p.A.Class, p.B.Class, p.AB, p.BA, p.RateAB, p.RateBA})
	}
	// a-b: 25% + 25% = 0.5 both ways; c-d: 50% one way. Equal scores: more
	// photos (3 against 1) first.
	want := []row{
		{"a", "b", 2, 1, 0.25, 0.25},
		{"c", "d", 1, 0, 0.5, 0},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pairs (-want +got):\n%s", d)
	}
	if got := confusedPairs(confusion, classes, newThumbs("", nil, nil), 1); len(got) != 1 || got[0].A.Class != "a" {
		t.Errorf("limit 1: %+v", got)
	}
	diag := [][]int{{3, 0}, {0, 2}}
	if got := confusedPairs(diag, classes[:2], newThumbs("", nil, nil), 10); len(got) != 0 {
		t.Errorf("a perfect matrix has confused pairs: %+v", got)
	}
}

func TestConfusedPairsReadsTheWorseDirectionFirst(t *testing.T) {
	// b is taken for a far more often than the reverse.
	pairs := confusedPairs([][]int{{9, 1}, {3, 1}}, []string{"a", "b"}, newThumbs("", nil, nil), 10)
	if len(pairs) != 1 || pairs[0].A.Class != "b" || pairs[0].AB != 3 || pairs[0].SupportA != 4 {
		t.Errorf("got %+v, want b first (3 of 4 taken for a)", pairs[0])
	}
}

func TestSumConfusionAndClassRows(t *testing.T) {
	got := sumConfusion([][][]int{{{1, 2}, {3, 4}}, {{10, 20}, {30, 40}}})
	if d := cmp.Diff([][]int{{11, 22}, {33, 44}}, got); d != "" {
		t.Errorf("sum (-want +got):\n%s", d)
	}
	reps := []metrics.Report{
		{PerClass: []metrics.ClassScore{{Name: "a", F1: 0.5, Precision: 1, Recall: 0.5, Support: 2}, {Name: "b", F1: 1, Precision: 1, Recall: 1, Support: 3}}},
		{PerClass: []metrics.ClassScore{{Name: "a", F1: 0.7, Precision: 0.5, Recall: 1, Support: 2}, {Name: "b", F1: 0.9, Precision: 1, Recall: 0.8, Support: 3}}},
	}
	rows := classRows(reps)
	a := rows[0]
	if a.Class != "a" || math.Abs(a.F1-0.6) > 1e-12 || a.F1Lo != 0.5 || a.F1Hi != 0.7 || a.Precision != 0.75 || a.Support != 2 {
		t.Errorf("class a: %+v", a)
	}
	worst := worstClasses(rows, 1, newThumbs("", nil, nil))
	if len(worst) != 1 || worst[0].Class != "a" || worst[0].Thumb == nil || worst[0].Thumb.Missing == "" {
		t.Errorf("worst: %+v", worst)
	}
	if one := classRows(reps[:1]); !math.IsNaN(one[0].F1Lo) {
		t.Errorf("one seed has a spread: %+v", one[0])
	}
}

func TestParseVariantKeepsAxisOrder(t *testing.T) {
	got, ok := ParseVariant(`{"train.lr":0.001,"backbone.name":"resnet50","head.hidden":[512, 256],"head.dropout":0}`)
	if !ok {
		t.Fatal("did not parse")
	}
	want := []Setting{
		{Path: "train.lr", Label: "0.001", Num: 0.001, IsNum: true},
		{Path: "backbone.name", Label: "resnet50"},
		{Path: "head.hidden", Label: "[512,256]"},
		{Path: "head.dropout", Label: "0", Num: 0, IsNum: true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("settings (-want +got):\n%s", d)
	}
	if _, ok := ParseVariant(`[1]`); ok {
		t.Errorf("a JSON list parsed as a variant")
	}
}

func TestSweepAxesGroupsByOtherSettings(t *testing.T) {
	mk := func(idx int, js string, vals ...float64) Variant {
		return Variant{Key: js, Done: len(vals), Values: vals, Accuracy: metrics.Summarize(vals),
			Trials: []results.Trial{{Index: idx, VariantJSON: js}}}
	}
	// Ranked by accuracy, not in file order.
	vs := []Variant{
		mk(6, `{"backbone.name":"b","head.dropout":0.5}`, 0.9, 0.92),
		mk(0, `{"backbone.name":"a","head.dropout":0}`, 0.7, 0.72),
		mk(2, `{"backbone.name":"a","head.dropout":0.5}`, 0.8),
		mk(4, `{"backbone.name":"b","head.dropout":0}`, 0.6, 0.62),
		{Key: "not run", Trials: []results.Trial{{Index: 8, VariantJSON: `{"backbone.name":"c","head.dropout":0}`}}},
	}
	axes := sweepAxes(vs)
	if len(axes) != 2 {
		t.Fatalf("%d axes, want backbone.name and head.dropout", len(axes))
	}
	bb, dr := axes[0], axes[1]
	if bb.Path != "backbone.name" || fmt.Sprint(bb.Values) != "[a b]" || bb.Positions != nil {
		t.Errorf("backbone axis %s %v %v, want categorical [a b] (c never finished)", bb.Path, bb.Values, bb.Positions)
	}
	if dr.Path != "head.dropout" || fmt.Sprint(dr.Values) != "[0 0.5]" || fmt.Sprint(dr.Positions) != "[0 0.5]" {
		t.Errorf("dropout axis %s %v %v", dr.Path, dr.Values, dr.Positions)
	}
	if len(dr.Series) != 2 || dr.Series[0].Label != "backbone.name=a" || dr.Series[1].Label != "backbone.name=b" {
		t.Fatalf("dropout series %+v, want one per backbone in file order", dr.Series)
	}
	a := dr.Series[0].Points
	if len(a) != 2 || a[0].X != 0 || math.Abs(a[0].Mean-0.71) > 1e-12 || a[1].X != 1 || len(a[1].Values) != 1 || !math.IsNaN(a[1].Lo) {
		t.Errorf("backbone a points %+v", a)
	}
	if a[0].Lo < 0 || a[0].Hi > 1 {
		t.Errorf("interval not cut to [0, 1]: %+v", a[0])
	}
	if got := sweepAxes([]Variant{mk(0, `{}`, 0.5)}); len(got) != 0 {
		t.Errorf("no sweep gave axes %+v", got)
	}
}

func TestDeterminismNote(t *testing.T) {
	tr := func(variant, commit string, dirty bool) results.Trial {
		return results.Trial{VariantKey: variant, GitCommit: commit, GitDirty: dirty, Status: results.StatusDone}
	}
	cases := []struct {
		name   string
		trials []results.Trial
		want   string
		warn   bool
	}{
		{"one commit", []results.Trial{tr("a", "c1", false), tr("a", "c1", false), tr("b", "c1", false)}, "All 3 finished trials ran on one commit.", false},
		{"variant split", []results.Trial{tr("a", "c1", false), tr("a", "c2", false)}, "a (2 commits)", true},
		{"dirty split", []results.Trial{tr("a", "c1", false), tr("a", "c1", true)}, "a (2 commits)", true},
		{"all dirty", []results.Trial{tr("a", "c1", true), tr("b", "c1", true)}, "one commit, but with uncommitted changes", true},
		{"variants apart", []results.Trial{tr("a", "c1", false), tr("b", "c2", false)}, "the variants span 2 commits", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &Data{Trials: c.trials}
			got, warn := d.determinism(c.trials)
			if !strings.Contains(got, c.want) || warn != c.warn || !strings.Contains(got, "deterministic per seed") {
				t.Errorf("got %q (warn %v), want it to say %q (warn %v)", got, warn, c.want, c.warn)
			}
		})
	}
}

func TestEnvironmentWarnsAboutDirtyTrees(t *testing.T) {
	d := &Data{Trials: []results.Trial{
		{ID: 1, VariantKey: "a", Status: results.StatusDone, GoVersion: "go1.26.8", GitCommit: "c1", GitDirty: true, BackboneSHA256: "s", Worker: "h1:1"},
		{ID: 2, VariantKey: "a", Status: results.StatusDone, GoVersion: "go1.26.9", GitCommit: "c1", BackboneSHA256: "s", Worker: "h2:7"},
		{ID: 3, VariantKey: "a", Status: results.StatusFailed, GoVersion: "go0"},
	}}
	env := map[string]EnvRow{}
	for _, r := range d.environment() {
		env[r.Key] = r
	}
	if r := env["Go"]; r.Value != "go1.26.8 (1 trial); go1.26.9 (1 trial)" {
		t.Errorf("Go row %+v (failed trials must not count)", r)
	}
	if r := env["Git commit"]; !r.Warn || !strings.Contains(r.Note, "1 of 2 trials ran with uncommitted changes") {
		t.Errorf("commit row %+v", r)
	}
	if r := env["Dataset folder"]; r.Value != "unknown" || !r.Warn {
		t.Errorf("dataset row %+v", r)
	}
	if r := env["Machines"]; r.Value != "h1 (1 trial); h2 (1 trial)" {
		t.Errorf("machines row %+v", r)
	}
}

func TestThumbs(t *testing.T) {
	root := t.TempDir()
	for _, c := range []string{"a b", "a_b", "tall"} {
		if err := os.MkdirAll(filepath.Join(root, c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writePNG(t, filepath.Join(root, "a b", "1.png"), 300, 200, color.Gray{Y: 100})
	writePNG(t, filepath.Join(root, "a_b", "1.png"), 40, 30, color.Gray{Y: 100})
	writePNG(t, filepath.Join(root, "tall", "x.png"), 50, 200, color.Gray{Y: 100})
	if err := os.WriteFile(filepath.Join(root, "a_b", "broken.jpg"), []byte("not a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := t.TempDir()
	th := newThumbs(root, map[string]string{"a b": "a b/1.png", "a_b": "a_b/broken.jpg", "gone": "gone/1.png"}, openPictures(report))

	ab := th.get("a b")
	if ab.Missing != "" || ab.File != "thumbs/a_b.jpg" {
		t.Errorf("a b: %+v", ab)
	}
	// Same safe name, other class: a different file. Its recorded photo
	// is broken, so it says so instead of failing.
	if u := th.get("a_b"); u.File == ab.File || u.Missing != "photo not found" {
		t.Errorf("a_b: file %q missing %q", u.File, u.Missing)
	}
	if g := th.get("gone"); g.Missing != "photo not found" || g.JPEG != nil {
		t.Errorf("gone: %+v", g)
	}
	// No recorded photo: the class folder's first file.
	tall := th.get("tall")
	if tall.Missing != "" || len(tall.JPEG) == 0 {
		t.Errorf("tall: %+v", tall)
	}
	if th.get("a b") != ab {
		t.Errorf("thumbnail loaded twice")
	}
	if n := len(th.byName); n != 4 {
		t.Errorf("%d thumbnails cached, want 4", n)
	}
	if b, err := os.ReadFile(filepath.Join(report, "thumbs", "a_b.jpg")); err != nil || !bytes.Equal(b, ab.JPEG) {
		t.Errorf("thumbs/a_b.jpg beside the report: %v", err)
	}
	if g := newThumbs("", nil, nil).get("x"); g.Missing == "" {
		t.Errorf("no dataset folder, yet a thumbnail")
	}
}
