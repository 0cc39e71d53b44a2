package plots

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	svgWidthRE    = regexp.MustCompile(`viewBox="0 0 ([0-9.]+) `)
	svgFontSizeRE = regexp.MustCompile(`font-size:([0-9.]+)px`)
)

// smallestTextPx is the smallest font size of an SVG figure drawn widthPx
// wide, in pixels of the figure (its user units are points).
func smallestTextPx(t *testing.T, svg []byte, widthPx int) float64 {
	t.Helper()
	m := svgWidthRE.FindSubmatch(svg)
	if m == nil {
		t.Fatalf("no viewBox in %.200s", svg)
	}
	viewW, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	sizes := svgFontSizeRE.FindAllSubmatch(svg, -1)
	if len(sizes) == 0 {
		t.Fatal("no text in the figure")
	}
	smallest := math.Inf(1)
	for _, s := range sizes {
		v, err := strconv.ParseFloat(string(s[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		smallest = math.Min(smallest, v*float64(widthPx)/viewW)
	}
	return smallest
}

// TestNoTextBelowMinimum draws every kind of figure at the sizes the report
// uses, and at small ones, with long titles, long names and many classes:
// no text may be smaller than MinTextPx.
func TestNoTextBelowMinimum(t *testing.T) {
	long := strings.Repeat("a very long title that does not fit ", 4)
	var eps []EpochPoint
	for e := 1; e <= 60; e++ {
		x := float64(e)
		eps = append(eps, EpochPoint{Epoch: e, TrainLoss: 2 / x, ValLoss: 2/x + 0.3, TrainAccuracy: 1 - 0.5/x, ValAccuracy: 0.8 - 0.5/x})
	}
	classes := func(n int) ([]ClassScore, [][]int, []string) {
		var scores []ClassScore
		counts := make([][]int, n)
		var names []string
		for i := range n {
			name := fmt.Sprintf("dog-with-a-long-name-%d", i)
			names = append(names, name)
			scores = append(scores, ClassScore{Name: name, Value: float64(i%10) / 10, Lo: math.NaN(), Hi: math.NaN()})
			counts[i] = make([]int, n)
			counts[i][i], counts[i][(i+1)%n] = 9, 1
		}
		return scores, counts, names
	}
	variants := func(n int) []VariantPoints {
		var out []VariantPoints
		for i := range n {
			out = append(out, VariantPoints{Label: fmt.Sprintf("head.dropout=0.%d, train.lr=0.001, augmentation.views=%d", i, i), Values: []float64{0.7, 0.8}, Mean: 0.75, Lo: 0.7, Hi: 0.8})
		}
		return out
	}
	series := []AxisSeries{{Label: "train.lr=0.001", Points: []AxisPoint{{X: 0, Values: []float64{0.7, 0.8}, Mean: 0.75, Lo: 0.7, Hi: 0.8}, {X: 1, Values: []float64{0.6, 0.7}, Mean: 0.65, Lo: 0.6, Hi: 0.7}}}}
	type figure struct {
		name  string
		width int
		draw  func() ([]byte, error)
	}
	var figs []figure
	for _, w := range []int{MinPixels, 400, 900, 1000} {
		h := max(MinPixels, w*42/100)
		figs = append(figs,
			figure{"learning curve", w, func() ([]byte, error) { return LearningCurve(long, eps, 40, 55, SVG, w, h) }},
			figure{"variant curves", w, func() ([]byte, error) {
				return VariantCurves(long, []VariantHistory{{Label: "a", Seeds: [][]EpochPoint{eps}}, {Label: "b", Seeds: [][]EpochPoint{eps[:50]}}}, SVG, w, h)
			}},
			figure{"sweep axis", w, func() ([]byte, error) {
				return SweepAxis(long, "head.dropout", "test accuracy", []string{"0", "0.5"}, []float64{0, 0.5}, series, SVG, w, h)
			}},
			figure{"sequential path", w, func() ([]byte, error) {
				return SequentialPath(long, "difference in accuracy", obfPath, 0.01, 48, 0.975, SVG, w, h)
			}},
		)
		for _, n := range []int{2, 12, 40} {
			figs = append(figs, figure{fmt.Sprintf("%d variants", n), w, func() ([]byte, error) {
				return VariantComparison(long, "test accuracy", variants(n), SVG, w, min(MaxPixels, max(h, 140+60*n)))
			}})
		}
		for _, n := range []int{3, 15, 40, 250} {
			scores, counts, names := classes(n)
			figs = append(figs,
				figure{fmt.Sprintf("F1 of %d classes", n), w, func() ([]byte, error) {
					return ClassScores(long, "F1", scores, SVG, w, min(MaxPixels, max(h, 110+18*n)))
				}},
				figure{fmt.Sprintf("confusion of %d classes", n), w, func() ([]byte, error) { return ConfusionHeatmap(long, counts, names, SVG, w) }},
			)
		}
	}
	for _, f := range figs {
		svg, err := f.draw()
		if err != nil {
			t.Fatalf("%s at %d px: %v", f.name, f.width, err)
		}
		if got := smallestTextPx(t, svg, f.width); got < MinTextPx-0.01 {
			t.Errorf("%s at %d px: text of %.1f px, want at least %d", f.name, f.width, got, MinTextPx)
		}
	}
}
