// Package plots draws dogrun's report figures (learning curves, confusion
// heatmaps, variant comparisons) with gonum.org/v1/plot and returns them as
// PNG or SVG bytes. It depends on no other dogrun package: inputs are plain
// values so callers can feed it from any result source.
package plots

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Format selects the encoding of a rendered figure.
type Format string

// Supported formats.
const (
	PNG Format = "png"
	SVG Format = "svg"
)

// Size limits in pixels: below the minimum the axes no longer fit, above the
// maximum a PNG canvas would need hundreds of MB.
const (
	MinPixels = 120
	MaxPixels = 8000
)

// dpi is the PNG resolution. 96 makes one pixel exactly 0.75pt, the same
// px-to-pt ratio SVG viewers use, so both formats share one layout.
const dpi = 96

// pxLen converts pixels to canvas length.
func pxLen(px int) vg.Length { return vg.Length(px) * vg.Inch / dpi }

// MinTextPx is the smallest text a figure draws, in pixels of the figure:
// shown at its own size, or shrunk to no less than 11/12 of it, every label
// is at least 11 px high. Text that would need to be smaller to fit is cut
// or left out instead.
const MinTextPx = 12

// minText is MinTextPx as a font size.
var minText = pxLen(MinTextPx)

// fontCache is private so that nothing else mutating plot.DefaultFont or
// font.DefaultCache changes our output (the golden test depends on it).
var fontCache = font.NewCache(liberation.Collection())

var (
	textHandler = text.Plain{Fonts: fontCache}
	sansFont    = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

// Colours of the series; chosen to stay distinct for common colour blindness.
var (
	colTrain = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colVal   = color.RGBA{R: 0xe6, G: 0x6a, B: 0x00, A: 0xff}
	colBest  = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colStop  = color.RGBA{R: 0xc0, G: 0x1c, B: 0x28, A: 0xff}
	colDots  = color.NRGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xb0}
	colMean  = color.RGBA{R: 0x20, G: 0x20, B: 0x20, A: 0xff}
	colGrid  = color.Gray{Y: 0xe4}
)

func (f Format) check() error {
	switch f {
	case PNG, SVG:
		return nil
	}
	return fmt.Errorf("plots: unsupported format %q (want %q or %q)", string(f), PNG, SVG)
}

func checkSize(what string, px int) error {
	if px < MinPixels || px > MaxPixels {
		return fmt.Errorf("plots: %s %dpx out of range [%d, %d]", what, px, MinPixels, MaxPixels)
	}
	return nil
}

// render draws a figure on a fresh canvas of the requested pixel size and
// encodes it. gonum/plot reports many problems by panicking; those become
// errors here so a bad figure cannot take down a whole report.
func render(f Format, widthPx, heightPx int, drawFn func(c draw.Canvas) error) (out []byte, err error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	if err := checkSize("width", widthPx); err != nil {
		return nil, err
	}
	if err := checkSize("height", heightPx); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("plots: rendering failed: %v", r)
		}
	}()

	w, h := pxLen(widthPx), pxLen(heightPx)
	var buf bytes.Buffer
	switch f {
	case PNG:
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
		if err := drawFn(draw.New(c)); err != nil {
			return nil, err
		}
		if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("plots: encoding PNG: %w", err)
		}
	case SVG:
		// Fonts are not embedded: that would add ~0.5MB per figure, and
		// viewers substitute a sans font when Liberation is missing.
		c := vgsvg.NewWith(vgsvg.UseWH(w, h))
		dc := draw.New(c)
		// An SVG canvas starts transparent; reports may use dark themes.
		dc.SetColor(color.White)
		dc.Fill(dc.Rectangle.Path())
		if err := drawFn(dc); err != nil {
			return nil, err
		}
		if _, err := c.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("plots: encoding SVG: %w", err)
		}
		// vgsvg names only the Liberation family; add generic fallbacks so
		// viewers without it pick a sans font rather than a serif default.
		return bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
			[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
	}
	return buf.Bytes(), nil
}

// fontScale grows text with figures wider than 1000 px, so large exports
// stay legible; narrower ones keep the sizes that a page shows them at.
func fontScale(c draw.Canvas) float64 {
	return math.Max(1, math.Min(float64(c.Size().X/pxLen(1000)), 1.8))
}

func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(sansFont, size),
		Handler: textHandler,
	}
}

// newPlot returns a plot using our font cache everywhere.
func newPlot(scale float64) *plot.Plot {
	p := plot.New()
	p.TextHandler = textHandler
	p.Title.TextStyle = textStyle(vg.Length(12 * scale))
	p.Title.TextStyle.XAlign = draw.XCenter
	p.Title.TextStyle.YAlign = draw.YTop
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		xa, ya := a.Label.TextStyle.XAlign, a.Label.TextStyle.YAlign
		a.Label.TextStyle = textStyle(vg.Length(10.5 * scale))
		a.Label.TextStyle.XAlign, a.Label.TextStyle.YAlign = xa, ya
		xa, ya = a.Tick.Label.XAlign, a.Tick.Label.YAlign
		a.Tick.Label = textStyle(vg.Length(9.5 * scale))
		a.Tick.Label.XAlign, a.Tick.Label.YAlign = xa, ya
	}
	p.Legend.TextStyle = textStyle(vg.Length(9.5 * scale))
	return p
}

