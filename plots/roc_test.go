package plots

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
)

// rocCurves are n made-up curves with bands, for drawing tests.
func rocCurves(n int) []ROCCurve {
	var out []ROCCurve
	for i := range n {
		c := ROCCurve{Label: fmt.Sprintf("backbone.names=[mobilefacenet,vggface2-mobilenet] %d", i)}
		for k := 0; k <= 40; k++ {
			far := math.Pow(10, -4+float64(k)/10)
			tar := math.Pow(far, 0.25/float64(i+1))
			c.Points = append(c.Points, ROCPoint{FAR: far, TAR: tar})
			c.Lo, c.Hi = append(c.Lo, tar*0.9), append(c.Hi, math.Min(1, tar*1.1))
		}
		out = append(out, c)
	}
	return out
}

// TestROCCurves draws curves in both formats, labels the log axis in plain
// rates, and refuses what cannot be drawn.
func TestROCCurves(t *testing.T) {
	curves := rocCurves(2)
	curves[1].Lo, curves[1].Hi = nil, nil // a curve without a band
	curves[0].Points[0].FAR = 0           // left out, not an error
	svg, err := ROCCurves("ROC", curves, []float64{0.01, 0.001}, SVG, 900, 420)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0.0001", "0.001", "0.01", "0.1", "false-accept rate (log scale)", "target FAR", "lowest to highest draw"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if png, err := ROCCurves("ROC", curves, nil, PNG, 900, 420); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("PNG: %v", err)
	}
	for name, bad := range map[string][]ROCCurve{
		"no curve":       nil,
		"TAR above 1":    {{Label: "x", Points: []ROCPoint{{0.1, 1.5}}}},
		"only FAR 0":     {{Label: "x", Points: []ROCPoint{{0, 0.5}}}},
		"band too short": {{Label: "x", Points: []ROCPoint{{0.1, 0.5}}, Lo: []float64{}, Hi: []float64{}}},
	} {
		if _, err := ROCCurves("ROC", bad, nil, SVG, 900, 420); err == nil || !strings.Contains(err.Error(), "plots:") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
