package plots

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// An O'Brien-Fleming path: the first boundaries are enormous, the path
// crosses the upper one at the third look.
var obfPath = []PathLook{
	{Seeds: 4, Mean: 0.02, Lo: -9000, Hi: 9000, DiffBound: 9000, EqBound: -9000},
	{Seeds: 8, Mean: 0.025, Lo: -0.3, Hi: 0.35, DiffBound: 0.33, EqBound: -0.2},
	{Seeds: 12, Mean: 0.024, Lo: 0.004, Hi: 0.044, DiffBound: 0.02, EqBound: 0.002},
}

func TestSequentialPath(t *testing.T) {
	b, err := SequentialPath("head.dropout=0.25 vs 0", "accuracy difference", obfPath, 0.01, 48, 0.975, SVG, 800, 400)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgDoc(t, b)
	for _, want := range []string{"head.dropout=0.25 vs 0", "accuracy difference", "paired seeds", "mean difference",
		"97.5% repeated interval", "better / worse beyond", "equivalent within", "±margin 0.01"} {
		if !containsText(texts, want) {
			t.Errorf("SVG has no text %q", want)
		}
	}
	// The y axis follows the path, not the boundaries of the first looks.
	for _, s := range texts {
		if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && math.Abs(v) > 48 {
			t.Errorf("tick %q: the chart reaches out to the huge boundaries", s)
		}
	}
	b, err = SequentialPath("", "", obfPath[:1], 0, 4, 0.95, PNG, 640, 320)
	if err != nil {
		t.Fatal(err)
	}
	if dark := countDark(decodePNG(t, b, 640, 320)); dark < 100 {
		t.Errorf("only %d dark pixels", dark)
	}
	for _, bad := range [][]PathLook{nil, {{Seeds: 4, Mean: math.NaN()}}, {{Seeds: 4, Lo: 1, Hi: 0}}} {
		if _, err := SequentialPath("x", "d", bad, 0.01, 8, 0.95, PNG, 400, 300); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
