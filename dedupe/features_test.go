package dedupe

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
)

func TestRun9(t *testing.T) {
	for _, tc := range []struct {
		mask uint32
		want bool
	}{
		{0b0000_0001_1111_1111, true},  // bits 0-8
		{0b0000_0000_1111_1111, false}, // only 8
		{0b1111_1000_0000_1111, true},  // 11-15 and, round the circle, 0-3
		{0b1111_0000_0000_1111, false}, // 12-15 and 0-3: 8
		{0b1010_1010_1010_1010, false}, // 8 set, none adjacent
		{0xffff, true},
	} {
		if got := run9(tc.mask); got != tc.want {
			t.Errorf("run9(%016b) = %v, want %v", tc.mask, got, tc.want)
		}
	}
}

func TestErode(t *testing.T) {
	// A 9x5 mask, true but for column 0: eroding by 1 keeps the pixels whose
	// 3x3 neighbourhood lies inside and is true.
	w, h := 9, 5
	m := make([]bool, w*h)
	for y := range h {
		for x := 1; x < w; x++ {
			m[y*w+x] = true
		}
	}
	got := erode(m, w, h, 1, new(scratch))
	for y := range h {
		for x := range w {
			want := y >= 1 && y <= h-2 && x >= 2 && x <= w-2
			if got[y*w+x] != want {
				t.Errorf("eroded (%d,%d) = %v, want %v", x, y, got[y*w+x], want)
			}
		}
	}
}

// texture is a photo-like image with corners at every scale: overlapping
// random discs and rectangles of random grey levels on a gradient.
func texture(size int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			v := uint8(60 + 100*x/size)
			img.Set(x, y, color.RGBA{v, v, v, 255})
		}
	}
	for range 120 {
		cx, cy, rad := r.IntN(size), r.IntN(size), 3+r.IntN(size/10)
		v := uint8(r.IntN(256))
		disc := r.IntN(2) == 0
		for y := max(cy-rad, 0); y < min(cy+rad, size); y++ {
			for x := max(cx-rad, 0); x < min(cx+rad, size); x++ {
				if !disc || (x-cx)*(x-cx)+(y-cy)*(y-cy) <= rad*rad {
					img.Set(x, y, color.RGBA{v, v / 2, 255 - v, 255})
				}
			}
		}
	}
	return img
}

// TestMatchFeaturesRecoversRealignment re-aligns a textured image the way
// the dataset's eye alignment does (rotation, zoom, shift, black corners)
// and checks that the feature match finds the transform and the registered
// correlation is high, while an unrelated image matches nothing.
func TestMatchFeaturesRecoversRealignment(t *testing.T) {
	src := texture(224, 1)
	p := dataset.ViewParams{AngleDeg: 10, Zoom: 1.15, ShiftX: 0.03, ShiftY: -0.02, Brightness: 1}
	moved := blackFill(src, p, 224)
	ga, va := FillMask(src)
	gb, vb := FillMask(moved)
	a, b := Features(ga, va), Features(gb, vb)
	if len(a) < 200 || len(b) < 200 {
		t.Fatalf("%d and %d keypoints, want >= 200 each", len(a), len(b))
	}
	c := MatchFeatures(a, b)
	// Render turns content counter-clockwise on screen, which in image
	// coordinates (y down) is a negative angle.
	if c.Inliers < 100 || math.Abs(c.Map.Scale()-1.15) > 0.02 || math.Abs(c.Map.AngleDeg()+10) > 1 {
		t.Errorf("match: %d inliers of %d, scale %.3f, angle %.2f; want >= 100 inliers, scale 1.15, angle -10", c.Inliers, c.Matches, c.Map.Scale(), c.Map.AngleDeg())
	}
	// The shift: Render zooms and turns about the centre, then moves the
	// content by (ShiftX, ShiftY) of the side.
	cx, cy := c.Map.apply(111.5, 111.5)
	if math.Abs(cx-(111.5+0.03*224)) > 2 || math.Abs(cy-(111.5-0.02*224)) > 2 {
		t.Errorf("the centre maps to (%.1f, %.1f), want (%.1f, %.1f)", cx, cy, 111.5+0.03*224, 111.5-0.02*224)
	}
	s := AlignCompare(src, moved)
	if s.Correlation < 0.95 || !s.Duplicate(AlignThreshold) {
		t.Errorf("align score %+v: not a near-duplicate", s)
	}
	other := AlignCompare(src, texture(224, 2))
	if other.Inliers >= alignMinInliers || other.Duplicate(AlignThreshold) {
		t.Errorf("unrelated textures: %+v", other)
	}
}

// TestBlackFill checks that the realign edit leaves black corners and that
// FillMask finds exactly the fill.
func TestBlackFill(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range src.Pix {
		src.Pix[i] = 200
	}
	out := blackFill(src, dataset.ViewParams{AngleDeg: 15, Zoom: 1, Brightness: 1}, 64)
	g, valid := FillMask(out)
	for _, c := range [][2]int{{0, 0}, {63, 0}, {0, 63}, {63, 63}} {
		if v := g.At(c[0], c[1]); v != 0 || valid[c[1]*64+c[0]] {
			t.Errorf("corner %v: grey %g, valid %v; want black fill", c, v, valid[c[1]*64+c[0]])
		}
	}
	if !valid[32*64+32] || g.At(32, 32) != 200 {
		t.Errorf("centre: grey %g, valid %v", g.At(32, 32), valid[32*64+32])
	}
}

// TestAlignOnRealPhotos checks the features on real photos: a real photo
// and its re-alignment match, and photos of two different dogs do not.
func TestAlignOnRealPhotos(t *testing.T) {
	root := needs.Photos(t)
	load := func(rel string) image.Image {
		img, err := dataset.Decode(root + "/" + rel)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	a := load("39/39.1.jpg")
	moved := blackFill(a, dataset.ViewParams{AngleDeg: -12, Zoom: 0.85, ShiftY: 0.04, Brightness: 1}, 224)
	if s := AlignCompare(a, moved); !s.Duplicate(AlignThreshold) || s.Correlation < 0.9 {
		t.Errorf("39.1 and its re-alignment: %+v", s)
	}
	// The example: one shot that the dataset aligned twice.
	if s := AlignCompare(a, load("39/39.4.jpg")); !s.Duplicate(AlignThreshold) {
		t.Errorf("39.1 and 39.4: %+v", s)
	}
	if s := AlignCompare(a, load("100/100.0.jpg")); s.Duplicate(AlignThreshold) || s.Inliers >= alignMinInliers {
		t.Errorf("photos of two dogs: %+v", s)
	}
}
