package dataset

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeFile writes data to a temp file and Decodes it as *image.RGBA.
func decodeFile(t *testing.T, name string, data []byte) *image.RGBA {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	writeFile(t, path, data)
	img, err := Decode(path)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := img.(*image.RGBA)
	if !ok {
		t.Fatalf("Decode returned %T, want *image.RGBA", img)
	}
	if m.Rect.Min != (image.Point{}) {
		t.Fatalf("Decode bounds %v do not start at the origin", m.Rect)
	}
	return m
}

func assertOpaque(t *testing.T, m *image.RGBA) {
	t.Helper()
	for i := 3; i < len(m.Pix); i += 4 {
		if m.Pix[i] != 255 {
			t.Fatalf("alpha %d at byte %d, want 255", m.Pix[i], i)
		}
	}
}

func TestDecodeGrayJPEG(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	data := jpegBytes(t, g)
	ref, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	refGray, ok := ref.(*image.Gray)
	if !ok {
		t.Fatalf("image/jpeg wrote a %T JPEG, want a grayscale one", ref)
	}

	m := decodeFile(t, "gray.jpg", data)
	assertOpaque(t, m)
	for y := range 16 {
		for x := range 16 {
			v := refGray.GrayAt(x, y).Y
			if got := rgbAt(m, x, y); got != [3]uint8{v, v, v} {
				t.Fatalf("pixel (%d,%d) = %v, want gray %d on all channels", x, y, got, v)
			}
			if d := absDiff(v, g.GrayAt(x, y).Y); d > 4 {
				t.Fatalf("pixel (%d,%d) off the source by %d", x, y, d)
			}
		}
	}
}

// cmykColours are inks with a known RGB under color.CMYKToRGB.
var cmykColours = []color.CMYK{
	{C: 0, M: 0, Y: 0, K: 0},
	{C: 255, M: 0, Y: 0, K: 0},
	{C: 0, M: 200, Y: 100, K: 30},
	{C: 10, M: 20, Y: 230, K: 128},
}

func TestDecodeCMYKImageEncodedWithImageJPEG(t *testing.T) {
	// image/jpeg stores a CMYK image as YCbCr; the colours must survive.
	for _, c := range cmykColours {
		src := image.NewCMYK(image.Rect(0, 0, 16, 16))
		for y := range 16 {
			for x := range 16 {
				src.SetCMYK(x, y, c)
			}
		}
		m := decodeFile(t, "cmyk.jpg", jpegBytes(t, src))
		assertOpaque(t, m)
		r, g, b := color.CMYKToRGB(c.C, c.M, c.Y, c.K)
		if got, want := rgbAt(m, 8, 8), [3]uint8{r, g, b}; maxChannelDiff(got, want) > 3 {
			t.Errorf("CMYK %v decoded to %v, want about %v", c, got, want)
		}
	}
}

func TestDecodeAdobeCMYKJPEG(t *testing.T) {
	// A genuine 4-component (Adobe, inverted) CMYK JPEG, which image/jpeg
	// cannot write, so it is assembled by hand.
	for _, c := range cmykColours {
		data := adobeCMYKJPEG(c)
		raw, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("hand-made CMYK JPEG does not decode: %v", err)
		}
		if _, ok := raw.(*image.CMYK); !ok {
			t.Fatalf("hand-made JPEG decodes as %T, want *image.CMYK", raw)
		}
		m := decodeFile(t, "adobe.jpg", data)
		assertOpaque(t, m)
		r, g, b := color.CMYKToRGB(c.C, c.M, c.Y, c.K)
		for _, pt := range []image.Point{{0, 0}, {7, 7}, {3, 5}} {
			if got, want := rgbAt(m, pt.X, pt.Y), [3]uint8{r, g, b}; maxChannelDiff(got, want) > 2 {
				t.Errorf("CMYK %v at %v decoded to %v, want %v", c, pt, got, want)
			}
		}
	}
}

