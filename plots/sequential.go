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

// PathLook is one look of a settled comparison, in the units of the
// difference: the mean paired difference, its repeated interval, and the
// boundaries it is judged against.
type PathLook struct {
	Seeds        int
	Mean, Lo, Hi float64
	// DiffBound: better when Mean > DiffBound, worse when Mean < -DiffBound.
	// EqBound: equivalent when |Mean| < EqBound (never when it is <= 0).
	DiffBound, EqBound float64
}

// SequentialPath draws a settled comparison look by look: the mean
// difference with its repeated interval, 0 and ±margin, the boundary the
// mean must pass to be better or worse and the one it must stay within to be
// equivalent. The x axis runs to maxSeeds, the cap. Early boundaries of an
// O'Brien-Fleming design lie far outside the chart and are cut at its edge,
// as are intervals: an interval cut there has no cap at that end.
func SequentialPath(title, metric string, looks []PathLook, margin float64, maxSeeds int, level float64, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(looks) == 0 {
		return nil, errors.New("plots: a sequential path needs at least one look")
	}
	if !(margin >= 0) || maxSeeds < 1 {
		return nil, fmt.Errorf("plots: sequential path with margin %v and cap %d", margin, maxSeeds)
	}
	lim := 3 * margin
	for i, l := range looks {
		for _, v := range []float64{l.Mean, l.Lo, l.Hi, l.DiffBound, l.EqBound} {
			if math.IsNaN(v) {
				return nil, fmt.Errorf("plots: look %d (%d seeds) has NaN", i+1, l.Seeds)
			}
		}
		if l.Lo > l.Hi {
			return nil, fmt.Errorf("plots: look %d: interval [%v, %v] has Lo > Hi", i+1, l.Lo, l.Hi)
		}
		lim = math.Max(lim, 1.4*math.Abs(l.Mean))
	}
	// The last interval is the narrowest and says most; show it whole
	// unless it dwarfs everything else.
	last := looks[len(looks)-1]
	lim = math.Max(lim, math.Min(1.1*math.Max(math.Abs(last.Lo), math.Abs(last.Hi)), 3*lim))
	if lim == 0 {
		lim = 0.01
	}
	if metric == "" {
		metric = "difference"
	}

	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		p := newPlot(scale)
		p.X.Label.Text = "paired seeds"
		p.Y.Label.Text = metric
		p.Add(gridLines{y: true})
		xMax := float64(maxSeeds) + 0.5

		width := vg.Length(1.2 * scale)
		zero := draw.LineStyle{Color: colMean, Width: vg.Length(0.8 * scale)}
		marginSty := draw.LineStyle{Color: seriesColour(6, 0xa0), Width: width, Dashes: []vg.Length{vg.Length(6 * scale), vg.Length(3 * scale)}}
		diffSty := draw.LineStyle{Color: colStop, Width: width, Dashes: []vg.Length{vg.Length(2 * scale), vg.Length(2 * scale)}}
		eqSty := draw.LineStyle{Color: colBest, Width: width, Dashes: []vg.Length{vg.Length(4 * scale), vg.Length(2 * scale)}}
		ivSty := draw.LineStyle{Color: seriesColour(0, 0xff), Width: width}
		hline := func(y float64, sty draw.LineStyle) {
			p.Add(&plotter.Line{XYs: plotter.XYs{{X: 0, Y: y}, {X: xMax, Y: y}}, LineStyle: sty})
		}
		hline(0, zero)
		if margin > 0 {
			hline(margin, marginSty)
			hline(-margin, marginSty)
		}
		var upper, lower, means plotter.XYs
		var eqUp, eqDown plotter.XYs
		for _, l := range looks {
			x := float64(l.Seeds)
			upper = append(upper, plotter.XY{X: x, Y: l.DiffBound})
			lower = append(lower, plotter.XY{X: x, Y: -l.DiffBound})
			means = append(means, plotter.XY{X: x, Y: l.Mean})
			if l.EqBound > 0 {
				eqUp = append(eqUp, plotter.XY{X: x, Y: l.EqBound})
				eqDown = append(eqDown, plotter.XY{X: x, Y: -l.EqBound})
			}
		}
		// Boundaries exist at the looks only: a mark at each, joined by lines.
		bound := func(xy plotter.XYs, sty draw.LineStyle) {
			if len(xy) == 0 {
				return
			}
			p.Add(&plotter.Line{XYs: xy, LineStyle: sty})
			var inside plotter.XYs
			for _, pt := range xy {
				if math.Abs(pt.Y) <= lim {
					inside = append(inside, pt)
				}
			}
			if len(inside) > 0 {
				p.Add(&plotter.Scatter{XYs: inside, GlyphStyle: draw.GlyphStyle{Color: sty.Color, Radius: vg.Length(2.5 * scale), Shape: draw.CrossGlyph{}}})
			}
		}
		bound(upper, diffSty)
		bound(lower, diffSty)
		bound(eqUp, eqSty)
		bound(eqDown, eqSty)
		p.Add(pathBars{looks: looks, lim: lim, sty: ivSty, cap: vg.Length(6 * scale)})
		p.Add(&plotter.Line{XYs: means, LineStyle: draw.LineStyle{Color: colMean, Width: vg.Length(0.8 * scale)}})
		meanSty := draw.GlyphStyle{Color: colMean, Radius: vg.Length(3.5 * scale), Shape: draw.CircleGlyph{}}
		p.Add(&plotter.Scatter{XYs: means, GlyphStyle: meanSty})

		lineThumb := func(sty draw.LineStyle) []plot.Thumbnailer {
			return []plot.Thumbnailer{&plotter.Line{LineStyle: sty}}
		}
		items := []legendItem{
			{"mean difference", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: meanSty}}},
			{fmt.Sprintf("%.4g%% repeated interval", 100*level), []plot.Thumbnailer{verticalIntervalThumb{ivSty}}},
			{"better / worse beyond", lineThumb(diffSty)},
		}
		if margin > 0 {
			items = append(items,
				legendItem{"equivalent within", lineThumb(eqSty)},
				legendItem{fmt.Sprintf("±margin %g", margin), lineThumb(marginSty)})
		}
		// After every Add, which widens the axes to the boundaries.
		p.X.Min, p.X.Max = 0, xMax
		p.Y.Min, p.Y.Max = -lim, lim
		c = drawTitle(c, title, scale)
		c = newLegendStrip(scale, items...).draw(c)
		p.Draw(draw.Crop(c, vg.Length(4*scale), -vg.Length(10*scale), vg.Length(4*scale), 0))
		return nil
	})
}

// pathBars draws each look's interval, cut at ±lim; a cut end has no cap.
type pathBars struct {
	looks []PathLook
	lim   float64
	sty   draw.LineStyle
	cap   vg.Length
}

func (b pathBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for _, l := range b.looks {
		x := trX(float64(l.Seeds))
		lo, hi := math.Max(l.Lo, -b.lim), math.Min(l.Hi, b.lim)
		if lo > hi {
			continue
		}
		c.StrokeLine2(b.sty, x, trY(lo), x, trY(hi))
		if lo == l.Lo {
			c.StrokeLine2(b.sty, x-b.cap/2, trY(lo), x+b.cap/2, trY(lo))
		}
		if hi == l.Hi {
			c.StrokeLine2(b.sty, x-b.cap/2, trY(hi), x+b.cap/2, trY(hi))
		}
	}
}
