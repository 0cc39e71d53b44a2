package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SearchParam is one axis of a search space.
type SearchParam struct {
	Name   string
	Log    bool     // drawn on a log scale (all values > 0)
	Labels []string // a choice's values, at positions 0, 1, ...; nil for a number
}

// SearchTrial is one draw of a search.
type SearchTrial struct {
	N      int       // the draw's number, from 1
	Value  float64   // the metric: a complete draw's at its best epoch, a pruned one's at its last
	Pruned bool      //
	Params []float64 // its position on each parameter (a choice's index)
}

// SearchStudy is the draws of one search, e.g. one seed's.
type SearchStudy struct {
	Label  string
	Trials []SearchTrial
}

// checkSearch refuses what would vanish from the figures: draws without a
// finite value, positions outside their parameter.
func checkSearch(params []SearchParam, studies []SearchStudy) error {
	if len(studies) == 0 {
		return errors.New("plots: a search figure needs at least one study")
	}
	for _, s := range studies {
		for _, t := range s.Trials {
			if !finite(t.Value) {
				return fmt.Errorf("plots: study %q draw %d has value %v", s.Label, t.N, t.Value)
			}
			if params == nil {
				continue
			}
			if len(t.Params) != len(params) {
				return fmt.Errorf("plots: study %q draw %d has %d parameters, want %d", s.Label, t.N, len(t.Params), len(params))
			}
			for i, p := range params {
				x := t.Params[i]
				switch {
				case p.Labels != nil && (x != math.Trunc(x) || x < 0 || int(x) >= len(p.Labels)):
					return fmt.Errorf("plots: study %q draw %d: %s choice %v of %d", s.Label, t.N, p.Name, x, len(p.Labels))
				case !finite(x) || p.Log && x <= 0:
					return fmt.Errorf("plots: study %q draw %d: %s = %v", s.Label, t.N, p.Name, x)
				}
			}
		}
	}
	return nil
}

func prunedGlyph(scale float64) draw.GlyphStyle {
	return draw.GlyphStyle{Color: color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xb0}, Radius: vg.Length(2.6 * scale), Shape: draw.CrossGlyph{}}
}

func drawGlyph(i int, scale float64) draw.GlyphStyle {
	return draw.GlyphStyle{Color: seriesColour(i, 0xc0), Radius: vg.Length(2.6 * scale), Shape: draw.CircleGlyph{}}
}

// SearchHistory draws each study's draws in the order they were made: a
// complete draw as a dot, a pruned one as a grey cross at the value it was
// stopped with, and the best complete value so far as a step line (better
// is higher when maximize).
func SearchHistory(title, metric string, studies []SearchStudy, maximize bool, f Format, widthPx, heightPx int) ([]byte, error) {
	if err := checkSearch(nil, studies); err != nil {
		return nil, err
	}
	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		p := newPlot(scale)
		p.X.Label.Text = "draw"
		p.Y.Label.Text = metric
		p.X.Tick.Marker = plot.TickerFunc(integerTicks)
		p.Add(gridLines{y: true})
		var items []legendItem
		var pruned plotter.XYs
		lo, hi, last := math.Inf(1), math.Inf(-1), 1
		for i, s := range studies {
			var dots, best plotter.XYs
			b := math.NaN()
			for _, t := range s.Trials {
				xy := plotter.XY{X: float64(t.N), Y: t.Value}
				lo, hi, last = math.Min(lo, t.Value), math.Max(hi, t.Value), max(last, t.N)
				if t.Pruned {
					pruned = append(pruned, xy)
					continue
				}
				dots = append(dots, xy)
				if math.IsNaN(b) || maximize && t.Value > b || !maximize && t.Value < b {
					if len(best) > 0 {
						best = append(best, plotter.XY{X: float64(t.N), Y: b})
					}
					b = t.Value
					best = append(best, xy)
				}
			}
			if len(best) > 0 {
				best = append(best, plotter.XY{X: float64(s.Trials[len(s.Trials)-1].N), Y: b})
				line := &plotter.Line{XYs: best, LineStyle: seriesLine(i, scale)}
				p.Add(line)
				items = append(items, legendItem{shorten(s.Label, maxVariantLabelRunes) + ": best so far", []plot.Thumbnailer{line}})
			}
			p.Add(&plotter.Scatter{XYs: dots, GlyphStyle: drawGlyph(i, scale)})
		}
		items = append(items, legendItem{"complete draw", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: drawGlyph(6, scale)}}})
		if len(pruned) > 0 {
			p.Add(&plotter.Scatter{XYs: pruned, GlyphStyle: prunedGlyph(scale)})
			items = append(items, legendItem{"pruned (its last epoch)", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: prunedGlyph(scale)}}})
		}
		if lo > hi {
			lo, hi = 0, 1
		}
		p.X.Min, p.X.Max = 0, float64(last)+1
		p.Y.Min, p.Y.Max = paddedRange(lo, hi)
		c = drawTitle(c, title, scale)
		c = newLegendStrip(scale, items...).draw(c)
		p.Draw(draw.Crop(c, vg.Length(4*scale), -vg.Length(10*scale), vg.Length(4*scale), 0))
		return nil
	})
}

