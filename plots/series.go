package plots

import (
	"image/color"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// seriesColours tell variants apart (Okabe-Ito based, so they stay distinct
// for the common colour blindnesses; yellow is left out, it vanishes on white).
var seriesColours = []color.NRGBA{
	{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}, // blue
	{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff}, // vermillion
	{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}, // bluish green
	{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff}, // reddish purple
	{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff}, // orange
	{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff}, // sky blue
	{R: 0x33, G: 0x33, B: 0x33, A: 0xff}, // near black
	{R: 0x99, G: 0x99, B: 0x33, A: 0xff}, // olive
}

// seriesColour returns series i's colour with alpha a.
func seriesColour(i int, a uint8) color.NRGBA {
	c := seriesColours[i%len(seriesColours)]
	c.A = a
	return c
}

// seriesDashes changes once the colours run out, so series 0 and 8 still
// differ.
func seriesDashes(i int, scale float64) []vg.Length {
	d := func(xs ...float64) []vg.Length {
		out := make([]vg.Length, len(xs))
		for j, x := range xs {
			out[j] = vg.Length(x * scale)
		}
		return out
	}
	switch (i / len(seriesColours)) % 3 {
	case 1:
		return d(6, 3)
	case 2:
		return d(2, 2)
	}
	return nil
}

func seriesLine(i int, scale float64) draw.LineStyle {
	return draw.LineStyle{Color: seriesColour(i, 0xff), Width: vg.Length(1.6 * scale), Dashes: seriesDashes(i, scale)}
}
