package plots

import (
	"image/color"
	"math"
	"strings"
	"testing"
)

var searchParams = []SearchParam{
	{Name: "train.lr", Log: true},
	{Name: "head.dropout"},
	{Name: "head.type", Labels: []string{"dense", "cosine"}},
}

// searchStudies are two seeds' draws: accuracy peaks at lr 0.01 with a
// dense head; every fourth draw was pruned.
func searchStudies() []SearchStudy {
	var out []SearchStudy
	for s := range 2 {
		st := SearchStudy{Label: []string{"seed 1", "seed 2"}[s]}
		for n := 1; n <= 24; n++ {
			lr := math.Pow(10, -3+2*math.Mod(float64(n)*0.37+float64(s)*0.11, 1))
			drop := math.Mod(float64(n)*0.21, 0.5)
			head := float64(n % 2)
			v := 0.8 - 0.1*math.Abs(math.Log10(lr)+2) - 0.05*head - 0.1*drop
			st.Trials = append(st.Trials, SearchTrial{N: n, Value: v, Pruned: n%4 == 0, Params: []float64{lr, drop, head}})
		}
		out = append(out, st)
	}
	return out
}

func TestSearchFigures(t *testing.T) {
	studies := searchStudies()
	for name, fig := range map[string]func(Format, int, int) ([]byte, error){
		"history": func(f Format, w, h int) ([]byte, error) {
			return SearchHistory("history", "validation accuracy", studies, true, f, w, h)
		},
		"slices": func(f Format, w, h int) ([]byte, error) {
			return SearchSlices("slices", "validation accuracy", searchParams, studies, f, w, h)
		},
		"parallel": func(f Format, w, h int) ([]byte, error) {
			return ParallelCoordinates("parallel", "validation accuracy", searchParams, studies, true, f, w, h)
		},
	} {
		b, err := fig(SVG, 900, 420)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		texts := svgDoc(t, b)
		want := map[string][]string{
			"history":  {"history", "draw", "validation accuracy", "seed 1: best so far", "seed 2: best so far", "complete draw", "pruned (its last epoch)"},
			"slices":   {"slices", "train.lr (log scale)", "head.dropout", "head.type", "dense", "cosine", "seed 1", "pruned (its last epoch)"},
			"parallel": {"parallel", "train.lr", "head.dropout", "head.type", "dense", "cosine", "validation accuracy"},
		}[name]
		for _, w := range want {
			if !containsText(texts, w) {
				t.Errorf("%s: SVG has no text %q", name, w)
			}
		}
		b, err = fig(PNG, 640, 320)
		if err != nil {
			t.Fatalf("%s PNG: %v", name, err)
		}
		decodePNG(t, b, 640, 320)
	}
}

// The best complete draw's line is the darkest of the ramp, drawn on top.
func TestParallelCoordinatesDrawsTheBestDarkest(t *testing.T) {
	b, err := ParallelCoordinates("", "val", searchParams, searchStudies(), true, PNG, 800, 400)
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, b, 800, 400)
	dark, light := ramp(1), ramp(0)
	var darkPx, lightPx int
	near := func(c color.Color, want color.NRGBA) bool {
		r, g, bl, _ := c.RGBA()
		d := func(a uint32, b uint8) float64 { return math.Abs(float64(a>>8) - float64(b)) }
		// the line is drawn at alpha 0xd0 over white
		blend := func(x uint8) uint8 { return uint8(float64(x)*0xd0/0xff + 255*(1-float64(0xd0)/0xff)) }
		return d(r, blend(want.R)) < 12 && d(g, blend(want.G)) < 12 && d(bl, blend(want.B)) < 12
	}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			switch c := img.At(x, y); {
			case near(c, dark):
				darkPx++
			case near(c, light):
				lightPx++
			}
		}
	}
	if darkPx < 50 {
		t.Errorf("%d pixels of the best draw's colour", darkPx)
	}
	t.Logf("%d pixels of the best colour, %d of the worst", darkPx, lightPx)
}

func TestSearchFiguresRefuseWhatWouldVanish(t *testing.T) {
	bad := func(edit func(*SearchTrial)) []SearchStudy {
		s := searchStudies()
		edit(&s[0].Trials[3])
		return s
	}
	for name, tc := range map[string]struct {
		studies []SearchStudy
		params  []SearchParam
		want    string
	}{
		"nan value":    {bad(func(t *SearchTrial) { t.Value = math.NaN() }), searchParams, "value NaN"},
		"choice index": {bad(func(t *SearchTrial) { t.Params[2] = 2 }), searchParams, "head.type choice 2 of 2"},
		"log zero":     {bad(func(t *SearchTrial) { t.Params[0] = 0 }), searchParams, "train.lr = 0"},
		"short point":  {bad(func(t *SearchTrial) { t.Params = t.Params[:2] }), searchParams, "has 2 parameters, want 3"},
		"no params":    {searchStudies(), nil, "at least one parameter"},
		"no studies":   {nil, searchParams, "at least one study"},
	} {
		_, err1 := SearchSlices("t", "m", tc.params, tc.studies, PNG, 400, 300)
		_, err2 := ParallelCoordinates("t", "m", tc.params, tc.studies, true, PNG, 400, 300)
		for _, err := range []error{err1, err2} {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
			}
		}
	}
	if _, err := SearchHistory("t", "m", nil, true, PNG, 400, 300); err == nil {
		t.Error("a history of no study drew")
	}
}
