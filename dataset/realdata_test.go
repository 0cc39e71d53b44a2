package dataset

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/google/go-cmp/cmp"
)

func TestLoadRealData(t *testing.T) {
	root := needs.Photos(t)
	d, err := Load(root, LoadOptions{MinImagesPerClass: 8})
	if err != nil {
		t.Fatal(err)
	}
	// The dataset's README says about 170 dogs have 8 or more photos.
	if n := len(d.Classes); n <= 100 || n > 300 {
		t.Errorf("%d classes with >= 8 photos; want about 170", n)
	}
	if len(d.Skipped) != 0 {
		t.Errorf("%d files skipped, none expected; first: %+v", len(d.Skipped), d.Skipped[0])
	}
	dropped := 0
	for _, c := range d.Dropped {
		if c.Photos >= 8 {
			t.Errorf("class %s dropped with %d photos", c.Name, c.Photos)
		}
		dropped += c.Photos
	}
	if got := len(d.Photos) + dropped; got != 6577 {
		t.Errorf("kept %d + dropped %d photos = %d, want the 6,577 of the dataset's README", len(d.Photos), dropped, got)
	}
	if len(d.Classes)+len(d.Dropped) != 1110 {
		t.Errorf("%d kept + %d dropped classes, want 1,110", len(d.Classes), len(d.Dropped))
	}
	for _, n := range d.PhotosPerClass() {
		if n < 8 {
			t.Fatalf("kept class with %d photos", n)
		}
	}

	s, err := StratifiedSplit(d, 0.2, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Train) + len(s.Val) + len(s.Test); got != len(d.Photos) {
		t.Errorf("split covers %d of %d photos", got, len(d.Photos))
	}
	seen := make([][3]int, len(d.Classes))
	for part, idx := range [][]int{s.Train, s.Val, s.Test} {
		for _, i := range idx {
			seen[d.Photos[i].Class][part]++
		}
	}
	for ci, c := range seen {
		if c[0] < 1 || c[1] < 1 || c[2] < 1 {
			t.Errorf("class %s: train/val/test = %v, want each >= 1", d.Classes[ci], c)
		}
	}
}

func TestLoadRealDataFormats(t *testing.T) {
	root := needs.Photos(t)
	d, err := Load(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pngs []string
	for _, p := range d.Photos {
		if p.Format == "png" {
			pngs = append(pngs, p.Rel)
		}
	}
	// Known from the data: three .jpg files hold PNG data.
	if diff := cmp.Diff([]string{"205/205.1.jpg", "537/537.1.jpg", "537/537.2.jpg"}, pngs); diff != "" {
		t.Errorf("PNG-content photos (-want +got):\n%s", diff)
	}
	if len(d.Photos) != 6577 || len(d.Skipped) != 0 {
		t.Errorf("got %d photos, %d skipped; want 6577, 0", len(d.Photos), len(d.Skipped))
	}

	// Load validates structure only; confirm every photo it kept fully
	// decodes, so the cheaper check loses nothing on this data.
	if testing.Short() {
		t.Skip("full decode of every photo skipped in -short mode")
	}
	var mu sync.Mutex
	parallel(len(d.Photos), func(i int) {
		img, err := Decode(d.Photos[i].Path)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			t.Errorf("kept photo does not decode: %v", err)
		} else if img.Bounds() != image.Rect(0, 0, 224, 224) {
			t.Errorf("%s: bounds %v, want 224x224", d.Photos[i].Rel, img.Bounds())
		}
	})
}

func BenchmarkLoad(b *testing.B) {
	root := needs.Photos(b)
	for b.Loop() {
		if _, err := Load(root, LoadOptions{MinImagesPerClass: 8}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	// A real photo when present, else noise of the same size.
	var src image.Image = noisyRGBA(224, 224, 1)
	if img, err := Decode(filepath.Join("..", "..", "shared", "data", "dogfacenet", "537", "537.0.jpg")); err == nil {
		src = img
	}
	p := testAugment.Params(fakeSHA(1), 1)
	for b.Loop() {
		Render(src, p, 112)
	}
}

// BenchmarkDecode times Decode (libjpeg-turbo) and, for the README's
// comparison, the image/jpeg path it replaced for clean YCbCr files.
func BenchmarkDecode(b *testing.B) {
	path := filepath.Join("..", "..", "shared", "data", "dogfacenet", "537", "537.0.jpg")
	if _, err := os.Stat(path); err != nil {
		b.Skip("shared photos not present")
	}
	b.Run("libjpeg", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image-jpeg", func(b *testing.B) {
		for b.Loop() {
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			toRGBA(img)
		}
	})
}
