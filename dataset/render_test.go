package dataset

import (
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// referenceResize is a deliberately naive bilinear resize through At(),
// independent of Render's affine bookkeeping: destination pixel centres map
// to source pixel centres, and coordinates clamp to the edge.
func referenceResize(src image.Image, size int) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	clamp := func(v float64, hi int) float64 { return math.Min(math.Max(v, 0), float64(hi-1)) }
	for j := range size {
		for i := range size {
			x := clamp((float64(i)+0.5)*float64(b.Dx())/float64(size)-0.5, b.Dx())
			y := clamp((float64(j)+0.5)*float64(b.Dy())/float64(size)-0.5, b.Dy())
			x0, y0 := int(math.Floor(x)), int(math.Floor(y))
			x1, y1 := min(x0+1, b.Dx()-1), min(y0+1, b.Dy()-1)
			fx, fy := x-float64(x0), y-float64(y0)
			var out [3]float64
			for _, s := range []struct {
				x, y int
				w    float64
			}{{x0, y0, (1 - fx) * (1 - fy)}, {x1, y0, fx * (1 - fy)}, {x0, y1, (1 - fx) * fy}, {x1, y1, fx * fy}} {
				r, g, bl, _ := src.At(b.Min.X+s.x, b.Min.Y+s.y).RGBA()
				out[0] += s.w * float64(r>>8)
				out[1] += s.w * float64(g>>8)
				out[2] += s.w * float64(bl>>8)
			}
			dst.SetRGBA(i, j, color.RGBA{uint8(out[0] + 0.5), uint8(out[1] + 0.5), uint8(out[2] + 0.5), 255})
		}
	}
	return dst
}

func TestRenderIdentityIsPlainResize(t *testing.T) {
	for _, tc := range []struct{ w, h, size int }{{224, 224, 112}, {37, 23, 16}, {10, 10, 25}, {8, 8, 8}} {
		src := noisyRGBA(tc.w, tc.h, uint64(tc.w))
		got := Render(src, ViewParams{}, tc.size)
		if diff := cmp.Diff(image.Rect(0, 0, tc.size, tc.size), got.Rect); diff != "" {
			t.Fatalf("bounds (-want +got):\n%s", diff)
		}
		if d := maxPixelDiff(referenceResize(src, tc.size), got); d > 1 {
			t.Errorf("%dx%d -> %d: differs from a plain bilinear resize by up to %d", tc.w, tc.h, tc.size, d)
		}
		explicit := Render(src, ViewParams{Zoom: 1, Brightness: 1}, tc.size)
		if diff := cmp.Diff(got.Pix, explicit.Pix); diff != "" {
			t.Errorf("zero params and explicit identity differ:\n%s", diff)
		}
	}

	// Same size: an exact copy. Halving: each pixel is the mean of a 2x2 block.
	src := noisyRGBA(8, 8, 3)
	if diff := cmp.Diff(src.Pix, Render(src, ViewParams{}, 8).Pix); diff != "" {
		t.Errorf("same-size identity is not a copy:\n%s", diff)
	}
	half := Render(src, ViewParams{}, 4)
	for c := range 3 {
		sum := int(src.Pix[c]) + int(src.Pix[4+c]) + int(src.Pix[src.Stride+c]) + int(src.Pix[src.Stride+4+c])
		if got, want := int(half.Pix[c]), (sum*2+4)/8; absDiff(uint8(got), uint8(want)) > 1 {
			t.Errorf("channel %d of the halved pixel = %d, want the 2x2 mean %d", c, got, want)
		}
	}
}

// transformed builds the expected image pixel by pixel from a source lookup.
func transformed(src *image.RGBA, from func(x, y int) (int, int)) *image.RGBA {
	n := src.Rect.Dx()
	dst := image.NewRGBA(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			sx, sy := from(x, y)
			copy(dst.Pix[dst.PixOffset(x, y):dst.PixOffset(x, y)+4], src.Pix[src.PixOffset(sx, sy):])
		}
	}
	return dst
}

