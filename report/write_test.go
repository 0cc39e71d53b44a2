package report

import (
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeSweep(t *testing.T) (dir string, d *Data) {
	t.Helper()
	fx := newSweepFixture(t)
	d, err := Gather(context.Background(), fx.store, "sweep")
	if err != nil {
		t.Fatal(err)
	}
	if d.DatasetDir != fx.dataDir {
		t.Fatalf("dataset folder %q, want %q (resolved against the experiment file)", d.DatasetDir, fx.dataDir)
	}
	dir = t.TempDir()
	d.GradCAM = stubGradCAM(t, d, dir) // the caller draws them; stand-ins show the section
	if _, _, err := Write(d, dir, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return dir, d
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	htmlImgRE  = regexp.MustCompile(`<img [^>]*src="([^"]*)"`)
	htmlHrefRE = regexp.MustCompile(`href="([^"#]+)"`)
	mdLinkRE   = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// checkHTMLPage checks that a page embeds all its pictures and that its
// relative links lead to files; it returns the number of images.
func checkHTMLPage(t *testing.T, path string) int {
	t.Helper()
	text := readFile(t, path)
	imgs := htmlImgRE.FindAllStringSubmatch(text, -1)
	for _, m := range imgs {
		if !strings.HasPrefix(m[1], "data:image/") {
			t.Errorf("%s: image %.60q is not embedded", path, m[1])
		}
	}
	for _, m := range htmlHrefRE.FindAllStringSubmatch(text, -1) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), filepath.FromSlash(m[1]))); err != nil {
			t.Errorf("%s: link %q: %v", path, m[1], err)
		}
	}
	return len(imgs)
}

// checkMarkdownPage checks that every link and picture of a Markdown page
// is a file beside it.
func checkMarkdownPage(t *testing.T, path string) {
	t.Helper()
	for _, m := range mdLinkRE.FindAllStringSubmatch(readFile(t, path), -1) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), filepath.FromSlash(m[1]))); err != nil {
			t.Errorf("%s: link %q: %v", path, m[1], err)
		}
	}
}

func TestWriteSweepReport(t *testing.T) {
	dir, d := writeSweep(t)
	if len(d.Epochs) != 7 || len(d.Reports) != 7 {
		t.Errorf("gathered epochs of %d and reports of %d trials, want 7 done", len(d.Epochs), len(d.Reports))
	}
	if d.ClassPhotos["rex"] != "rex/rex1.png" || d.ClassPhotos["fido"] != "fido/fido1.png" {
		t.Errorf("class photos %v", d.ClassPhotos)
	}

	for _, name := range []string{"report.md", "report.html", "variants.png", "axis_head.dropout.png", "axis_train.lr.png",
		"curves.png", "learning_curve.png", "class_f1.png", "confusion.png"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	html := filepath.Join(dir, "report.html")
	if n := checkHTMLPage(t, html); n < 8 {
		t.Errorf("report.html has %d images, want at least the 8 charts", n)
	}
	checkMarkdownPage(t, filepath.Join(dir, "report.md"))
	text := readFile(t, html)
	for _, want := range []string{
		"Two swept settings over three dogs.", // description
		"c0ffee", "b0b0", "f1ngerpr1nt", "All 7 finished trials ran on one commit",
		"Most confused pairs", "photo not found", // fido has no photos
		`alt="dog rex"`, "Hardest dogs", "tensorboard --logdir trials",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// No split is stored for these trials; their sweep gets verdicts.
	if strings.Contains(text, `id="split"`) {
		t.Errorf("report.html shows a split section without a stored split")
	}
	if !strings.Contains(text, `id="verdicts"`) {
		t.Errorf("report.html has no verdicts section for a finished sweep")
	}

	// Thumbnails beside the Markdown: scaled down, and none for the dog
	// without photos.
	b, err := os.ReadFile(filepath.Join(dir, "thumbs", "rex.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz.X != thumbPixels || sz.Y != thumbPixels*120/160 {
		t.Errorf("thumbnail is %v, want %dx%d (160x120 scaled, aspect kept)", sz, thumbPixels, thumbPixels*120/160)
	}
	if _, err := os.Stat(filepath.Join(dir, "thumbs", "fido.jpg")); !os.IsNotExist(err) {
		t.Errorf("fido.jpg: %v, want no file", err)
	}

	// One page pair per trial, the failed one included.
	for _, tr := range d.Trials {
		page := filepath.Join(dir, "trials", tr.Hash[:16], "index.html")
		n := checkHTMLPage(t, page)
		checkMarkdownPage(t, filepath.Join(dir, "trials", tr.Hash[:16], "index.md"))
		text := readFile(t, page)
		if tr.Status == "failed" {
			if !strings.Contains(text, "loss became NaN at epoch 3") || n != 0 {
				t.Errorf("failed trial page: %d images, error shown %v", n, strings.Contains(text, "NaN"))
			}
			continue
		}
		// Learning curve, class F1, heatmap, and thumbnails of rex and bella.
		if n < 5 {
			t.Errorf("trial %d page has %d images, want at least 5", tr.Index, n)
		}
		if !strings.Contains(text, `href="../../report.html"`) {
			t.Errorf("trial %d page does not link back to the report", tr.Index)
		}
	}
}
