package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Readability thresholds for the confusion heatmap.
const (
	MaxLabelledClasses  = 40 // class names as tick labels up to this many classes
	MaxCellTextClasses  = 15 // per-cell counts up to this many classes
	maxClassNameRunes   = 18
	rasterMinClasses    = MaxLabelledClasses + 1
	maxRasterCellPixels = 16
)

// colNoSupport fills rows whose true class has no samples, so "never seen"
// is not mistaken for "never confused".
var colNoSupport = color.Gray{Y: 0xc8}

// ConfusionHeatmap draws counts[true][pred], normalised per true class, as a
// square heatmap with true class 0 at the top and a colour bar for the row
// fraction. Class names become tick labels only up to MaxLabelledClasses
// classes and counts are printed in cells only up to MaxCellTextClasses, so
// a 250-class matrix stays a readable picture. classNames may be nil
// (indices are used). Rows without samples are grey.
func ConfusionHeatmap(title string, counts [][]int, classNames []string, f Format, sizePx int) ([]byte, error) {
	return confusionHeatmap(title, counts, classNames, f, sizePx, nil)
}

// confusionHeatmap lets tests observe where the data area landed.
func confusionHeatmap(title string, counts [][]int, classNames []string, f Format, sizePx int, dataArea func(vg.Rectangle)) ([]byte, error) {
	frac, err := rowNormalise(counts)
	if err != nil {
		return nil, err
	}
	n := len(counts)
	if classNames != nil && len(classNames) != n {
		return nil, fmt.Errorf("plots: %d class names for a %dx%d confusion matrix", len(classNames), n, n)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = strconv.Itoa(i)
		if classNames != nil && classNames[i] != "" {
			names[i] = classNames[i]
		}
	}

	return render(f, sizePx, sizePx, func(c draw.Canvas) error {
		scale := fontScale(c)
		c = drawTitle(c, title, scale)

		cmap := moreland.BlackBody()
		cmap.SetMin(0)
		cmap.SetMax(1)
		// Reversed so an empty cell is white and a full one dark; built by hand
		// because palette.Reverse(...).Palette drops the middle of odd sizes.
		rev := palette.Reverse(cmap)
		pal := make(colours, 256)
		for i := range pal {
			col, err := rev.At(float64(i) / float64(len(pal)-1))
			if err != nil {
				return fmt.Errorf("plots: colour map: %w", err)
			}
			pal[i] = col
		}

		raster := n >= rasterMinClasses
		k := 1
		if raster {
			// Replicate each cell k×k so the raster is already about as fine
			// as the output and scaling does not blur cells into each other.
			k = max(1, min(maxRasterCellPixels, (sizePx+n-1)/n))
		}
		grid := confusionGrid{frac: frac, n: n, k: k}
		hm := plotter.NewHeatMap(grid, pal)
		hm.Min, hm.Max = 0, 1
		hm.NaN = colNoSupport
		hm.Rasterized = raster

		p := newPlot(scale)
		p.X.Padding, p.Y.Padding = 0, 0
		p.Add(heatLayer{hm})
		p.X.Label.Text = "predicted class"
		p.Y.Label.Text = "true class"

		// Estimate the cell size to pick a tick font that does not overlap.
		cell := c.Size().Y * 0.7 / vg.Length(n)
		if n <= MaxLabelledClasses {
			tickSize := max(minText, min(vg.Length(9.5*scale), cell*0.85))
			xt := make([]plot.Tick, n)
			yt := make([]plot.Tick, n)
			for i, name := range names {
				label := shorten(name, maxClassNameRunes)
				xt[i] = plot.Tick{Value: float64(i), Label: label}
				yt[i] = plot.Tick{Value: float64(n - 1 - i), Label: label}
			}
			p.X.Tick.Marker = plot.ConstantTicks(xt)
			p.Y.Tick.Marker = plot.ConstantTicks(yt)
			p.X.Tick.Label.Font.Size = tickSize
			p.Y.Tick.Label.Font.Size = tickSize
			p.X.Tick.Length = vg.Length(3 * scale)
			p.Y.Tick.Length = vg.Length(3 * scale)
			// Vertical predicted labels: long dog names never collide.
			p.X.Tick.Label.Rotation = math.Pi / 2
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
		} else {
			// Axis lines stay as a frame; ticks for 200+ classes are noise.
			for _, a := range []*plot.Axis{&p.X, &p.Y} {
				a.Tick.Marker = plot.ConstantTicks(nil)
				a.Tick.Length = 0
			}
			p.X.Label.Text = fmt.Sprintf("predicted class (%d classes)", n)
			p.Y.Label.Text = "true class"
		}
		if n <= MaxCellTextClasses {
			p.Add(cellText{counts: counts, frac: frac, pal: pal, size: max(minText, min(vg.Length(9.5*scale), cell*0.35))})
		}

		// Reserve a strip on the right for the colour bar and its labels.
		barSty := textStyle(vg.Length(9.5 * scale))
		barW := vg.Length(12 * scale)
		gap := vg.Length(10 * scale)
		labelW := barSty.Width("0.00") + vg.Length(6*scale)
		right := gap + barW + labelW + vg.Length(4*scale)
		hc := draw.Crop(c, vg.Length(4*scale), -right, vg.Length(4*scale), 0)
		// Square cells: axis sizes do not depend on the extent, so trimming
		// the longer side of the area by the excess makes the data area square.
		dc := p.DataCanvas(hc)
		if d := dc.Size().X - dc.Size().Y; d > 0 {
			hc = draw.Crop(hc, d/2, -d/2, 0, 0)
		} else if d < 0 {
			hc = draw.Crop(hc, 0, 0, -d/2, d/2)
		}
		p.Draw(hc)
		dc = p.DataCanvas(hc)
		dc.StrokeLines(draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)}, []vg.Point{
			dc.Min, {X: dc.Max.X, Y: dc.Min.Y}, dc.Max, {X: dc.Min.X, Y: dc.Max.Y}, dc.Min,
		})
		if dataArea != nil {
			dataArea(dc.Rectangle)
		}

		bar := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: dc.Max.X + gap, Y: dc.Min.Y},
			Max: vg.Point{X: dc.Max.X + gap + barW, Y: dc.Max.Y},
		}}
		drawColourBar(bar, rev, barSty, scale)
		return nil
	})
}