// SearchSlices draws the metric against each parameter, one panel each
// (three to a row): complete draws as dots in their study's colour, pruned
// ones as grey crosses. A choice's values are evenly spaced, its draws
// spread a little sideways so that they do not hide each other.
func SearchSlices(title, metric string, params []SearchParam, studies []SearchStudy, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(params) == 0 {
		return nil, errors.New("plots: slice plots need at least one parameter")
	}
	if err := checkSearch(params, studies); err != nil {
		return nil, err
	}
	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range studies {
			for _, t := range s.Trials {
				lo, hi = math.Min(lo, t.Value), math.Max(hi, t.Value)
			}
		}
		if lo > hi {
			lo, hi = 0, 1
		}
		ylo, yhi := paddedRange(lo, hi)
		cols := min(3, len(params))
		rows := (len(params) + cols - 1) / cols
		grid := make([][]*plot.Plot, rows)
		for r := range grid {
			grid[r] = make([]*plot.Plot, cols)
		}
		for pi, par := range params {
			p := newPlot(scale)
			p.X.Label.Text = par.Name
			if par.Log {
				p.X.Label.Text += " (log scale)"
			}
			if pi%cols == 0 {
				p.Y.Label.Text = metric
			}
			p.Add(gridLines{y: true})
			var prunedXY plotter.XYs
			for si, s := range studies {
				var dots plotter.XYs
				for _, t := range s.Trials {
					x := t.Params[pi]
					switch {
					case par.Labels != nil:
						x += 0.3 * (math.Mod(float64(t.N)*0.618034, 1) - 0.5) // golden-ratio spread
					case par.Log:
						x = math.Log10(x)
					}
					if t.Pruned {
						prunedXY = append(prunedXY, plotter.XY{X: x, Y: t.Value})
					} else {
						dots = append(dots, plotter.XY{X: x, Y: t.Value})
					}
				}
				p.Add(&plotter.Scatter{XYs: dots, GlyphStyle: drawGlyph(si, scale)})
			}
			if len(prunedXY) > 0 {
				p.Add(&plotter.Scatter{XYs: prunedXY, GlyphStyle: prunedGlyph(scale)})
			}
			if par.Labels != nil {
				ticks := make([]plot.Tick, len(par.Labels))
				for i, l := range par.Labels {
					ticks[i] = plot.Tick{Value: float64(i), Label: shorten(l, 18)}
				}
				p.X.Tick.Marker = plot.ConstantTicks(ticks)
				p.X.Min, p.X.Max = -0.5, float64(len(par.Labels))-0.5
			} else if par.Log {
				p.X.Tick.Marker = plot.TickerFunc(log10Ticks)
			}
			p.Y.Min, p.Y.Max = ylo, yhi
			grid[pi/cols][pi%cols] = p
		}
		var items []legendItem
		for i, s := range studies {
			items = append(items, legendItem{shorten(s.Label, maxVariantLabelRunes), []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: drawGlyph(i, scale)}}})
		}
		items = append(items, legendItem{"pruned (its last epoch)", []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: prunedGlyph(scale)}}})
		c = drawTitle(c, title, scale)
		c = newLegendStrip(scale, items...).draw(c)
		c = draw.Crop(c, vg.Length(4*scale), -vg.Length(8*scale), vg.Length(4*scale), 0)
		canvases := plot.Align(grid, draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Length(14 * scale), PadY: vg.Length(14 * scale)}, c)
		for r, row := range grid {
			for k, p := range row {
				if p != nil {
					p.Draw(canvases[r][k])
				}
			}
		}
		return nil
	})
}