func maxChannelDiff(a, b [3]uint8) int {
	return max(absDiff(a[0], b[0]), absDiff(a[1], b[1]), absDiff(a[2], b[2]))
}

// adobeCMYKJPEG encodes an 8x8 image of one ink colour as a baseline JPEG
// with four components and an Adobe APP14 marker (transform 0 = CMYK). A
// uniform block has only a DC coefficient, so one MCU with DC-only blocks
// and quantisation 1 encodes it exactly.
func adobeCMYKJPEG(c color.CMYK) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xD8})
	b.Write([]byte{0xFF, 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0})
	b.Write([]byte{0xFF, 0xDB, 0, 67, 0})
	b.Write(bytes.Repeat([]byte{1}, 64))
	b.Write([]byte{0xFF, 0xC0, 0, 20, 8, 0, 8, 0, 8, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0})
	// DC table: categories 0..11 with 4-bit codes equal to the category.
	// AC table: only EOB, code "0".
	b.Write([]byte{0xFF, 0xC4, 0, 49, 0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	b.Write([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	b.Write([]byte{0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00})
	b.Write([]byte{0xFF, 0xDA, 0, 14, 4, 1, 0, 2, 0, 3, 0, 4, 0, 0, 63, 0})

	var w bitWriter
	for _, ink := range []uint8{c.C, c.M, c.Y, c.K} {
		// Adobe CMYK stores 255-ink; DC = 8*(sample-128) for a flat block.
		dc := 8 * (int(255-ink) - 128)
		cat, bits := 0, dc
		for a := max(dc, -dc); a > 0; a >>= 1 {
			cat++
		}
		if dc < 0 {
			bits = dc + (1 << cat) - 1
		}
		w.put(uint32(cat), 4)
		w.put(uint32(bits), cat)
		w.put(0, 1) // EOB
	}
	b.Write(w.flush())
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}

type bitWriter struct {
	out   []byte
	acc   uint32
	nbits int
}

func (w *bitWriter) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | (v>>i)&1
		w.nbits++
		if w.nbits == 8 {
			w.emit()
		}
	}
}

func (w *bitWriter) emit() {
	w.out = append(w.out, byte(w.acc))
	if byte(w.acc) == 0xFF {
		w.out = append(w.out, 0) // byte stuffing
	}
	w.acc, w.nbits = 0, 0
}

func (w *bitWriter) flush() []byte {
	for w.nbits != 0 {
		w.put(1, 1) // pad with 1 bits
	}
	return w.out
}

func TestDecodePNGWithAlphaKeepsStraightColour(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	src.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 64})
	src.SetNRGBA(1, 0, color.NRGBA{10, 20, 30, 0})
	m := decodeFile(t, "alpha.png", pngBytes(t, src))
	assertOpaque(t, m)
	got := [][3]uint8{rgbAt(m, 0, 0), rgbAt(m, 1, 0)}
	if diff := cmp.Diff([][3]uint8{{200, 100, 50}, {10, 20, 30}}, got); diff != "" {
		t.Errorf("RGB (-want +got):\n%s", diff)
	}
}

func TestDecodePalettedAnd16BitPNG(t *testing.T) {
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.NRGBA{0, 200, 0, 128}, color.RGBA{0, 0, 0, 0}}
	p := image.NewPaletted(image.Rect(0, 0, 3, 1), pal)
	p.Pix = []uint8{0, 1, 2}
	m := decodeFile(t, "pal.png", pngBytes(t, p))
	assertOpaque(t, m)
	got := [][3]uint8{rgbAt(m, 0, 0), rgbAt(m, 1, 0), rgbAt(m, 2, 0)}
	if diff := cmp.Diff([][3]uint8{{255, 0, 0}, {0, 200, 0}, {0, 0, 0}}, got); diff != "" {
		t.Errorf("paletted RGB (-want +got):\n%s", diff)
	}

	g := image.NewGray16(image.Rect(0, 0, 2, 1))
	g.SetGray16(0, 0, color.Gray16{Y: 0x1234})
	g.SetGray16(1, 0, color.Gray16{Y: 0xFFFF})
	m = decodeFile(t, "gray16.png", pngBytes(t, g))
	assertOpaque(t, m)
	got = [][3]uint8{rgbAt(m, 0, 0), rgbAt(m, 1, 0)}
	if diff := cmp.Diff([][3]uint8{{0x12, 0x12, 0x12}, {255, 255, 255}}, got); diff != "" {
		t.Errorf("16-bit gray RGB (-want +got):\n%s", diff)
	}
}

