package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	htmltemplate "html/template"
	"image"
	"image/jpeg"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	xdraw "golang.org/x/image/draw"

	"github.com/dogrun/dogrun/dataset"
)

// thumbPixels is the longer side of a dog thumbnail: sharp at the 48px the
// tables show on a 2x screen, yet only a few kB as JPEG.
const thumbPixels = 96

// Thumb is one photo of a dog, scaled down for the report's tables. When the
// photo cannot be read, Missing says why and the report prints
// "photo not found" instead of a broken image.
type Thumb struct {
	Class   string
	File    string // path beside report.md, e.g. "thumbs/537.jpg"
	JPEG    []byte
	Missing string
}

// DataURI embeds the thumbnail in HTML.
func (t *Thumb) DataURI() htmltemplate.URL {
	return htmltemplate.URL("data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(t.JPEG))
}

// thumbs loads and caches one thumbnail per class on first use, and writes
// it beside the Markdown (through pics: a photo that did not change is not
// scaled again).
type thumbs struct {
	root   string            // dataset folder; "" when unknown
	photos map[string]string // class -> photo path relative to root
	pics   *pictures
	mu     sync.Mutex
	byName map[string]*Thumb
	files  map[string]string // file name -> class, to keep names unique
}

func newThumbs(root string, photos map[string]string, pics *pictures) *thumbs {
	return &thumbs{root: root, photos: photos, pics: pics, byName: map[string]*Thumb{}, files: map[string]string{}}
}

// get returns the thumbnail of class, loading it the first time.
func (ts *thumbs) get(class string) *Thumb {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t, ok := ts.byName[class]; ok {
		return t
	}
	t := &Thumb{Class: class, File: "thumbs/" + ts.fileName(class)}
	t.JPEG, t.Missing = ts.load(class, t.File)
	ts.byName[class] = t
	return t
}

// fileName turns a class folder name into a safe, unique file name.
func (ts *thumbs) fileName(class string) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, class)
	if base == "" {
		base = "class"
	}
	name := base + ".jpg"
	for i := 2; ts.files[name] != "" && ts.files[name] != class; i++ {
		name = fmt.Sprintf("%s_%d.jpg", base, i)
	}
	ts.files[name] = class
	return name
}

func (ts *thumbs) load(class, file string) ([]byte, string) {
	if ts.root == "" {
		return nil, "dataset folder unknown"
	}
	p, ok := ts.photos[class]
	if !ok {
		// No test photo recorded: take the class folder's first file.
		entries, err := os.ReadDir(filepath.Join(ts.root, class))
		if err != nil {
			return nil, "photo not found"
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				p = path.Join(class, e.Name())
				break
			}
		}
		if p == "" {
			return nil, "photo not found"
		}
	}
	path := filepath.Join(ts.root, filepath.FromSlash(p))
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "photo not found"
	}
	b, err := ts.pics.draw(file, []any{"thumbnail", sha(raw), thumbPixels}, func() ([]byte, error) {
		img, err := dataset.Decode(path)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		err = jpeg.Encode(&buf, ScaleDown(img, thumbPixels), &jpeg.Options{Quality: 82})
		return buf.Bytes(), err
	})
	if err != nil {
		return nil, "photo not found"
	}
	return b, ""
}

// ScaleDown fits img into a size×size box, keeping its aspect ratio (the
// thumbnails, and the dashboard's Grad-CAM overlays).
func ScaleDown(img image.Image, size int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= size && h <= size {
		return img
	}
	if w >= h {
		w, h = size, max(1, h*size/w)
	} else {
		w, h = max(1, w*size/h), size
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	return dst
}
