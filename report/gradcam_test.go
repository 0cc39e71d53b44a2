package report

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stubGradCAM is a Grad-CAM section of the best trial with three plain
// pictures: one right, one wrong, one whose Grad-CAM map was empty, written
// into dir/gradcam as the caller keeps them.
func stubGradCAM(t *testing.T, d *Data, dir string) *GradCAM {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "gradcam"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"1.png", "2.png", "3.png"} {
		if err := os.WriteFile(filepath.Join(dir, "gradcam", f), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &GradCAM{Trial: *d.Best, CAMs: []CAM{
		{Photo: "rex/rex1.png", True: "rex", Pred: "rex", Prob: 0.91, File: "gradcam/1.png", PNG: b.Bytes()},
		{Photo: "bella/bella2.png", True: "bella", Pred: "rex", Prob: 0.55, File: "gradcam/2.png", PNG: b.Bytes()},
		{Photo: "rex/rex2.png", True: "rex", Pred: "rex", Prob: 0.97, File: "gradcam/3.png", PNG: b.Bytes(), Occluded: true},
	}}
}

func TestGradCAMSection(t *testing.T) {
	dir, d := writeSweep(t)
	md := readFile(t, filepath.Join(dir, "report.md"))
	for _, want := range []string{
		"## Where the best trial looks",
		"`dogrun gradcam -trial " + d.Best.Hash[:16] + " PHOTO`",
		"![rex/rex1.png: predicted dog rex (0.91), right](gradcam/1.png)",
		"![bella/bella2.png: predicted dog rex (0.55), wrong: dog bella](gradcam/2.png)",
		"![rex/rex2.png: predicted dog rex (0.97), right. Grad-CAM map empty (no positive evidence); shown: occlusion sensitivity](gradcam/3.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	html := readFile(t, filepath.Join(dir, "report.html"))
	if !strings.Contains(html, `<section id="gradcam"><h2>Where the best trial looks</h2>`) ||
		strings.Count(html, `alt="bella/bella2.png: predicted dog rex (0.55), wrong: dog bella"`) != 1 {
		t.Errorf("report.html lacks the Grad-CAM section")
	}

	// Without overlays the section says why.
	d.GradCAM = &GradCAM{Trial: *d.Best, Note: "no feature map"}
	dir = t.TempDir()
	if _, _, err := Write(d, dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	if md := readFile(t, filepath.Join(dir, "report.md")); !strings.Contains(md, "No Grad-CAM overlays: no feature map") {
		t.Errorf("report.md does not say why there are no overlays")
	}
}
