package gradcam

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
)

// Overlay draws the heatmap over the photo at the photo's size: the map is
// scaled to its largest value, upsampled bilinearly (the backbone saw the
// whole photo stretched to a square, so the map spans the whole photo),
// coloured with the jet colour map, and blended at alpha 0.5 where it is hot
// and fading out where it is cold, so the dog stays visible.
func Overlay(img image.Image, r *Result) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	var top float32
	for _, v := range r.Heat {
		top = max(top, v)
	}
	if top == 0 {
		return out // nothing raises the score: no heat to show
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			h := bilinear(r.Heat, r.W, r.H, (float64(x)+0.5)/float64(b.Dx()), (float64(y)+0.5)/float64(b.Dy())) / float64(top)
			c := jet(h)
			a := 0.2 + 0.3*h
			i := out.PixOffset(x, y)
			p := out.Pix[i : i+3 : i+3]
			for k, v := range [3]uint8{c.R, c.G, c.B} {
				p[k] = uint8(math.Round((1-a)*float64(p[k]) + a*float64(v)))
			}
		}
	}
	return out
}

// bilinear samples the w x h map m at (u, v) in [0, 1], cell centres at
// (i+0.5)/w, clamped at the borders.
func bilinear(m []float32, w, h int, u, v float64) float64 {
	fx := math.Min(math.Max(u*float64(w)-0.5, 0), float64(w-1))
	fy := math.Min(math.Max(v*float64(h)-0.5, 0), float64(h-1))
	x0, y0 := int(fx), int(fy)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	tx, ty := fx-float64(x0), fy-float64(y0)
	at := func(x, y int) float64 { return float64(m[y*w+x]) }
	top := at(x0, y0)*(1-tx) + at(x1, y0)*tx
	bottom := at(x0, y1)*(1-tx) + at(x1, y1)*tx
	return top*(1-ty) + bottom*ty
}

// jet maps t in [0, 1] to blue, cyan, yellow, red, as OpenCV's COLORMAP_JET
// that Grad-CAM pictures use.
func jet(t float64) color.RGBA {
	ch := func(c float64) uint8 { return uint8(math.Round(255 * math.Min(math.Max(c, 0), 1))) }
	return color.RGBA{R: ch(1.5 - math.Abs(4*t-3)), G: ch(1.5 - math.Abs(4*t-2)), B: ch(1.5 - math.Abs(4*t-1)), A: 255}
}

// OverlayPNG is Overlay encoded as a PNG file.
func OverlayPNG(img image.Image, r *Result) ([]byte, error) {
	var b bytes.Buffer
	err := png.Encode(&b, Overlay(img, r))
	return b.Bytes(), err
}
