package plots

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fiveEpochs is the fixed input of the golden test; do not change it without
// regenerating testdata with -update.
var fiveEpochs = []EpochPoint{
	{Epoch: 1, TrainLoss: 2.30, ValLoss: 2.10, TrainAccuracy: 0.35, ValAccuracy: 0.40},
	{Epoch: 2, TrainLoss: 1.40, ValLoss: 1.50, TrainAccuracy: 0.62, ValAccuracy: 0.58},
	{Epoch: 3, TrainLoss: 0.90, ValLoss: 1.20, TrainAccuracy: 0.78, ValAccuracy: 0.69},
	{Epoch: 4, TrainLoss: 0.60, ValLoss: 1.25, TrainAccuracy: 0.86, ValAccuracy: 0.71},
	{Epoch: 5, TrainLoss: 0.45, ValLoss: 1.35, TrainAccuracy: 0.91, ValAccuracy: 0.70},
}

// svgDoc checks b is well-formed XML with an <svg> root and returns the
// character data of every <text> element, in document order.
func svgDoc(t *testing.T, b []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	var stack []string
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			stack = append(stack, tok.Name.Local)
			if tok.Name.Local == "text" {
				texts = append(texts, "")
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] == "text" {
				texts[len(texts)-1] += string(tok)
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	return texts
}

func containsText(texts []string, want string) bool {
	return slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, want) })
}

func decodePNG(t *testing.T, b []byte, wantW, wantH int) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if got := img.Bounds().Size(); got.X != wantW || got.Y != wantH {
		t.Fatalf("PNG is %dx%d px, want %dx%d", got.X, got.Y, wantW, wantH)
	}
	return img
}

func TestLearningCurvePNGSize(t *testing.T) {
	for _, sz := range [][2]int{{640, 360}, {360, 640}, {801, 433}, {MinPixels, MinPixels}, {1920, 1080}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			b, err := LearningCurve("run", fiveEpochs, 3, 4, PNG, sz[0], sz[1])
			if err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, b, sz[0], sz[1])
			// Something other than background must have been drawn.
			if dark := countDark(img); dark < 100 {
				t.Errorf("only %d dark pixels: figure looks empty", dark)
			}
		})
	}
}

func countDark(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if luminance(img.At(x, y)) < 0.5 {
				n++
			}
		}
	}
	return n
}

func TestLearningCurveSVG(t *testing.T) {
	const title = "resnet50 head <lr=1e-3> & seed 7"
	b, err := LearningCurve(title, fiveEpochs, 3, 4, SVG, 640, 360)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgDoc(t, b)
	for _, want := range []string{title, "train", "val", "best", "early stop", "loss", "accuracy", "epoch"} {
		if !containsText(texts, want) {
			t.Errorf("SVG has no text %q; texts: %q", want, texts)
		}
	}
	// 640x360 px at 0.75 pt/px.
	if !bytes.Contains(b, []byte(`width="480pt" height="270pt"`)) {
		t.Errorf("SVG size attributes wrong: %.200s", b)
	}

	b, err = LearningCurve(title, fiveEpochs, 3, 0, SVG, 640, 360)
	if err != nil {
		t.Fatal(err)
	}
	if texts := svgDoc(t, b); containsText(texts, "early stop") {
		t.Errorf("stoppedEpoch 0 still draws an early-stop marker")
	}
}

func TestLearningCurveRobustInputs(t *testing.T) {
	nan := math.NaN()
	cases := map[string][]EpochPoint{
		"single epoch":  {{Epoch: 1, TrainLoss: 1, ValLoss: 1.1, TrainAccuracy: 0.5, ValAccuracy: 0.45}},
		"unsorted":      {fiveEpochs[3], fiveEpochs[0], fiveEpochs[4], fiveEpochs[1], fiveEpochs[2]},
		"diverged val":  {fiveEpochs[0], {Epoch: 2, TrainLoss: 1, ValLoss: math.Inf(1), TrainAccuracy: 0.5, ValAccuracy: nan}, fiveEpochs[2]},
		"all NaN":       {{Epoch: 1, TrainLoss: nan, ValLoss: nan, TrainAccuracy: nan, ValAccuracy: nan}},
		"many epochs":   manyEpochs(300),
		"epochs from 0": {{Epoch: 0, TrainLoss: 1, ValLoss: 1, TrainAccuracy: 0.1, ValAccuracy: 0.1}, {Epoch: 1, TrainLoss: 0.5, ValLoss: 0.6, TrainAccuracy: 0.2, ValAccuracy: 0.2}},
	}
	for name, eps := range cases {
		t.Run(name, func(t *testing.T) {
			for _, f := range []Format{PNG, SVG} {
				b, err := LearningCurve(name, eps, 0, 0, f, 500, 300)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if f == PNG {
					decodePNG(t, b, 500, 300)
				} else {
					svgDoc(t, b)
				}
			}
		})
	}
}