// log10Ticks labels a log10 axis with the numbers themselves: 1e-3, 3e-3, ...
func log10Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for _, m := range []float64{1, 2, 3, 5} {
			v := e + math.Log10(m)
			if v < lo || v > hi {
				continue
			}
			label := ""
			if m == 1 || m == 3 {
				label = fmt.Sprintf("%g", m*math.Pow(10, e))
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks
}

// ParallelCoordinates draws every draw as a line across one vertical axis
// per parameter and a last one for the metric: complete draws coloured by
// their metric (dark is better), the best on top; pruned ones in light grey
// below. Each axis runs from its lowest to its highest value over the draws
// (a choice's values evenly spaced).
func ParallelCoordinates(title, metric string, params []SearchParam, studies []SearchStudy, maximize bool, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(params) == 0 {
		return nil, errors.New("plots: parallel coordinates need at least one parameter")
	}
	if err := checkSearch(params, studies); err != nil {
		return nil, err
	}
	var all []SearchTrial
	for _, s := range studies {
		all = append(all, s.Trials...)
	}
	axes := make([]pcAxis, len(params)+1)
	for i, p := range params {
		axes[i] = newPCAxis(p, all, func(t SearchTrial) float64 { return t.Params[i] })
	}
	axes[len(params)] = newPCAxis(SearchParam{Name: metric}, all, func(t SearchTrial) float64 { return t.Value })
	// Worst first, so the best are drawn last, on top; pruned ones under all.
	slices.SortStableFunc(all, func(a, b SearchTrial) int {
		if a.Pruned != b.Pruned {
			if a.Pruned {
				return -1
			}
			return 1
		}
		d := a.Value - b.Value
		if !maximize {
			d = -d
		}
		switch {
		case d < 0:
			return -1
		case d > 0:
			return 1
		}
		return 0
	})
	// Colours span the complete draws' values: a pruned draw's may lie beyond.
	var complete []SearchTrial
	for _, t := range all {
		if !t.Pruned {
			complete = append(complete, t)
		}
	}
	colour := newPCAxis(SearchParam{}, complete, func(t SearchTrial) float64 { return t.Value })
	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		c = drawTitle(c, title, scale)
		label := textStyle(vg.Length(10.5 * scale))
		tick := textStyle(vg.Length(9.5 * scale))
		top := c.Max.Y - label.Height("Mg")*1.6 - tick.Height("0")*1.4
		bottom := c.Min.Y + tick.Height("0")*1.6
		margin := vg.Length(70 * scale)
		x := func(i int) vg.Length {
			return c.Min.X + margin + (c.Size().X-2*margin)*vg.Length(i)/vg.Length(len(axes)-1)
		}
		y := func(u float64) vg.Length { return bottom + (top-bottom)*vg.Length(u) }
		for _, t := range all {
			pts := make([]vg.Point, len(axes))
			for i, a := range axes {
				v := t.Value
				if i < len(params) {
					v = t.Params[i]
				}
				pts[i] = vg.Point{X: x(i), Y: y(a.position(v))}
			}
			sty := draw.LineStyle{Color: color.NRGBA{R: 0xb0, G: 0xb0, B: 0xb0, A: 0x90}, Width: vg.Length(0.8 * scale)}
			if !t.Pruned {
				u := colour.position(t.Value)
				if !maximize {
					u = 1 - u
				}
				sty = draw.LineStyle{Color: ramp(u), Width: vg.Length((0.8 + 1.2*u) * scale)}
			}
			c.StrokeLines(sty, pts)
		}
		axisSty := draw.LineStyle{Color: color.Black, Width: vg.Length(1 * scale)}
		for i, a := range axes {
			c.StrokeLine2(axisSty, x(i), bottom, x(i), top)
			name := label
			name.XAlign, name.YAlign = draw.XCenter, draw.YBottom
			c.FillText(name, vg.Point{X: x(i), Y: top + tick.Height("0")*1.4}, shorten(a.name, 24))
			for _, tk := range a.ticks() {
				sty := tick
				sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
				c.StrokeLine2(axisSty, x(i)-vg.Length(3*scale), y(tk.u), x(i), y(tk.u))
				c.FillText(sty, vg.Point{X: x(i) + vg.Length(3*scale), Y: y(tk.u)}, tk.label)
			}
		}
		return nil
	})
}

// pcAxis maps one parameter's values to [0, 1].
type pcAxis struct {
	name   string
	log    bool
	labels []string
	lo, hi float64 // of the values, after log10 for a log axis
}

func newPCAxis(p SearchParam, all []SearchTrial, get func(SearchTrial) float64) pcAxis {
	a := pcAxis{name: p.Name, log: p.Log, labels: p.Labels, lo: math.Inf(1), hi: math.Inf(-1)}
	if p.Labels != nil {
		a.lo, a.hi = 0, float64(len(p.Labels)-1)
		return a
	}
	for _, t := range all {
		v := a.scaled(get(t))
		a.lo, a.hi = math.Min(a.lo, v), math.Max(a.hi, v)
	}
	if a.lo > a.hi {
		a.lo, a.hi = 0, 1
	}
	return a
}

func (a pcAxis) scaled(v float64) float64 {
	if a.log {
		return math.Log10(v)
	}
	return v
}

func (a pcAxis) position(v float64) float64 {
	if a.hi == a.lo {
		return 0.5
	}
	return (a.scaled(v) - a.lo) / (a.hi - a.lo)
}

type pcTick struct {
	u     float64
	label string
}

// ticks are a choice's values, or a number's ends and middle.
func (a pcAxis) ticks() []pcTick {
	if a.labels != nil {
		out := make([]pcTick, len(a.labels))
		for i, l := range a.labels {
			out[i] = pcTick{a.position(float64(i)), shorten(l, 22)}
		}
		return out
	}
	var out []pcTick
	for _, s := range []float64{a.lo, (a.lo + a.hi) / 2, a.hi} {
		v := s
		if a.log {
			v = math.Pow(10, s)
		}
		out = append(out, pcTick{a.position(v), fmt.Sprintf("%.3g", v)})
	}
	return out
}

// ramp runs from a light to a dark blue as u goes from 0 to 1.
func ramp(u float64) color.NRGBA {
	u = math.Max(0, math.Min(1, u))
	mix := func(a, b uint8) uint8 { return uint8(float64(a) + u*(float64(b)-float64(a))) }
	return color.NRGBA{R: mix(0xc6, 0x08), G: mix(0xdb, 0x30), B: mix(0xef, 0x6b), A: 0xd0}
}
