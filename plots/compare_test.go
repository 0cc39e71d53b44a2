package plots

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// twoSeeds is a variant whose second seed stops two epochs early.
var twoSeeds = VariantHistory{Label: "head.dropout=0", Seeds: [][]EpochPoint{
	fiveEpochs,
	{
		{Epoch: 1, ValLoss: 2.0, ValAccuracy: 0.50},
		{Epoch: 2, ValLoss: 1.7, ValAccuracy: 0.52},
		{Epoch: 3, ValLoss: 1.4, ValAccuracy: 0.61},
	},
}}

func TestVariantBandStatistics(t *testing.T) {
	got := variantBand(twoSeeds, func(e EpochPoint) float64 { return e.ValLoss })
	want := []bandStats{
		{epoch: 1, mean: 2.05, lo: 2.0, hi: 2.1},
		{epoch: 2, mean: 1.6, lo: 1.5, hi: 1.7},
		{epoch: 3, mean: 1.3, lo: 1.2, hi: 1.4, finishedSeeds: []float64{1.4}}, // seed 2 ends here
		{epoch: 4, mean: 1.25, lo: 1.25, hi: 1.25},                             // one seed left
		{epoch: 5, mean: 1.35, lo: 1.35, hi: 1.35, finishedSeeds: []float64{1.35}},
	}
	opt := cmp.Options{cmp.AllowUnexported(bandStats{}), cmpopts.EquateApprox(0, 1e-12)}
	if d := cmp.Diff(want, got, opt); d != "" {
		t.Errorf("band (-want +got):\n%s", d)
	}

	// A NaN epoch is left out of the statistics, not averaged in.
	nan := VariantHistory{Seeds: [][]EpochPoint{{{Epoch: 1, ValLoss: 1}, {Epoch: 2, ValLoss: math.NaN()}}, {{Epoch: 1, ValLoss: 3}, {Epoch: 2, ValLoss: 2}}}}
	got = variantBand(nan, func(e EpochPoint) float64 { return e.ValLoss })
	if len(got) != 2 || got[1].mean != 2 || got[1].lo != 2 || !slices.Equal(got[0].finishedSeeds, []float64{1}) {
		t.Errorf("with a NaN epoch: %+v", got)
	}
}

func TestVariantCurvesSVG(t *testing.T) {
	other := VariantHistory{Label: "head.dropout=0.5", Seeds: [][]EpochPoint{fiveEpochs[1:], fiveEpochs}}
	b, err := VariantCurves("validation per variant", []VariantHistory{twoSeeds, other}, SVG, 900, 400)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgDoc(t, b)
	for _, want := range []string{"validation per variant", "head.dropout=0", "head.dropout=0.5",
		"validation loss", "validation accuracy", "epoch", "lowest to highest seed", "last epoch of a seed"} {
		if !containsText(texts, want) {
			t.Errorf("SVG has no text %q", want)
		}
	}
	// One translucent band per variant in each panel and in the legend,
	// plus the legend's neutral band swatch.
	alpha := fmt.Sprintf("fill-opacity:%.5g", float64(bandAlpha)/255)
	if n := strings.Count(string(b), alpha); n != 2*3+1 {
		t.Errorf("%d fills with %s, want 7 (2 variants x 2 panels + 2 legend entries + the swatch)", n, alpha)
	}

	png, err := VariantCurves("", []VariantHistory{twoSeeds}, PNG, 600, 800)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, png, 600, 800)
}

func TestVariantCurvesErrors(t *testing.T) {
	cases := map[string][]VariantHistory{
		"none":       nil,
		"no seeds":   {{Label: "a"}},
		"empty seed": {{Label: "a", Seeds: [][]EpochPoint{fiveEpochs, nil}}},
		"dup epoch":  {{Label: "a", Seeds: [][]EpochPoint{{fiveEpochs[0], fiveEpochs[0]}}}},
	}
	for name, vs := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := VariantCurves("t", vs, PNG, 400, 300)
			if err == nil || b != nil || !strings.HasPrefix(err.Error(), "plots: ") {
				t.Errorf("got %d bytes, %v; want a plots error", len(b), err)
			}
		})
	}
}