func manyEpochs(n int) []EpochPoint {
	eps := make([]EpochPoint, n)
	for i := range eps {
		x := float64(i + 1)
		eps[i] = EpochPoint{Epoch: i + 1, TrainLoss: 3 / x, ValLoss: 3/x + 0.1, TrainAccuracy: 1 - 1/x, ValAccuracy: 0.9 - 1/x}
	}
	return eps
}

func TestLearningCurveGolden(t *testing.T) {
	render := func() []byte {
		b, err := LearningCurve("golden: 5 epochs", fiveEpochs, 3, 4, SVG, 640, 360)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got := render()
	if again := render(); !bytes.Equal(got, again) {
		t.Fatal("two renders of the same input differ: output is not deterministic")
	}
	path := filepath.Join("testdata", "learning_curve.golden.svg")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", path)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plots/ -run Golden -update to create it)", err)
	}
	if msg := svgDiff(want, got); msg != "" {
		t.Errorf("SVG differs from %s (rerun with -update if intended): %s", path, msg)
	}
}

var numRE = regexp.MustCompile(`-?\d+(\.\d+)?(e[-+]?\d+)?`)

// svgDiff compares two SVGs token by token, allowing coordinates to differ
// by 0.01pt: other CPU architectures may fuse multiply-adds and shift the
// last printed digit without any visible change.
func svgDiff(want, got []byte) string {
	split := func(b []byte) (texts []string, nums []float64) {
		s := string(b)
		last := 0
		for _, m := range numRE.FindAllStringIndex(s, -1) {
			texts = append(texts, s[last:m[0]])
			v, _ := strconv.ParseFloat(s[m[0]:m[1]], 64)
			nums = append(nums, v)
			last = m[1]
		}
		return append(texts, s[last:]), nums
	}
	wt, wn := split(want)
	gt, gn := split(got)
	if len(wt) != len(gt) {
		return fmt.Sprintf("structure differs (%d vs %d text runs)", len(wt), len(gt))
	}
	for i := range wt {
		if wt[i] != gt[i] {
			return fmt.Sprintf("text run %d: want %q, got %q", i, wt[i], gt[i])
		}
	}
	for i := range wn {
		if math.Abs(wn[i]-gn[i]) > 0.01 {
			return fmt.Sprintf("number %d (after %q): want %v, got %v", i, wt[i], wn[i], gn[i])
		}
	}
	return ""
}

// cellPixel maps the centre of cell (true t, pred p) of an n-class heatmap,
// shifted by (dx, dy) cell widths, to PNG pixel coordinates.
func cellPixel(area vg.Rectangle, n, t, p int, dx, dy float64, heightPx int) image.Point {
	cw := float64(area.Size().X) / float64(n)
	ch := float64(area.Size().Y) / float64(n)
	xpt := float64(area.Min.X) + (float64(p)+0.5+dx)*cw
	ypt := float64(area.Max.Y) - (float64(t)+0.5-dy)*ch // true class 0 at the top
	ptToPx := float64(dpi) / float64(vg.Inch)
	return image.Point{X: int(xpt * ptToPx), Y: heightPx - int(ypt*ptToPx)}
}

// cellLuminance averages a 3x3 block off the cell centre, away from the count text.
func cellLuminance(img image.Image, area vg.Rectangle, n, t, p, sizePx int) float64 {
	c := cellPixel(area, n, t, p, -0.3, 0.3, sizePx)
	var sum float64
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			sum += luminance(img.At(c.X+dx, c.Y+dy))
		}
	}
	return sum / 9
}

