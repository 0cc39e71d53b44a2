package plots

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// AxisPoint is one value of a swept setting within a series: the metric of
// every seed, their mean and the 95% interval (Lo and Hi NaN for none).
type AxisPoint struct {
	X            int // index into the axis values
	Values       []float64
	Mean, Lo, Hi float64
}

// AxisSeries is one combination of the other swept settings (e.g. one
// backbone) across the values of the charted setting.
type AxisSeries struct {
	Label  string
	Points []AxisPoint
}

// logRatio: numeric axes whose values span at least this factor (learning
// rates, weight decays) are drawn on a log scale, or all but the largest
// value would crowd at the left.
const logRatio = 50

// SweepAxis draws a metric against one swept setting: values are the
// setting's values as labels and positions their numbers (nil for a
// categorical setting such as a backbone name, drawn evenly spaced). Each
// series gets its colour; per value it shows every seed as a small dot, the
// mean as a large dot and the 95% interval as a bar with caps. On a numeric
// axis the means of a series are joined by a line. Series are shifted
// sideways a little so they do not hide each other.
func SweepAxis(title, axis, metric string, values []string, positions []float64, series []AxisSeries, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(values) == 0 {
		return nil, errors.New("plots: sweep axis chart needs at least one axis value")
	}
	if len(series) == 0 {
		return nil, errors.New("plots: sweep axis chart needs at least one series")
	}
	xs, logX, err := axisPositions(values, positions)
	if err != nil {
		return nil, err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, pt := range s.Points {
			if pt.X < 0 || pt.X >= len(values) {
				return nil, fmt.Errorf("plots: series %q point at axis index %d, have %d values", s.Label, pt.X, len(values))
			}
			if len(pt.Values) == 0 {
				return nil, fmt.Errorf("plots: series %q at %s has no values", s.Label, values[pt.X])
			}
			for _, v := range append([]float64{pt.Mean}, pt.Values...) {
				if !finite(v) {
					return nil, fmt.Errorf("plots: series %q at %s has value %v", s.Label, values[pt.X], v)
				}
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			if hasInterval(pt) {
				if pt.Lo > pt.Hi {
					return nil, fmt.Errorf("plots: series %q at %s: interval [%v, %v] has Lo > Hi", s.Label, values[pt.X], pt.Lo, pt.Hi)
				}
				lo, hi = math.Min(lo, pt.Lo), math.Max(hi, pt.Hi)
			}
		}
	}
	if metric == "" {
		metric = "value"
	}

	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		p := newPlot(scale)
		p.X.Label.Text = axis
		if logX {
			p.X.Label.Text += " (log scale)"
		}
		p.Y.Label.Text = metric
		ticks := make([]plot.Tick, len(values))
		for i, v := range values {
			ticks[i] = plot.Tick{Value: xs[i], Label: shorten(v, maxVariantLabelRunes)}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Add(gridLines{y: true})

		// Sideways shift per series: a fraction of the closest gap between
		// axis values, so dots of neighbouring values never mix.
		gap := 1.0
		if len(xs) > 1 {
			sorted := slices.Clone(xs)
			slices.Sort(sorted)
			gap = math.Inf(1)
			for i := 1; i < len(sorted); i++ {
				gap = math.Min(gap, sorted[i]-sorted[i-1])
			}
		}
		step := gap * 0.3 / float64(max(len(series), 2))
		spread := step * 0.5 // seeds of one point
		var items []legendItem
		anyInterval := false
		for si, s := range series {
			off := (float64(si) - float64(len(series)-1)/2) * step
			pts := slices.Clone(s.Points)
			slices.SortFunc(pts, func(a, b AxisPoint) int { return cmp.Compare(xs[a.X], xs[b.X]) })
			var dots, means plotter.XYs
			var ivXY plotter.XYs
			var ivErr plotter.YErrors
			for _, pt := range pts {
				x := xs[pt.X] + off
				// Seeds in a narrow strip right of the interval bar, never under it.
				for j, v := range pt.Values {
					d := spread * 0.5
					if m := len(pt.Values); m > 1 {
						d = spread * (0.3 + 0.7*float64(j)/float64(m-1))
					}
					dots = append(dots, plotter.XY{X: x + d, Y: v})
				}
				means = append(means, plotter.XY{X: x, Y: pt.Mean})
				if hasInterval(pt) {
					anyInterval = true
					ivXY = append(ivXY, plotter.XY{X: x, Y: pt.Lo})
					ivErr = append(ivErr, struct{ Low, High float64 }{0, pt.Hi - pt.Lo})
				}
			}
			col := seriesColour(si, 0xff)
			if positions != nil && len(means) > 1 {
				p.Add(&plotter.Line{XYs: means, LineStyle: draw.LineStyle{Color: seriesColour(si, 0x90), Width: vg.Length(1.2 * scale), Dashes: seriesDashes(si, scale)}})
			}
			if len(ivXY) > 0 {
				p.Add(&plotter.YErrorBars{XYs: ivXY, YErrors: ivErr,
					LineStyle: draw.LineStyle{Color: col, Width: vg.Length(1.2 * scale)}, CapWidth: vg.Length(7 * scale)})
			}
			p.Add(&plotter.Scatter{XYs: dots, GlyphStyle: draw.GlyphStyle{Color: seriesColour(si, 0x90), Radius: vg.Length(2.2 * scale), Shape: draw.CircleGlyph{}}})
			meanSty := draw.GlyphStyle{Color: col, Radius: vg.Length(4 * scale), Shape: draw.CircleGlyph{}}
			p.Add(&plotter.Scatter{XYs: means, GlyphStyle: meanSty})
			if s.Label != "" {
				items = append(items, legendItem{shorten(s.Label, maxVariantLabelRunes), []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: meanSty}}})
			}
		}
		grey := seriesColour(6, 0xff)
		items = append(items,
			legendItem{"seed", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: seriesColour(6, 0x90), Radius: vg.Length(2.2 * scale), Shape: draw.CircleGlyph{}}}}},
			legendItem{"mean", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: grey, Radius: vg.Length(4 * scale), Shape: draw.CircleGlyph{}}}}},
		)
		if anyInterval {
			items = append(items, legendItem{"95% interval", []plot.Thumbnailer{verticalIntervalThumb{draw.LineStyle{Color: grey, Width: vg.Length(1.2 * scale)}}}})
		}

		xlo, xhi := slices.Min(xs), slices.Max(xs)
		pad := gap * 0.5
		p.X.Min, p.X.Max = xlo-pad, xhi+pad
		p.Y.Min, p.Y.Max = paddedRange(lo, hi)

		c = drawTitle(c, title, scale)
		c = newLegendStrip(scale, items...).draw(c)
		p.Draw(draw.Crop(c, vg.Length(4*scale), -vg.Length(10*scale), vg.Length(4*scale), 0))
		return nil
	})
}

