package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/internal/needs"
)

// pilScript has PIL write JPEGs of the kinds cameras and tools produce (odd
// sizes, so partial MCUs at the edges are covered), then decode each listed
// file to raw RGB as Keras' load_img does (PIL open, convert("RGB")).
const pilScript = `
import random, sys
from PIL import Image
out = sys.argv[1]
random.seed(1)
w, h = 61, 47
img = Image.new("RGB", (w, h))
img.putdata([((x * 7 + y * 3) % 256, (x * x + y) % 256, random.randrange(256)) for y in range(h) for x in range(w)])
img.save(out + "/420.jpg", quality=85)
img.save(out + "/422.jpg", quality=85, subsampling=1)
img.save(out + "/444.jpg", quality=95, subsampling=0)
img.save(out + "/progressive.jpg", quality=85, progressive=True)
img.convert("L").save(out + "/gray.jpg", quality=85)
for p in sys.argv[2:]:
    with Image.open(p) as m:
        open(p + ".rgb", "wb").write(m.convert("RGB").tobytes())
`

// TestDecodeMatchesPIL: dogrun's pixels must be PIL's, byte for byte, so
// features match what the Keras seed computed from the same photos.
func TestDecodeMatchesPIL(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import PIL").Run(); err != nil {
		needs.Met(t, fmt.Errorf("Debian's python3-pil is missing: %v", err))
	}
	dir := t.TempDir()
	files := []string{"420.jpg", "422.jpg", "444.jpg", "progressive.jpg", "gray.jpg"}
	for i, rel := range []string{"537/537.0.jpg", "472/472.4.jpg", "1000/1000.0.jpg"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "shared", "data", "dogfacenet", filepath.FromSlash(rel)))
		if errors.Is(err, os.ErrNotExist) {
			continue // the synthetic files still cover every decoder path
		}
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("photo%d.jpg", i)
		writeFile(t, filepath.Join(dir, name), b)
		files = append(files, name)
	}
	args := []string{"-c", pilScript, dir}
	for _, f := range files {
		args = append(args, filepath.Join(dir, f))
	}
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Fatalf("PIL: %v\n%s", err, out)
	}
	var goDiff, goMax, goBytes int // image/jpeg against PIL, for the README
	for _, f := range files {
		path := filepath.Join(dir, f)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := decodeLibjpeg(data); !ok {
			t.Errorf("%s: libjpeg declined a clean %s", f, strings.TrimSuffix(f, ".jpg"))
		}
		img, err := Decode(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(path + ".rgb")
		if err != nil {
			t.Fatal(err)
		}
		m := img.(*image.RGBA)
		got := rgbBytes(m)
		if len(got) != len(want) {
			t.Errorf("%s: %d RGB bytes, PIL %d", f, len(got), len(want))
			continue
		}
		if n, _ := countDiff(got, want); n > 0 {
			t.Errorf("%s: %d of %d bytes differ from PIL's", f, n, len(want))
		}
		assertOpaque(t, m)
		if strings.HasPrefix(f, "photo") {
			ref, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			n, d := countDiff(rgbBytes(toRGBA(ref)), want)
			goDiff, goMax, goBytes = goDiff+n, max(goMax, d), goBytes+len(want)
		}
	}
	if goBytes > 0 {
		t.Logf("image/jpeg on the photos: %.1f%% of bytes differ from PIL's, by up to %d levels", 100*float64(goDiff)/float64(goBytes), goMax)
	}
}

// rgbBytes is m's pixels as packed RGB, the layout of PIL's tobytes().
func rgbBytes(m *image.RGBA) []byte {
	out := make([]byte, 0, len(m.Pix)/4*3)
	for i := 0; i < len(m.Pix); i += 4 {
		out = append(out, m.Pix[i:i+3]...)
	}
	return out
}

// countDiff counts the bytes that differ and the largest difference.
func countDiff(a, b []byte) (n, largest int) {
	for i := range a {
		if a[i] != b[i] {
			n++
			largest = max(largest, int(max(a[i], b[i])-min(a[i], b[i])))
		}
	}
	return n, largest
}

// TestLibjpegAgreesWithImageJPEG guards channel order and layout without
// PIL: the two decoders differ only in IDCT rounding and chroma upsampling.
func TestLibjpegAgreesWithImageJPEG(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 40, 24))
	for y := range 24 {
		for x := range 40 {
			src.SetRGBA(x, y, color.RGBA{uint8(6 * x), uint8(10 * y), uint8(255 - 6*x), 255})
		}
	}
	data := jpegBytes(t, src)
	fast, ok := decodeLibjpeg(data)
	if !ok {
		t.Fatal("libjpeg declined a JPEG written by image/jpeg")
	}
	ref, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	slow := toRGBA(ref)
	if fast.Rect != slow.Rect {
		t.Fatalf("bounds %v, image/jpeg %v", fast.Rect, slow.Rect)
	}
	for y := range 24 {
		for x := range 40 {
			if d := maxChannelDiff(rgbAt(fast, x, y), rgbAt(slow, x, y)); d > 12 {
				t.Fatalf("(%d,%d): libjpeg %v, image/jpeg %v", x, y, rgbAt(fast, x, y), rgbAt(slow, x, y))
			}
		}
	}
}

// TestLibjpegDeclinesWhatImageJPEGMustJudge: CMYK and damaged files take the
// image/jpeg path, which decodes the former and names the error of the latter
// instead of returning libjpeg's grey-filled guess.
func TestLibjpegDeclinesWhatImageJPEGMustJudge(t *testing.T) {
	if _, ok := decodeLibjpeg(adobeCMYKJPEG(cmykColours[0])); ok {
		t.Error("libjpeg decoded a CMYK JPEG; its colours need image/jpeg's conversion")
	}
	whole := jpegBytes(t, noisyRGBA(64, 64, 3))
	for name, data := range map[string][]byte{
		"truncated":     whole[:len(whole)/2],
		"header only":   whole[:200],
		"not even SOI":  []byte{0xFF, 0xD8, 0xFF},
		"garbled scans": garble(whole),
	} {
		if _, ok := decodeLibjpeg(data); ok {
			t.Errorf("%s: libjpeg accepted damaged data", name)
		}
	}
	path := filepath.Join(t.TempDir(), "cut.jpg")
	writeFile(t, path, whole[:len(whole)/2])
	if _, err := Decode(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("truncated JPEG: error %v, want one naming %s", err, path)
	}
}

// garble overwrites the middle of the entropy-coded data with marker bytes
// that cannot occur there.
func garble(b []byte) []byte {
	out := bytes.Clone(b)
	for i := len(out) / 2; i < len(out)/2+16; i += 2 {
		out[i], out[i+1] = 0xFF, 0xC4
	}
	return out
}