func TestConfusionHeatmapColours(t *testing.T) {
	const size = 480
	counts := [][]int{
		{9, 1, 0},
		{0, 10, 0},
		{5, 0, 5},
	}
	var area vg.Rectangle
	b, err := confusionHeatmap("3 dogs", counts, []string{"rex", "bella", "fido"}, PNG, size, func(r vg.Rectangle) { area = r })
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b, size, size)
	if area.Size().X <= 0 || area.Size().Y <= 0 {
		t.Fatalf("no data area reported: %+v", area)
	}
	if d := math.Abs(float64(area.Size().X - area.Size().Y)); d > 0.5 {
		t.Errorf("data area %v is not square", area.Size())
	}
	lum := func(tr, pr int) float64 { return cellLuminance(img, area, 3, tr, pr, size) }

	diag, zero, half := lum(0, 0), lum(1, 0), lum(2, 0)
	if diag > 0.2 {
		t.Errorf("diagonal cell (0.9) luminance %.3f, want dark (< 0.2)", diag)
	}
	if zero < 0.9 {
		t.Errorf("zero off-diagonal cell luminance %.3f, want near white (> 0.9)", zero)
	}
	// Also proves the orientation: were true class 0 at the bottom, the
	// top-left cell would hold row 2's 0.5.
	if !(diag < half && half < zero) {
		t.Errorf("luminance order in column 0: 0.9→%.3f 0.5→%.3f 0→%.3f, want increasing", diag, half, zero)
	}
	if l1, l2 := lum(1, 1), lum(0, 1); !(l1 < l2) {
		t.Errorf("column 1: 1.0 cell %.3f not darker than 0.1 cell %.3f", l1, l2)
	}
	// Pixels outside the data area (left margin, mid-height) are background.
	if got := img.At(2, size/2); luminance(got) < 0.99 {
		t.Errorf("margin pixel %v is not white", got)
	}
}

func TestConfusionHeatmapEmptyRowIsGrey(t *testing.T) {
	const size = 300
	var area vg.Rectangle
	b, err := confusionHeatmap("", [][]int{{3, 1}, {0, 0}}, nil, PNG, size, func(r vg.Rectangle) { area = r })
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b, size, size)
	c := cellPixel(area, 2, 1, 1, -0.3, 0.3, size)
	want := colNoSupport
	got := color.GrayModel.Convert(img.At(c.X, c.Y)).(color.Gray)
	if d := int(got.Y) - int(want.Y); d < -3 || d > 3 {
		t.Errorf("row without samples drawn as %v, want grey %v", got, want)
	}
}

func squareCounts(n int) ([][]int, []string) {
	counts := make([][]int, n)
	names := make([]string, n)
	for i := range counts {
		counts[i] = make([]int, n)
		counts[i][i] = 20 + i%7
		counts[i][(i*7+3)%n] += 1 + i%3
		names[i] = fmt.Sprintf("dog_%03d", i)
	}
	return counts, names
}

func TestConfusionHeatmapTextDensity(t *testing.T) {
	cases := []struct {
		n                 int
		wantNames, wantCt bool
	}{
		{3, true, true},
		{MaxCellTextClasses, true, true},
		{MaxCellTextClasses + 1, true, false},
		{MaxLabelledClasses, true, false},
		{MaxLabelledClasses + 1, false, false},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.n), func(t *testing.T) {
			counts, names := squareCounts(tc.n)
			b, err := ConfusionHeatmap("cm", counts, names, SVG, 700)
			if err != nil {
				t.Fatal(err)
			}
			texts := svgDoc(t, b)
			if got := slices.Contains(texts, names[0]); got != tc.wantNames {
				t.Errorf("class name labels present = %v, want %v", got, tc.wantNames)
			}
			// counts[0][0] (>= 20) can only appear as cell text.
			if got := slices.Contains(texts, strconv.Itoa(counts[0][0])); got != tc.wantCt {
				t.Errorf("per-cell counts present = %v, want %v", got, tc.wantCt)
			}
			if !slices.Contains(texts, "1.00") || !slices.Contains(texts, "0.00") {
				t.Errorf("colour bar labels missing: %q", texts)
			}
		})
	}
}