func TestAxisPositions(t *testing.T) {
	xs, logX, err := axisPositions([]string{"mobilefacenet", "resnet50"}, nil)
	if err != nil || logX || !slices.Equal(xs, []float64{0, 1}) {
		t.Errorf("categorical: %v %v %v", xs, logX, err)
	}
	xs, logX, err = axisPositions([]string{"0", "0.25", "0.5"}, []float64{0, 0.25, 0.5})
	if err != nil || logX || !slices.Equal(xs, []float64{0, 0.25, 0.5}) {
		t.Errorf("dropout: %v %v %v", xs, logX, err)
	}
	xs, logX, err = axisPositions([]string{"1e-4", "1e-3", "1e-2"}, []float64{1e-4, 1e-3, 1e-2})
	if err != nil || !logX || math.Abs(xs[0]+4) > 1e-12 || math.Abs(xs[2]+2) > 1e-12 {
		t.Errorf("learning rates should go on a log scale: %v %v %v", xs, logX, err)
	}
	// A span under logRatio stays linear.
	if _, logX, _ := axisPositions([]string{"0.001", "0.01"}, []float64{0.001, 0.01}); logX {
		t.Errorf("a 10x span was put on a log scale")
	}
	for name, pos := range map[string][]float64{"count": {1}, "duplicate": {1, 1}, "NaN": {1, math.NaN()}} {
		if _, _, err := axisPositions([]string{"a", "b"}, pos); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// sweepSeries is the fixed input of the sweep axis golden test.
var sweepSeries = []AxisSeries{
	{Label: "backbone.name=mobilefacenet", Points: []AxisPoint{
		{X: 0, Values: []float64{0.70, 0.72, 0.75}, Mean: 0.7233, Lo: 0.69, Hi: 0.76},
		{X: 1, Values: []float64{0.76, 0.78, 0.80}, Mean: 0.78, Lo: 0.75, Hi: 0.81},
		{X: 2, Values: []float64{0.70}, Mean: 0.70, Lo: math.NaN(), Hi: math.NaN()},
	}},
	{Label: "backbone.name=resnet50", Points: []AxisPoint{
		{X: 0, Values: []float64{0.80, 0.82}, Mean: 0.81, Lo: 0.68, Hi: 0.94},
		{X: 2, Values: []float64{0.84, 0.86}, Mean: 0.85, Lo: 0.72, Hi: 0.98},
	}},
}

func TestSweepAxisGolden(t *testing.T) {
	got, err := SweepAxis("accuracy vs dropout", "head.dropout", "test accuracy", []string{"0", "0.25", "0.5"}, []float64{0, 0.25, 0.5}, sweepSeries, SVG, 640, 360)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgDoc(t, got)
	for _, want := range []string{"accuracy vs dropout", "head.dropout", "test accuracy", "0.25",
		"backbone.name=mobilefacenet", "backbone.name=resnet50", "seed", "mean", "95% interval"} {
		if !containsText(texts, want) {
			t.Errorf("SVG has no text %q", want)
		}
	}
	if containsText(texts, "log scale") {
		t.Errorf("dropout drawn on a log scale")
	}
	path := filepath.Join("testdata", "sweep_axis.golden.svg")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plots/ -run Golden -update to create it)", err)
	}
	if msg := svgDiff(want, got); msg != "" {
		t.Errorf("SVG differs from %s (rerun with -update if intended): %s", path, msg)
	}
}

func TestSweepAxisLogAndCategorical(t *testing.T) {
	b, err := SweepAxis("lr", "train.lr", "acc", []string{"1e-4", "1e-3", "1e-2"}, []float64{1e-4, 1e-3, 1e-2}, sweepSeries[:1], SVG, 500, 300)
	if err != nil {
		t.Fatal(err)
	}
	if texts := svgDoc(t, b); !containsText(texts, "train.lr (log scale)") || !containsText(texts, "1e-3") {
		t.Errorf("log axis texts: %q", texts)
	}
	// Single seeds only: no interval legend.
	one := []AxisSeries{{Points: []AxisPoint{{X: 0, Values: []float64{0.5}, Mean: 0.5}, {X: 1, Values: []float64{0.6}, Mean: 0.6}}}}
	b, err = SweepAxis("backbones", "backbone.name", "acc", []string{"mobilefacenet", "resnet50"}, nil, one, PNG, 500, 300)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, b, 500, 300)
	b, _ = SweepAxis("backbones", "backbone.name", "acc", []string{"mobilefacenet", "resnet50"}, nil, one, SVG, 500, 300)
	if texts := svgDoc(t, b); containsText(texts, "interval") || !containsText(texts, "resnet50") {
		t.Errorf("single-seed categorical chart texts: %q", texts)
	}
}

func TestSweepAxisErrors(t *testing.T) {
	vals := []string{"a", "b"}
	cases := map[string][]AxisSeries{
		"no series":    nil,
		"X outside":    {{Points: []AxisPoint{{X: 2, Values: []float64{1}, Mean: 1}}}},
		"no values":    {{Points: []AxisPoint{{X: 0, Mean: 1}}}},
		"NaN value":    {{Points: []AxisPoint{{X: 0, Values: []float64{math.NaN()}, Mean: 1}}}},
		"Inf mean":     {{Points: []AxisPoint{{X: 0, Values: []float64{1}, Mean: math.Inf(1)}}}},
		"Lo above Hi":  {{Points: []AxisPoint{{X: 0, Values: []float64{1, 2}, Mean: 1.5, Lo: 2, Hi: 1}}}},
		"bad position": {{Points: []AxisPoint{{X: 0, Values: []float64{1}, Mean: 1}}}},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			var pos []float64
			if name == "bad position" {
				pos = []float64{1, 1}
			}
			b, err := SweepAxis("t", "x", "m", vals, pos, s, PNG, 400, 300)
			if err == nil || b != nil || !strings.HasPrefix(err.Error(), "plots: ") {
				t.Errorf("got %d bytes, %v; want a plots error", len(b), err)
			}
		})
	}
	if _, err := SweepAxis("t", "x", "m", nil, nil, sweepSeries, PNG, 400, 300); err == nil {
		t.Errorf("no axis values: no error")
	}
}