// rowNormalise validates counts and divides each row by its total; a row
// with no samples becomes NaN.
func rowNormalise(counts [][]int) ([][]float64, error) {
	n := len(counts)
	if n == 0 {
		return nil, errors.New("plots: confusion matrix is empty")
	}
	frac := make([][]float64, n)
	for t, row := range counts {
		if len(row) != n {
			return nil, fmt.Errorf("plots: confusion matrix row %d has %d columns, want %d (square)", t, len(row), n)
		}
		total := 0
		for p, v := range row {
			if v < 0 {
				return nil, fmt.Errorf("plots: confusion matrix count [%d][%d] is negative (%d)", t, p, v)
			}
			total += v
		}
		frac[t] = make([]float64, n)
		for p, v := range row {
			if total == 0 {
				frac[t][p] = math.NaN()
			} else {
				frac[t][p] = float64(v) / float64(total)
			}
		}
	}
	return frac, nil
}

// colours adapts a colour slice to palette.Palette.
type colours []color.Color

func (c colours) Colors() []color.Color { return c }

// confusionGrid exposes the row-normalised matrix as a plotter.GridXYZ.
// Grid row 0 is the bottom, so it holds the last true class: true class 0
// ends up at the top like a printed matrix. Each matrix cell spans k×k grid
// cells (k > 1 only for the raster path) while keeping class i centred on
// coordinate i, so ticks and cell text need not know about k.
type confusionGrid struct {
	frac [][]float64
	n, k int
}

func (g confusionGrid) Dims() (c, r int) { return g.n * g.k, g.n * g.k }
func (g confusionGrid) Z(c, r int) float64 {
	return g.frac[g.n-1-r/g.k][c/g.k]
}
func (g confusionGrid) X(c int) float64 { return (float64(c)+0.5)/float64(g.k) - 0.5 }
func (g confusionGrid) Y(r int) float64 { return (float64(r)+0.5)/float64(g.k) - 0.5 }

// Min and Max spare NewHeatMap a scan over the (possibly upsampled) grid.
func (confusionGrid) Min() float64 { return 0 }
func (confusionGrid) Max() float64 { return 1 }

// heatLayer hides HeatMap's per-cell glyph boxes: they only add padding, and
// for big grids building them (once per layout pass) dominates render time.
type heatLayer struct{ *plotter.HeatMap }

func (heatLayer) GlyphBoxes(*plot.Plot) []plot.GlyphBox { return nil }

// cellText prints each cell's count, light on dark cells and dark on light.
type cellText struct {
	counts [][]int
	frac   [][]float64
	pal    colours
	size   vg.Length
}

func (ct cellText) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(ct.counts)
	sty := textStyle(ct.size)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	for t := range n {
		for pr := range n {
			v := ct.frac[t][pr]
			sty.Color = color.Black
			if finite(v) && luminance(ct.pal[int(v*float64(len(ct.pal)-1)+0.5)]) < 0.45 {
				sty.Color = color.White
			}
			c.FillText(sty, vg.Point{X: trX(float64(pr)), Y: trY(float64(n - 1 - t))}, strconv.Itoa(ct.counts[t][pr]))
		}
	}
}

// drawColourBar fills bar with the colour map (0 at the bottom) using
// plotter.ColorBar, then frames it and labels it on the right.
func drawColourBar(bar draw.Canvas, cmap palette.ColorMap, sty text.Style, scale float64) {
	cp := newPlot(scale)
	cp.HideAxes()
	cp.X.Padding, cp.Y.Padding = 0, 0
	cp.BackgroundColor = nil
	cp.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true, Colors: 256})
	cp.Draw(bar)

	frame := draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)}
	bar.StrokeLines(frame, []vg.Point{
		bar.Min, {X: bar.Max.X, Y: bar.Min.Y}, bar.Max, {X: bar.Min.X, Y: bar.Max.Y}, bar.Min,
	})
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	tick := vg.Length(3 * scale)
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		y := bar.Min.Y + vg.Length(v)*bar.Size().Y
		bar.StrokeLine2(frame, bar.Max.X, y, bar.Max.X+tick, y)
		bar.FillText(sty, vg.Point{X: bar.Max.X + tick + vg.Length(2*scale), Y: y}, strconv.FormatFloat(v, 'f', 2, 64))
	}
}

// luminance is the relative luminance (0 black .. 1 white) of c.
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}