func TestConfusionHeatmap250Classes(t *testing.T) {
	counts, names := squareCounts(250)
	start := time.Now()
	b, err := ConfusionHeatmap("250 dogs", counts, names, SVG, 1000)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	texts := svgDoc(t, b)
	// Title, two axis labels and five colour bar labels: nothing per class.
	if len(texts) > 10 {
		t.Errorf("%d text elements for 250 classes, want only title/axes/colour bar: %q", len(texts), texts)
	}
	if containsText(texts, "dog_") {
		t.Errorf("class names drawn for 250 classes")
	}
	if len(b) > 1<<20 {
		t.Errorf("SVG is %d bytes, budget 1 MiB", len(b))
	}
	if elapsed > 10*time.Second {
		t.Errorf("SVG took %v", elapsed)
	}

	b, err = ConfusionHeatmap("250 dogs", counts, names, PNG, 1000)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, b, 1000, 1000)
	if len(b) > 2<<20 {
		t.Errorf("PNG is %d bytes, budget 2 MiB", len(b))
	}
}

func TestVariantComparison(t *testing.T) {
	vs := []VariantPoints{
		{Label: "resnet50 frozen", Values: []float64{0.81, 0.83, 0.80}, Mean: 0.8133, Lo: 0.79, Hi: 0.84},
		{Label: "efficientnet-b0 finetune", Values: []float64{0.86, 0.88, 0.87, 0.9}, Mean: 0.8775, Lo: 0.85, Hi: 0.9},
		{Label: "no interval", Values: []float64{0.7, 0.72}, Mean: 0.71, Lo: math.NaN(), Hi: math.NaN()},
	}
	b, err := VariantComparison("top-1 by variant", "top-1 accuracy", vs, SVG, 800, 400)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgDoc(t, b)
	for _, want := range []string{"top-1 by variant", "top-1 accuracy", "resnet50 frozen", "no interval", "replicate", "mean", "95% interval"} {
		if !containsText(texts, want) {
			t.Errorf("SVG has no text %q", want)
		}
	}
	b, err = VariantComparison("top-1", "acc", vs, PNG, 640, 300)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, b, 640, 300)
}

func TestVariantComparisonSingleValue(t *testing.T) {
	// One seed per variant: Lo/Hi are ignored whatever they hold.
	vs := []VariantPoints{
		{Label: "a", Values: []float64{0.8}, Mean: 0.8},
		{Label: "b", Values: []float64{0.85}, Mean: 0.85, Lo: math.NaN(), Hi: math.NaN()},
		{Label: "c", Values: []float64{0.85}, Mean: 0.85, Lo: 0.85, Hi: 0.85},
	}
	b, err := VariantComparison("one seed", "acc", vs, SVG, 600, 300)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgDoc(t, b)
	if containsText(texts, "interval") {
		t.Errorf("interval legend shown without any interval")
	}
	b, err = VariantComparison("one seed", "acc", vs[:1], PNG, 600, 300)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, b, 600, 300)
}