// drawTitle writes title centred at the top of c and returns the space
// below it. Long titles are shrunk, then cut, rather than clipped.
func drawTitle(c draw.Canvas, title string, scale float64) draw.Canvas {
	if title == "" {
		return draw.Crop(c, 0, 0, 0, -vg.Length(4*scale))
	}
	pad := vg.Length(6 * scale)
	avail := c.Size().X - 2*pad
	size := vg.Length(13 * scale)
	sty := textStyle(size)
	for sty.Width(title) > avail && size*0.9 >= minText {
		size *= 0.9
		sty = textStyle(size)
	}
	title = fitText(sty, title, avail)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
	c.FillText(sty, vg.Point{X: c.Center().X, Y: c.Max.Y - pad}, title)
	return draw.Crop(c, 0, 0, 0, -(pad + sty.Height(title) + pad/2))
}

// fitText cuts s (adding "...") so it is at most avail wide in sty.
func fitText(sty text.Style, s string, avail vg.Length) string {
	if sty.Width(s) <= avail {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && sty.Width(string(r)+"...") > avail {
		r = r[:len(r)-1]
	}
	return string(r) + "..."
}

// shorten caps a label at n runes so a long name cannot eat the plot area.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "..."
}

// legendItem is one entry of a horizontal legend strip.
type legendItem struct {
	name   string
	thumbs []plot.Thumbnailer
}

// legendStrip lays entries out left to right, wrapping to new lines. It sits
// outside the data area so it can never hide curves or dots, which gonum's
// in-plot legend would.
type legendStrip struct {
	items []legendItem
	sty   text.Style
	thumb vg.Length
	gap   vg.Length
}

func newLegendStrip(scale float64, items ...legendItem) legendStrip {
	return legendStrip{
		items: items,
		sty:   textStyle(vg.Length(9.5 * scale)),
		thumb: vg.Length(22 * scale),
		gap:   vg.Length(14 * scale),
	}
}

func (l legendStrip) itemWidth(it legendItem) vg.Length {
	return l.thumb + l.sty.Width(" "+it.name)
}

// lines splits entries into rows that fit width.
func (l legendStrip) lines(width vg.Length) [][]legendItem {
	var out [][]legendItem
	var cur []legendItem
	var w vg.Length
	for _, it := range l.items {
		iw := l.itemWidth(it)
		if len(cur) > 0 && w+l.gap+iw > width {
			out = append(out, cur)
			cur, w = nil, 0
		}
		if len(cur) > 0 {
			w += l.gap
		}
		cur = append(cur, it)
		w += iw
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func (l legendStrip) lineHeight() vg.Length { return l.sty.Height("Mg") * 1.3 }

// draw renders the strip at the top of c and returns the remaining canvas.
func (l legendStrip) draw(c draw.Canvas) draw.Canvas {
	if len(l.items) == 0 {
		return c
	}
	lines := l.lines(c.Size().X)
	lh := l.lineHeight()
	y := c.Max.Y
	for _, line := range lines {
		var total vg.Length
		for i, it := range line {
			if i > 0 {
				total += l.gap
			}
			total += l.itemWidth(it)
		}
		x := c.Center().X - total/2
		for _, it := range line {
			box := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y - lh},
				Max: vg.Point{X: x + l.thumb, Y: y},
			}}
			for _, t := range it.thumbs {
				t.Thumbnail(&box)
			}
			sty := l.sty
			sty.YAlign = draw.YCenter
			c.FillText(sty, vg.Point{X: x + l.thumb + l.sty.Width(" "), Y: y - lh/2}, it.name)
			x += l.itemWidth(it) + l.gap
		}
		y -= lh
	}
	return draw.Crop(c, 0, 0, 0, -(vg.Length(len(lines))*lh + lh/3))
}

// vline marks one x value with a line across the whole data area.
type vline struct {
	x     float64
	style draw.LineStyle
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
}

// DataRange widens only the x axis: ±Inf leave the y range to the data
// because plot.Add combines ranges with math.Min/Max.
func (v vline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return v.x, v.x, math.Inf(1), math.Inf(-1)
}

// Thumbnail draws a short vertical line, matching how the marker looks.
func (v vline) Thumbnail(c *draw.Canvas) {
	x := c.Center().X
	c.StrokeLine2(v.style, x, c.Min.Y+1, x, c.Max.Y-1)
}

// gridLines draws light guide lines at the major ticks of the chosen axes.
type gridLines struct{ x, y bool }

func (g gridLines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: colGrid, Width: vg.Points(0.5)}
	if g.y {
		for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
			if !t.IsMinor() && t.Value >= p.Y.Min && t.Value <= p.Y.Max {
				y := trY(t.Value)
				c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
			}
		}
	}
	if g.x {
		for _, t := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
			if !t.IsMinor() && t.Value >= p.X.Min && t.Value <= p.X.Max {
				x := trX(t.Value)
				c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
			}
		}
	}
}

// paddedRange returns [lo, hi] with 5% headroom so data does not sit on the
// frame; a flat series still gets a visible band.
func paddedRange(lo, hi float64) (float64, float64) {
	pad := 0.05 * (hi - lo)
	if pad == 0 {
		pad = math.Max(0.05*math.Abs(hi), 0.01)
	}
	return lo - pad, hi + pad
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
