package dataset

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// noisyRGBA is a deterministic image whose pixels all differ, so any
// geometric mistake shows.
func noisyRGBA(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 7))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		if i%4 == 3 {
			m.Pix[i] = 255
		} else {
			m.Pix[i] = uint8(r.IntN(256))
		}
	}
	return m
}

func pngBytes(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tinyPNG is a distinct small PNG per id.
func tinyPNG(t testing.TB, id int) []byte {
	t.Helper()
	return pngBytes(t, noisyRGBA(6, 5, uint64(id)+1))
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeTree writes root/<class>/<class>.<n>.png with counts[class] distinct
// tiny PNGs each, numbering photos across classes from idBase.
func makeTree(t testing.TB, root string, counts map[string]int, idBase int) {
	t.Helper()
	id := idBase
	for _, class := range slices.Sorted(maps.Keys(counts)) {
		for n := range counts[class] {
			writeFile(t, filepath.Join(root, class, class+"."+strconv.Itoa(n)+".png"), tinyPNG(t, id))
			id++
		}
	}
}

// rgbAt reads the RGB of an *image.RGBA pixel.
func rgbAt(m *image.RGBA, x, y int) [3]uint8 {
	i := m.PixOffset(x, y)
	return [3]uint8{m.Pix[i], m.Pix[i+1], m.Pix[i+2]}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// maxPixelDiff is the largest per-channel RGB difference of two equal-size images.
func maxPixelDiff(a, b *image.RGBA) int {
	d := 0
	for y := range a.Rect.Dy() {
		for x := range a.Rect.Dx() {
			pa, pb := rgbAt(a, a.Rect.Min.X+x, a.Rect.Min.Y+y), rgbAt(b, b.Rect.Min.X+x, b.Rect.Min.Y+y)
			for c := range 3 {
				d = max(d, absDiff(pa[c], pb[c]))
			}
		}
	}
	return d
}

func solidRGBA(w, h int, c color.RGBA) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return m
}
