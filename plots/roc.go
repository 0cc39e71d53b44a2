package plots

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ROCPoint is one point of a verification ROC curve: the shares of impostor
// pairs (FAR) and of genuine pairs (TAR) accepted at some threshold.
type ROCPoint struct{ FAR, TAR float64 }

// ROCCurve is one variant's curve, in ascending FAR, with an optional band
// (Lo and Hi per point, NaN for none) such as the lowest and highest draw.
type ROCCurve struct {
	Label  string
	Points []ROCPoint
	Lo, Hi []float64
}

// ROCCurves draws verification ROC curves with the false-accept rate on a
// log axis, where the operating points that matter (1%, 0.1%) are, and a
// dotted line at each of marks (target FARs). Points with FAR 0 cannot be
// drawn on a log axis and are left out.
func ROCCurves(title string, curves []ROCCurve, marks []float64, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(curves) == 0 {
		return nil, errors.New("plots: an ROC chart needs at least one curve")
	}
	lo := 1.0
	for _, c := range curves {
		if (c.Lo != nil && len(c.Lo) != len(c.Points)) || (c.Hi != nil && len(c.Hi) != len(c.Points)) {
			return nil, fmt.Errorf("plots: ROC curve %q has %d points but %d and %d band values", c.Label, len(c.Points), len(c.Lo), len(c.Hi))
		}
		drawn := 0
		for _, p := range c.Points {
			if !finite(p.FAR) || !finite(p.TAR) || p.FAR < 0 || p.FAR > 1 || p.TAR < 0 || p.TAR > 1 {
				return nil, fmt.Errorf("plots: ROC curve %q has point (%v, %v) outside [0, 1]", c.Label, p.FAR, p.TAR)
			}
			if p.FAR > 0 {
				lo = math.Min(lo, p.FAR)
				drawn++
			}
		}
		if drawn == 0 {
			return nil, fmt.Errorf("plots: ROC curve %q has no point with a FAR above 0", c.Label)
		}
	}
	for _, m := range marks {
		if m > 0 && m < 1 {
			lo = math.Min(lo, m)
		}
	}
	decades := math.Floor(math.Log10(lo))

	return render(f, widthPx, heightPx, func(cv draw.Canvas) error {
		scale := fontScale(cv)
		p := newPlot(scale)
		p.X.Label.Text = "false-accept rate (log scale)"
		p.Y.Label.Text = "true-accept rate"
		var ticks []plot.Tick
		for d := decades; d <= 0; d++ {
			ticks = append(ticks, plot.Tick{Value: d, Label: strconv.FormatFloat(math.Pow(10, d), 'g', -1, 64)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Add(gridLines{x: true, y: true})
		markSty := draw.LineStyle{Color: colMean, Width: vg.Length(0.8 * scale), Dashes: []vg.Length{vg.Length(2 * scale), vg.Length(3 * scale)}}
		for _, m := range marks {
			if m > 0 && m < 1 {
				p.Add(vline{x: math.Log10(m), style: markSty})
			}
		}
		var items []legendItem
		band := false
		for i, c := range curves {
			var line plotter.XYs
			var upper, lower plotter.XYs
			for k, pt := range c.Points {
				if pt.FAR <= 0 {
					continue
				}
				x := math.Log10(pt.FAR)
				line = append(line, plotter.XY{X: x, Y: pt.TAR})
				if c.Lo != nil && c.Hi != nil && finite(c.Lo[k]) && finite(c.Hi[k]) {
					lower = append(lower, plotter.XY{X: x, Y: c.Lo[k]})
					upper = append(upper, plotter.XY{X: x, Y: c.Hi[k]})
				}
			}
			thumbs := []plot.Thumbnailer{}
			if len(upper) > 1 {
				band = true
				poly := append(upper, reversed(lower)...)
				shade := &plotter.Polygon{XYs: []plotter.XYs{poly}, Color: seriesColour(i, bandAlpha)}
				p.Add(shade)
				thumbs = append(thumbs, shade)
			}
			l := &plotter.Line{XYs: line, LineStyle: seriesLine(i, scale)}
			p.Add(l)
			thumbs = append(thumbs, l)
			items = append(items, legendItem{shorten(c.Label, maxVariantLabelRunes), thumbs})
		}
		if band {
			items = append(items, legendItem{"band: lowest to highest draw", []plot.Thumbnailer{&plotter.Polygon{Color: colGridDark}}})
		}
		if len(marks) > 0 {
			items = append(items, legendItem{"target FAR", []plot.Thumbnailer{vline{style: markSty}}})
		}
		p.X.Min, p.X.Max = decades, 0
		p.Y.Min, p.Y.Max = 0, 1

		cv = drawTitle(cv, title, scale)
		cv = newLegendStrip(scale, items...).draw(cv)
		p.Draw(draw.Crop(cv, vg.Length(4*scale), -vg.Length(10*scale), vg.Length(4*scale), 0))
		return nil
	})
}

func reversed(xy plotter.XYs) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	for i, v := range xy {
		out[len(xy)-1-i] = v
	}
	return out
}