func hasInterval(pt AxisPoint) bool {
	return len(pt.Values) > 1 && finite(pt.Lo) && finite(pt.Hi)
}

// axisPositions returns where each axis value sits on the x axis.
func axisPositions(values []string, positions []float64) (xs []float64, logX bool, err error) {
	xs = make([]float64, len(values))
	if positions == nil {
		for i := range xs {
			xs[i] = float64(i)
		}
		return xs, false, nil
	}
	if len(positions) != len(values) {
		return nil, false, fmt.Errorf("plots: %d positions for %d axis values", len(positions), len(values))
	}
	seen := map[float64]bool{}
	allPositive := true
	for i, x := range positions {
		if !finite(x) {
			return nil, false, fmt.Errorf("plots: axis value %q at position %v", values[i], x)
		}
		if seen[x] {
			return nil, false, fmt.Errorf("plots: two axis values at position %v", x)
		}
		seen[x] = true
		allPositive = allPositive && x > 0
	}
	lo, hi := slices.Min(positions), slices.Max(positions)
	logX = allPositive && hi/lo >= logRatio
	for i, x := range positions {
		xs[i] = x
		if logX {
			xs[i] = math.Log10(x)
		}
	}
	return xs, logX, nil
}

// verticalIntervalThumb is the legend picture of a vertical interval bar.
type verticalIntervalThumb struct{ sty draw.LineStyle }

func (t verticalIntervalThumb) Thumbnail(c *draw.Canvas) {
	x := c.Center().X
	y0, y1 := c.Min.Y+1, c.Max.Y-1
	h := c.Size().X / 5
	c.StrokeLine2(t.sty, x, y0, x, y1)
	c.StrokeLine2(t.sty, x-h, y0, x+h, y0)
	c.StrokeLine2(t.sty, x-h, y1, x+h, y1)
}