func TestClassScoresNamedAndSorted(t *testing.T) {
	nan := math.NaN()
	cs := []ClassScore{
		{Name: "rex", Value: 0.5, Lo: nan, Hi: nan},
		{Name: "bella", Value: 1.0, Lo: 0.9, Hi: 1.0},
		{Name: "fido", Value: 0.25, Lo: nan, Hi: nan},
		{Name: "ace", Value: 0.5, Lo: nan, Hi: nan}, // ties go by name
	}
	b, err := ClassScores("F1 per dog", "F1", cs, SVG, 600, 300)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgDoc(t, b)
	var names []string
	for _, s := range texts {
		if slices.Contains([]string{"rex", "bella", "fido", "ace"}, s) {
			names = append(names, s)
		}
	}
	if want := []string{"bella", "ace", "rex", "fido"}; !slices.Equal(names, want) {
		t.Errorf("class labels in drawing order %q, want best first %q", names, want)
	}
	if !containsText(texts, "mean over classes: 0.562") || !containsText(texts, "lowest to highest seed") {
		t.Errorf("legend texts: %q", texts)
	}
}

// Bars are drawn to scale: a score of 1 is twice as long as 0.5.
func TestClassScoresBarLengths(t *testing.T) {
	cs := []ClassScore{{Name: "a", Value: 1, Lo: math.NaN(), Hi: math.NaN()}, {Name: "b", Value: 0.5, Lo: math.NaN(), Hi: math.NaN()}}
	b, err := ClassScores("", "F1", cs, PNG, 600, 300)
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b, 600, 300)
	// Bar pixels per row; the top bar is "a" (best first).
	var rows []int
	for y := 0; y < 300; y++ {
		n := 0
		for x := 0; x < 600; x++ {
			if near(img.At(x, y), colTrain) {
				n++
			}
		}
		rows = append(rows, n)
	}
	long := slices.Max(rows)
	var short, shortAt, longAt int
	for y, n := range rows {
		if n == long && longAt == 0 {
			longAt = y
		}
		if n > short && n < long*3/4 && n > long/4 {
			short, shortAt = n, y
		}
	}
	if r := float64(long) / float64(short); math.Abs(r-2) > 0.06 {
		t.Errorf("bar lengths %d and %d px: ratio %.3f, want 2", long, short, r)
	}
	if longAt > shortAt {
		t.Errorf("the best class is drawn below the worse one (rows %d, %d)", longAt, shortAt)
	}
}

func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) bool { return math.Abs(float64(a>>8)-float64(b)) <= 6 }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

func TestClassScoresManyClassesHasNoNames(t *testing.T) {
	cs := make([]ClassScore, 250)
	for i := range cs {
		cs[i] = ClassScore{Name: fmt.Sprintf("dog_%03d", i), Value: float64(i%10) / 10, Lo: math.NaN(), Hi: math.NaN()}
	}
	b, err := ClassScores("250 dogs", "F1", cs, SVG, 1000, 400)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgDoc(t, b)
	if containsText(texts, "dog_") {
		t.Errorf("class names drawn for 250 classes")
	}
	if !containsText(texts, "classes ranked by F1 (250)") {
		t.Errorf("rank axis label missing: %q", texts)
	}
	png, err := ClassScores("250 dogs", "F1", cs, PNG, 1000, 400)
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, png, 1000, 400)
	if countColour(img, colTrain) < 1000 {
		t.Errorf("hardly any bar pixels")
	}
}

func countColour(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(img.At(x, y), c) {
				n++
			}
		}
	}
	return n
}

func TestClassScoresErrors(t *testing.T) {
	cases := map[string][]ClassScore{
		"none":        nil,
		"NaN score":   {{Name: "a", Value: math.NaN()}},
		"Lo above Hi": {{Name: "a", Value: 0.5, Lo: 0.6, Hi: 0.4}},
	}
	for name, cs := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := ClassScores("t", "F1", cs, PNG, 400, 300)
			if err == nil || b != nil || !strings.HasPrefix(err.Error(), "plots: ") {
				t.Errorf("got %d bytes, %v; want a plots error", len(b), err)
			}
		})
	}
}