func TestToRGBA(t *testing.T) {
	// Premultiplied input is un-premultiplied; sub-images move to the origin.
	src := image.NewRGBA(image.Rect(0, 0, 4, 4))
	src.SetRGBA(2, 3, color.RGBA{100, 50, 0, 128})
	src.SetRGBA(3, 3, color.RGBA{9, 8, 7, 255})
	sub := src.SubImage(image.Rect(2, 3, 4, 4)).(*image.RGBA)
	m := toRGBA(sub)
	if diff := cmp.Diff(image.Rect(0, 0, 2, 1), m.Rect); diff != "" {
		t.Errorf("bounds (-want +got):\n%s", diff)
	}
	got := [][3]uint8{rgbAt(m, 0, 0), rgbAt(m, 1, 0)}
	if diff := cmp.Diff([][3]uint8{{199, 100, 0}, {9, 8, 7}}, got); diff != "" {
		t.Errorf("RGB (-want +got):\n%s", diff)
	}
	assertOpaque(t, m)

	// A YCbCr sub-image converts like its colour model says.
	ycc := image.NewYCbCr(image.Rect(0, 0, 8, 8), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 3)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(40+i*5), uint8(200-i*7)
	}
	subY := ycc.SubImage(image.Rect(1, 3, 7, 8)).(*image.YCbCr)
	m = toRGBA(subY)
	for y := range 5 {
		for x := range 6 {
			c := ycc.YCbCrAt(x+1, y+3)
			r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			if got := rgbAt(m, x, y); got != [3]uint8{r, g, b} {
				t.Fatalf("YCbCr pixel (%d,%d) = %v, want %v", x, y, got, [3]uint8{r, g, b})
			}
		}
	}
}

func TestDecodeErrorsNamePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.jpg")
	writeFile(t, path, []byte("hello"))
	_, err := Decode(path)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Errorf("Decode error = %v; want it to name %s", err, path)
	}
}

// An upload is checked as Load checks a folder's files before it is
// decoded: what Load would skip is refused with the reason, named.
func TestDecodeUploadRefusesWhatLoadSkips(t *testing.T) {
	good := pngBytes(t, noisyRGBA(6, 5, 1))
	img, err := DecodeUpload("dog.png", good)
	if err != nil || img.Bounds().Dx() != 6 || img.Bounds().Dy() != 5 {
		t.Fatalf("a good PNG: %v, %v", img, err)
	}
	// A PNG header claiming 20000 x 20000 pixels: a few bytes that would
	// ask the decoder for 1.6 GB.
	huge := append([]byte(nil), good[:33]...)
	binary.BigEndian.PutUint32(huge[16:], 20000)
	binary.BigEndian.PutUint32(huge[20:], 20000)
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"huge.png", huge, "huge.png: PNG too large (20000x20000)"},
		{"cat.gif", []byte("GIF89a\x01\x00\x01\x00"), "cat.gif: unsupported image format GIF (only JPEG and PNG are read)"},
		{"notes.jpg", []byte("hello"), "notes.jpg: not an image (text)"},
		{"cut.png", good[:len(good)-20], "cut.png: truncated or corrupt PNG"},
	} {
		_, err := DecodeUpload(c.name, c.b)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