func TestErrorsNotPanics(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	good := []VariantPoints{{Label: "a", Values: []float64{1, 2}, Mean: 1.5, Lo: 1, Hi: 2}}
	counts := [][]int{{1, 0}, {0, 1}}
	cases := map[string]func() ([]byte, error){
		"no epochs": func() ([]byte, error) { return LearningCurve("t", nil, 0, 0, PNG, 400, 300) },
		"dup epoch": func() ([]byte, error) {
			return LearningCurve("t", []EpochPoint{{Epoch: 1}, {Epoch: 1}}, 0, 0, PNG, 400, 300)
		},
		"best outside":   func() ([]byte, error) { return LearningCurve("t", fiveEpochs, 9, 0, PNG, 400, 300) },
		"stop outside":   func() ([]byte, error) { return LearningCurve("t", fiveEpochs, 2, -1, SVG, 400, 300) },
		"bad format":     func() ([]byte, error) { return LearningCurve("t", fiveEpochs, 2, 0, "pdf", 400, 300) },
		"zero width":     func() ([]byte, error) { return LearningCurve("t", fiveEpochs, 2, 0, PNG, 0, 300) },
		"huge height":    func() ([]byte, error) { return LearningCurve("t", fiveEpochs, 2, 0, PNG, 400, MaxPixels+1) },
		"nil matrix":     func() ([]byte, error) { return ConfusionHeatmap("t", nil, nil, PNG, 400) },
		"empty rows":     func() ([]byte, error) { return ConfusionHeatmap("t", [][]int{{}}, nil, PNG, 400) },
		"ragged":         func() ([]byte, error) { return ConfusionHeatmap("t", [][]int{{1, 0}, {1}}, nil, PNG, 400) },
		"negative count": func() ([]byte, error) { return ConfusionHeatmap("t", [][]int{{1, -1}, {0, 1}}, nil, PNG, 400) },
		"name count":     func() ([]byte, error) { return ConfusionHeatmap("t", counts, []string{"a"}, PNG, 400) },
		"tiny heatmap":   func() ([]byte, error) { return ConfusionHeatmap("t", counts, nil, SVG, 10) },
		"no variants":    func() ([]byte, error) { return VariantComparison("t", "m", nil, PNG, 400, 300) },
		"no values": func() ([]byte, error) {
			return VariantComparison("t", "m", []VariantPoints{{Label: "a", Mean: 1}}, PNG, 400, 300)
		},
		"NaN value": func() ([]byte, error) {
			return VariantComparison("t", "m", []VariantPoints{{Label: "a", Values: []float64{1, nan}, Mean: 1, Lo: 0, Hi: 2}}, PNG, 400, 300)
		},
		"NaN single value": func() ([]byte, error) {
			return VariantComparison("t", "m", []VariantPoints{{Label: "a", Values: []float64{nan}, Mean: 1}}, SVG, 400, 300)
		},
		"Inf value": func() ([]byte, error) {
			return VariantComparison("t", "m", []VariantPoints{{Label: "a", Values: []float64{inf}, Mean: 1}}, PNG, 400, 300)
		},
		"NaN mean": func() ([]byte, error) {
			return VariantComparison("t", "m", []VariantPoints{{Label: "a", Values: []float64{1}, Mean: nan}}, PNG, 400, 300)
		},
		"half interval": func() ([]byte, error) {
			return VariantComparison("t", "m", []VariantPoints{{Label: "a", Values: []float64{1, 2}, Mean: 1.5, Lo: nan, Hi: 2}}, PNG, 400, 300)
		},
		"Lo > Hi": func() ([]byte, error) {
			return VariantComparison("t", "m", []VariantPoints{{Label: "a", Values: []float64{1, 2}, Mean: 1.5, Lo: 2, Hi: 1}}, PNG, 400, 300)
		},
		"variant bad format": func() ([]byte, error) { return VariantComparison("t", "m", good, "jpeg", 400, 300) },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panicked: %v", r)
				}
			}()
			b, err := fn()
			if err == nil {
				t.Fatalf("no error (got %d bytes)", len(b))
			}
			if b != nil {
				t.Errorf("bytes returned alongside error")
			}
			if !strings.HasPrefix(err.Error(), "plots: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// Small canvases must still render (or fail cleanly), never panic.
func TestMinimumSizes(t *testing.T) {
	counts, names := squareCounts(MaxLabelledClasses)
	vs := make([]VariantPoints, 30)
	for i := range vs {
		vs[i] = VariantPoints{Label: strings.Repeat("long label ", 5), Values: []float64{1, 2, 3}, Mean: 2, Lo: 1, Hi: 3}
	}
	for _, f := range []Format{PNG, SVG} {
		if _, err := LearningCurve(strings.Repeat("very long title ", 20), fiveEpochs, 3, 4, f, MinPixels, MinPixels); err != nil {
			t.Errorf("learning curve %s: %v", f, err)
		}
		if _, err := ConfusionHeatmap("cm", counts, names, f, MinPixels); err != nil {
			t.Errorf("heatmap %s: %v", f, err)
		}
		if _, err := VariantComparison("v", "m", vs, f, MinPixels, MinPixels); err != nil {
			t.Errorf("variants %s: %v", f, err)
		}
	}
}