func TestRenderFlipAndQuarterTurns(t *testing.T) {
	const n = 8
	src := noisyRGBA(n, n, 11)
	for _, tc := range []struct {
		name string
		p    ViewParams
		from func(x, y int) (int, int)
	}{
		{"hflip", ViewParams{Flip: true}, func(x, y int) (int, int) { return n - 1 - x, y }},
		// Counter-clockwise: the top-right corner comes to the top-left.
		{"rot+90", ViewParams{AngleDeg: 90}, func(x, y int) (int, int) { return n - 1 - y, x }},
		{"rot-90", ViewParams{AngleDeg: -90}, func(x, y int) (int, int) { return y, n - 1 - x }},
		{"rot180", ViewParams{AngleDeg: 180}, func(x, y int) (int, int) { return n - 1 - x, n - 1 - y }},
		{"rot450", ViewParams{AngleDeg: 450}, func(x, y int) (int, int) { return n - 1 - y, x }},
		// The mirror applies after the rotation.
		{"rot+90 flip", ViewParams{AngleDeg: 90, Flip: true}, func(x, y int) (int, int) { return n - 1 - y, n - 1 - x }},
	} {
		want := transformed(src, tc.from)
		if diff := cmp.Diff(want.Pix, Render(src, tc.p, n).Pix); diff != "" {
			t.Errorf("%s: wrong pixels (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestRenderRotationMovesMarkedCorner(t *testing.T) {
	red := color.RGBA{255, 0, 0, 255}
	src := solidRGBA(8, 8, color.RGBA{0, 0, 0, 255})
	src.SetRGBA(0, 0, red)
	out := Render(src, ViewParams{AngleDeg: 90}, 8)
	if got := rgbAt(out, 0, 7); got != [3]uint8{255, 0, 0} {
		t.Errorf("after +90 degrees the top-left mark should be bottom-left; (0,7) = %v", got)
	}
	if got := rgbAt(out, 0, 0); got != [3]uint8{0, 0, 0} {
		t.Errorf("(0,0) = %v after rotation, want black", got)
	}
	// A small non-right angle keeps the marked pixel's area near its corner
	// but blends it (bilinear), and never blurs black pixels far away.
	out = Render(src, ViewParams{AngleDeg: 5}, 8)
	if got := rgbAt(out, 7, 7); got != [3]uint8{0, 0, 0} {
		t.Errorf("far corner (7,7) = %v after a 5 degree turn, want black", got)
	}
}

func TestRenderBrightness(t *testing.T) {
	src := solidRGBA(4, 4, color.RGBA{100, 60, 200, 255})
	for _, tc := range []struct {
		b    float64
		want [3]uint8
	}{{1.5, [3]uint8{150, 90, 255}}, {0.5, [3]uint8{50, 30, 100}}, {1, [3]uint8{100, 60, 200}}, {0, [3]uint8{100, 60, 200}}, {-1, [3]uint8{0, 0, 0}}} {
		out := Render(src, ViewParams{Brightness: tc.b}, 4)
		if got := rgbAt(out, 2, 1); got != tc.want {
			t.Errorf("brightness %g: pixel = %v, want %v", tc.b, got, tc.want)
		}
	}
}

func TestRenderShiftMovesMarkedPixel(t *testing.T) {
	src := solidRGBA(10, 10, color.RGBA{0, 0, 0, 255})
	src.SetRGBA(2, 3, color.RGBA{255, 255, 255, 255})
	white := [3]uint8{255, 255, 255}
	for _, tc := range []struct {
		p    ViewParams
		want image.Point
	}{
		{ViewParams{ShiftX: 0.3}, image.Pt(5, 3)},
		{ViewParams{ShiftY: -0.2}, image.Pt(2, 1)},
		{ViewParams{ShiftX: -0.1, ShiftY: 0.5}, image.Pt(1, 8)},
	} {
		out := Render(src, tc.p, 10)
		var found []image.Point
		for y := range 10 {
			for x := range 10 {
				if rgbAt(out, x, y) == white {
					found = append(found, image.Pt(x, y))
				}
			}
		}
		if diff := cmp.Diff([]image.Point{tc.want}, found); diff != "" {
			t.Errorf("%+v: white pixels (-want +got):\n%s", tc.p, diff)
		}
	}
}

func TestRenderFillsWithNearestEdge(t *testing.T) {
	// Left column red, the rest blue; shifting right by half exposes the left
	// edge, which must repeat the red column (fill_mode="nearest").
	src := solidRGBA(8, 8, color.RGBA{0, 0, 255, 255})
	for y := range 8 {
		src.SetRGBA(0, y, color.RGBA{255, 0, 0, 255})
	}
	out := Render(src, ViewParams{ShiftX: 0.5}, 8)
	var row [][3]uint8
	for x := range 8 {
		row = append(row, rgbAt(out, x, 5))
	}
	r, b := [3]uint8{255, 0, 0}, [3]uint8{0, 0, 255}
	if diff := cmp.Diff([][3]uint8{r, r, r, r, r, b, b, b}, row); diff != "" {
		t.Errorf("row 5 (-want +got):\n%s", diff)
	}
}

func TestRenderZoom(t *testing.T) {
	// A horizontal ramp R = 20 + 10x: magnifying 2x about the centre halves
	// the slope; dst pixel i samples x = 1.75 + i/2.
	src := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			src.SetRGBA(x, y, color.RGBA{uint8(20 + 10*x), 0, 0, 255})
		}
	}
	out := Render(src, ViewParams{Zoom: 2}, 8)
	for i := range 8 {
		want := 38 + 5*i
		if got := int(rgbAt(out, i, 4)[0]); absDiff(uint8(got), uint8(want)) > 1 {
			t.Errorf("zoom 2: R at x=%d is %d, want %d", i, got, want)
		}
	}
	// Zooming out by 2 shows the whole ramp in the middle half, edges beyond.
	out = Render(src, ViewParams{Zoom: 0.5}, 8)
	got := []uint8{rgbAt(out, 0, 4)[0], rgbAt(out, 1, 4)[0], rgbAt(out, 7, 4)[0]}
	if diff := cmp.Diff([]uint8{20, 20, 90}, got); diff != "" {
		t.Errorf("zoom 0.5 edge values (-want +got):\n%s", diff)
	}
}

func TestRenderAcceptsAnySource(t *testing.T) {
	ycc := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(3*i), uint8(255-2*i)
	}
	p := ViewParams{AngleDeg: 12, ShiftX: 0.05, Zoom: 1.1, Brightness: 0.9, Flip: true}
	if diff := cmp.Diff(Render(toRGBA(ycc), p, 12).Pix, Render(ycc, p, 12).Pix); diff != "" {
		t.Errorf("YCbCr source renders differently from its RGBA conversion:\n%s", diff)
	}

	// A sub-image with a non-zero origin renders like a copy of it.
	big := noisyRGBA(20, 20, 5)
	sub := big.SubImage(image.Rect(3, 4, 15, 16)).(*image.RGBA)
	if diff := cmp.Diff(Render(toRGBA(sub), p, 9).Pix, Render(sub, p, 9).Pix); diff != "" {
		t.Errorf("sub-image renders differently from its copy:\n%s", diff)
	}

	// Nonsense parameters give an image, not a panic.
	nan := math.NaN()
	out := Render(big, ViewParams{AngleDeg: nan, ShiftX: math.Inf(1), Zoom: 1e-300, Brightness: nan}, 5)
	if out.Rect.Dx() != 5 {
		t.Errorf("bounds %v", out.Rect)
	}
}
