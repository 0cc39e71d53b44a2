package plots

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// VariantHistory is one variant's training histories, one per seed.
type VariantHistory struct {
	Label string
	Seeds [][]EpochPoint
}

// bandAlpha keeps overlapping bands of several variants readable.
const bandAlpha = 0x40

// VariantCurves overlays the variants' validation loss (left) and validation
// accuracy (right) per epoch. Each variant gets a line through the mean over
// its seeds and a translucent band from the lowest to the highest seed. Seeds
// stop at different epochs under early stopping: the mean at an epoch is over
// the seeds that reached it, and a cross marks the last epoch of each seed so
// a jump in the mean can be traced to a seed that stopped. Non-finite values
// are left out.
func VariantCurves(title string, variants []VariantHistory, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(variants) == 0 {
		return nil, errors.New("plots: variant curves need at least one variant")
	}
	first, last := math.MaxInt, math.MinInt
	for _, v := range variants {
		if len(v.Seeds) == 0 {
			return nil, fmt.Errorf("plots: variant %q has no seeds", v.Label)
		}
		for s, eps := range v.Seeds {
			if len(eps) == 0 {
				return nil, fmt.Errorf("plots: variant %q seed %d has no epochs", v.Label, s)
			}
			seen := map[int]bool{}
			for _, e := range eps {
				if seen[e.Epoch] {
					return nil, fmt.Errorf("plots: variant %q seed %d has epoch %d twice", v.Label, s, e.Epoch)
				}
				seen[e.Epoch] = true
				first, last = min(first, e.Epoch), max(last, e.Epoch)
			}
		}
	}

	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		loss := bandPanel("validation loss", variants, func(e EpochPoint) float64 { return e.ValLoss }, first, last, scale)
		acc := bandPanel("validation accuracy", variants, func(e EpochPoint) float64 { return e.ValAccuracy }, first, last, scale)

		items := make([]legendItem, 0, len(variants)+2)
		for i, v := range variants {
			band := &plotter.Polygon{Color: seriesColour(i, bandAlpha)}
			line := &plotter.Line{LineStyle: seriesLine(i, scale)}
			line.LineStyle.Dashes = nil
			items = append(items, legendItem{shorten(v.Label, maxVariantLabelRunes), []plot.Thumbnailer{band, line}})
		}
		items = append(items,
			legendItem{"band: lowest to highest seed", []plot.Thumbnailer{&plotter.Polygon{Color: colGridDark}}},
			legendItem{"last epoch of a seed", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: stopGlyph(6, scale)}}},
		)

		drawLossAndAccuracy(c, title, scale, items, loss, acc)
		return nil
	})
}

// colGridDark is the neutral swatch of the legend's band entry.
var colGridDark = seriesColour(6, bandAlpha)

func stopGlyph(i int, scale float64) draw.GlyphStyle {
	return draw.GlyphStyle{Color: seriesColour(i, 0xff), Radius: vg.Length(3 * scale), Shape: draw.CrossGlyph{}}
}

// bandStats is one epoch of one variant: mean, lowest and highest seed.
type bandStats struct {
	epoch         int
	mean, lo, hi  float64
	finishedSeeds []float64 // values of the seeds whose last epoch this is
}

// variantBand summarises a variant's seeds per epoch.
func variantBand(v VariantHistory, get func(EpochPoint) float64) []bandStats {
	byEpoch := map[int][]float64{}
	lastOf := map[int][]float64{}
	for _, eps := range v.Seeds {
		lastEpoch, lastVal := math.MinInt, math.NaN()
		for _, e := range eps {
			if x := get(e); finite(x) {
				byEpoch[e.Epoch] = append(byEpoch[e.Epoch], x)
				if e.Epoch > lastEpoch {
					lastEpoch, lastVal = e.Epoch, x
				}
			}
		}
		if lastEpoch != math.MinInt {
			lastOf[lastEpoch] = append(lastOf[lastEpoch], lastVal)
		}
	}
	epochs := make([]int, 0, len(byEpoch))
	for e := range byEpoch {
		epochs = append(epochs, e)
	}
	slices.Sort(epochs)
	out := make([]bandStats, len(epochs))
	for i, e := range epochs {
		xs := byEpoch[e]
		s := bandStats{epoch: e, lo: math.Inf(1), hi: math.Inf(-1), finishedSeeds: lastOf[e]}
		for _, x := range xs {
			s.mean += x / float64(len(xs))
			s.lo, s.hi = math.Min(s.lo, x), math.Max(s.hi, x)
		}
		out[i] = s
	}
	return out
}

func bandPanel(metric string, variants []VariantHistory, get func(EpochPoint) float64, first, last int, scale float64) *plot.Plot {
	p := newPlot(scale)
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = metric
	p.X.Tick.Marker = plot.TickerFunc(integerTicks)
	p.X.Min, p.X.Max = float64(first), float64(last)
	p.Add(gridLines{y: true})

	lo, hi := math.Inf(1), math.Inf(-1)
	var lines, stops []plot.Plotter
	for i, v := range variants {
		stats := variantBand(v, get)
		if len(stats) == 0 {
			continue
		}
		mean := make(plotter.XYs, len(stats))
		ring := make(plotter.XYs, 0, 2*len(stats))
		var ends plotter.XYs
		for j, s := range stats {
			mean[j] = plotter.XY{X: float64(s.epoch), Y: s.mean}
			ring = append(ring, plotter.XY{X: float64(s.epoch), Y: s.hi})
			lo, hi = math.Min(lo, s.lo), math.Max(hi, s.hi)
			for _, y := range s.finishedSeeds {
				ends = append(ends, plotter.XY{X: float64(s.epoch), Y: y})
			}
		}
		for j := len(stats) - 1; j >= 0; j-- {
			ring = append(ring, plotter.XY{X: float64(stats[j].epoch), Y: stats[j].lo})
		}
		band := &plotter.Polygon{XYs: []plotter.XYs{ring}, Color: seriesColour(i, bandAlpha)}
		p.Add(band) // bands first, so no band covers another variant's line
		lines = append(lines, &plotter.Line{XYs: mean, LineStyle: seriesLine(i, scale)})
		if len(ends) > 0 {
			stops = append(stops, &plotter.Scatter{XYs: ends, GlyphStyle: stopGlyph(i, scale)})
		}
	}
	p.Add(lines...)
	p.Add(stops...)
	if lo > hi {
		lo, hi = 0, 1
	}
	ylo, yhi := paddedRange(lo, hi)
	if lo >= 0 {
		ylo = math.Max(ylo, 0)
	}
	if hi <= 1 && metric == "validation accuracy" {
		yhi = math.Min(yhi, 1)
	}
	p.Y.Min, p.Y.Max = ylo, yhi
	return p
}
