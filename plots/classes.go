package plots

import (
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ClassScore is one class's score (e.g. F1), optionally with a spread such
// as the lowest and highest seed (Lo and Hi NaN for none).
type ClassScore struct {
	Name          string
	Value, Lo, Hi float64
}

// ClassScores draws one bar per class, sorted from best to worst, with a
// dashed line at the mean over classes. Up to MaxLabelledClasses classes
// the bars are horizontal with the class names beside them (best at the
// top); beyond that they stand side by side by rank without names, so 250
// classes still read as one profile: how many classes are fine and how
// steep the tail of hard ones is. A spread, when given, is a thin whisker.
func ClassScores(title, metric string, classes []ClassScore, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(classes) == 0 {
		return nil, errors.New("plots: class scores need at least one class")
	}
	sorted := slices.Clone(classes)
	var sum float64
	lo, hi := 0.0, math.Inf(-1)
	for _, c := range sorted {
		if !finite(c.Value) {
			return nil, fmt.Errorf("plots: class %q score is %v", c.Name, c.Value)
		}
		if hasSpread(c) && c.Lo > c.Hi {
			return nil, fmt.Errorf("plots: class %q spread [%v, %v] has Lo > Hi", c.Name, c.Lo, c.Hi)
		}
		sum += c.Value
		lo, hi = math.Min(lo, c.Value), math.Max(hi, c.Value)
		if hasSpread(c) {
			lo, hi = math.Min(lo, c.Lo), math.Max(hi, c.Hi)
		}
	}
	mean := sum / float64(len(sorted))
	slices.SortStableFunc(sorted, func(a, b ClassScore) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if metric == "" {
		metric = "score"
	}
	n := len(sorted)
	named := n <= MaxLabelledClasses

	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		p := newPlot(scale)
		b := classBars{scores: sorted, horizontal: named, colour: colTrain,
			whisker: draw.LineStyle{Color: colMean, Width: vg.Length(0.8 * scale)}}
		meanLine := refLine{v: mean, horizontal: !named, style: draw.LineStyle{
			Color: colStop, Width: vg.Length(1.2 * scale), Dashes: []vg.Length{vg.Length(4 * scale), vg.Length(2 * scale)}}}
		p.Add(gridLines{x: named, y: !named}, b, meanLine)

		valueAxis, classAxis := &p.X, &p.Y
		if !named {
			valueAxis, classAxis = &p.Y, &p.X
		}
		valueAxis.Label.Text = metric
		valueAxis.Min, valueAxis.Max = paddedRange(lo, hi)
		valueAxis.Min = math.Max(valueAxis.Min, math.Min(lo, 0))
		if named {
			ticks := make([]plot.Tick, n)
			for i, s := range sorted {
				ticks[i] = plot.Tick{Value: float64(n - 1 - i), Label: shorten(s.Name, maxClassNameRunes)}
			}
			classAxis.Tick.Marker = plot.ConstantTicks(ticks)
			rowH := c.Size().Y * 0.75 / vg.Length(n)
			classAxis.Tick.Label.Font.Size = max(minText, min(classAxis.Tick.Label.Font.Size, rowH*0.8))
			classAxis.Tick.Length = 0
			classAxis.Label.Text = "class"
		} else {
			classAxis.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
				// Ranks from 1, as a reader counts.
				var out []plot.Tick
				for _, t := range integerTicks(lo+1, hi+1) {
					t.Value--
					out = append(out, t)
				}
				return out
			})
			classAxis.Label.Text = fmt.Sprintf("classes ranked by %s (%d)", metric, n)
		}
		classAxis.Min, classAxis.Max = -0.6, float64(n)-0.4
		classAxis.Padding = 0

		items := []legendItem{
			{"class", []plot.Thumbnailer{&plotter.Polygon{Color: colTrain}}},
			{"mean over classes: " + strconv.FormatFloat(mean, 'f', 3, 64), []plot.Thumbnailer{meanLine}},
		}
		if slices.ContainsFunc(sorted, hasSpread) {
			items = append(items, legendItem{"lowest to highest seed", []plot.Thumbnailer{verticalIntervalThumb{b.whisker}}})
		}
		c = drawTitle(c, title, scale)
		c = newLegendStrip(scale, items...).draw(c)
		p.Draw(draw.Crop(c, vg.Length(4*scale), -vg.Length(10*scale), vg.Length(4*scale), 0))
		return nil
	})
}

func hasSpread(c ClassScore) bool { return finite(c.Lo) && finite(c.Hi) }

// classBars draws the sorted scores: class i of the sorted list sits at
// rank i (vertical bars, left to right) or at row n-1-i (horizontal bars,
// top to bottom). Bars are sized in data units so 250 of them still fit.
type classBars struct {
	scores     []ClassScore
	horizontal bool
	colour     color.Color
	whisker    draw.LineStyle
}

func (b classBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(b.scores)
	pt := func(pos, v float64) vg.Point {
		if b.horizontal {
			return vg.Point{X: trX(v), Y: trY(pos)}
		}
		return vg.Point{X: trX(pos), Y: trY(v)}
	}
	const half = 0.4
	for i, s := range b.scores {
		pos := float64(i)
		if b.horizontal {
			pos = float64(n - 1 - i)
		}
		poly := []vg.Point{pt(pos-half, 0), pt(pos-half, s.Value), pt(pos+half, s.Value), pt(pos+half, 0)}
		c.FillPolygon(b.colour, c.ClipPolygonXY(poly))
		if hasSpread(s) {
			c.StrokeLines(b.whisker, c.ClipLinesXY([]vg.Point{pt(pos, s.Lo), pt(pos, s.Hi)})...)
		}
	}
}

// refLine marks one value across the whole data area.
type refLine struct {
	v          float64
	horizontal bool
	style      draw.LineStyle
}

func (r refLine) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	if r.horizontal {
		y := trY(r.v)
		c.StrokeLine2(r.style, c.Min.X, y, c.Max.X, y)
		return
	}
	x := trX(r.v)
	c.StrokeLine2(r.style, x, c.Min.Y, x, c.Max.Y)
}

func (r refLine) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(r.style, c.Min.X+1, y, c.Max.X-1, y)
}
