package plots

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// VariantPoints is one variant's replicate results (one value per seed) and
// their summary. Lo and Hi bound the 95% interval; it is drawn only with at
// least two values and may be left out by setting both to NaN.
type VariantPoints struct {
	Label        string
	Values       []float64
	Mean, Lo, Hi float64
}

const (
	maxVariantLabelRunes = 32
	jitterSpan           = 0.36 // fraction of a row the replicate dots spread over
)

// VariantComparison draws one row per variant (the first at the top): every
// replicate as a dot, the mean as a dark bar and the 95% interval as a line
// with caps. metric labels the value axis. Non-finite values or means are
// rejected because they would silently vanish from the picture.
func VariantComparison(title, metric string, variants []VariantPoints, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(variants) == 0 {
		return nil, errors.New("plots: variant comparison needs at least one variant")
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	withInterval := make([]bool, len(variants))
	for i, v := range variants {
		if len(v.Values) == 0 {
			return nil, fmt.Errorf("plots: variant %q has no values", v.Label)
		}
		for j, x := range v.Values {
			if !finite(x) {
				return nil, fmt.Errorf("plots: variant %q value %d is %v", v.Label, j, x)
			}
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		if !finite(v.Mean) {
			return nil, fmt.Errorf("plots: variant %q mean is %v", v.Label, v.Mean)
		}
		lo, hi = math.Min(lo, v.Mean), math.Max(hi, v.Mean)
		if len(v.Values) < 2 {
			continue // one seed has no spread to show
		}
		switch {
		case math.IsNaN(v.Lo) && math.IsNaN(v.Hi):
			// caller has no interval
		case !finite(v.Lo) || !finite(v.Hi):
			return nil, fmt.Errorf("plots: variant %q interval [%v, %v] is not finite", v.Label, v.Lo, v.Hi)
		case v.Lo > v.Hi:
			return nil, fmt.Errorf("plots: variant %q interval [%v, %v] has Lo > Hi", v.Label, v.Lo, v.Hi)
		default:
			withInterval[i] = true
			lo, hi = math.Min(lo, v.Lo), math.Max(hi, v.Hi)
		}
	}
	if metric == "" {
		metric = "value"
	}

	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		n := len(variants)
		row := func(i int) float64 { return float64(n - 1 - i) }

		var dots plotter.XYs
		var means plotter.XYs
		var ivXY plotter.XYs
		var ivErr plotter.XErrors
		ticks := make([]plot.Tick, n)
		for i, v := range variants {
			ticks[i] = plot.Tick{Value: row(i), Label: shorten(v.Label, maxVariantLabelRunes)}
			for j, x := range v.Values {
				// Even, deterministic spread instead of random jitter keeps the
				// output reproducible.
				off := 0.0
				if m := len(v.Values); m > 1 {
					off = jitterSpan * (float64(j)/float64(m-1) - 0.5)
				}
				dots = append(dots, plotter.XY{X: x, Y: row(i) + off})
			}
			means = append(means, plotter.XY{X: v.Mean, Y: row(i)})
			if withInterval[i] {
				// Bar from Lo to Hi anchored at Lo: XErrorBars takes absolute
				// offsets, so anchoring at the mean would mirror a lopsided interval.
				ivXY = append(ivXY, plotter.XY{X: v.Lo, Y: row(i)})
				ivErr = append(ivErr, struct{ Low, High float64 }{0, v.Hi - v.Lo})
			}
		}

		p := newPlot(scale)
		p.X.Label.Text = metric
		p.Y.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Tick.Length = 0
		p.Y.Width = 0
		rowH := c.Size().Y * 0.7 / vg.Length(n)
		p.Y.Tick.Label.Font.Size = max(minText, min(p.Y.Tick.Label.Font.Size, rowH*0.6))
		p.Add(gridLines{x: true, y: true})

		dotSty := draw.GlyphStyle{Color: colDots, Radius: vg.Length(2.8 * scale), Shape: draw.CircleGlyph{}}
		meanSty := draw.GlyphStyle{Color: colMean, Radius: vg.Length(7 * scale), Shape: meanGlyph{}}
		ivSty := draw.LineStyle{Color: colMean, Width: vg.Length(1.2 * scale)}
		capW := vg.Length(8 * scale)

		if len(ivXY) > 0 {
			p.Add(&plotter.XErrorBars{XYs: ivXY, XErrors: ivErr, LineStyle: ivSty, CapWidth: capW})
		}
		sc, err := plotter.NewScatter(dots)
		if err != nil {
			return fmt.Errorf("plots: replicate dots: %w", err)
		}
		sc.GlyphStyle = dotSty
		p.Add(sc)
		ms, err := plotter.NewScatter(means)
		if err != nil {
			return fmt.Errorf("plots: means: %w", err)
		}
		ms.GlyphStyle = meanSty
		p.Add(ms)

		p.X.Min, p.X.Max = paddedRange(lo, hi)
		p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5

		items := []legendItem{
			{"replicate (seed)", []plot.Thumbnailer{sc}},
			// Legend copy of the mean mark, shrunk to the legend's line height.
			{"mean", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: draw.GlyphStyle{
				Color: colMean, Radius: vg.Length(4.5 * scale), Shape: meanGlyph{}}}}},
		}
		if len(ivXY) > 0 {
			items = append(items, legendItem{"95% interval", []plot.Thumbnailer{intervalThumb{ivSty, capW}}})
		}
		c = drawTitle(c, title, scale)
		c = newLegendStrip(scale, items...).draw(c)
		p.Draw(draw.Crop(c, vg.Length(4*scale), -vg.Length(10*scale), vg.Length(4*scale), 0))
		return nil
	})
}

// meanGlyph is a short thick vertical bar: it reads as "the centre" and does
// not hide the round replicate dots behind it.
type meanGlyph struct{}

func (meanGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: sty.Radius / 3}
	c.StrokeLine2(ls, pt.X, pt.Y-sty.Radius, pt.X, pt.Y+sty.Radius)
}

// intervalThumb is the legend picture of an interval bar.
type intervalThumb struct {
	sty draw.LineStyle
	cap vg.Length
}

func (t intervalThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	x0, x1 := c.Min.X+1, c.Max.X-1
	c.StrokeLine2(t.sty, x0, y, x1, y)
	h := min(t.cap, c.Size().Y) / 2
	c.StrokeLine2(t.sty, x0, y-h, x0, y+h)
	c.StrokeLine2(t.sty, x1, y-h, x1, y+h)
}
