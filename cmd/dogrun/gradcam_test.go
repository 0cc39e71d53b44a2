package main

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/convert/onnx"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/gradcam/gradcamtest"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/results"
)

// doneTrials returns the trials of an experiment in runs/dogrun.db.
func doneTrials(t *testing.T, runs, name string) []results.Trial {
	t.Helper()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := st.Experiment(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trials {
		if tr.Status != results.StatusDone {
			t.Fatalf("trial %d is %s: %s", tr.Index, tr.Status, tr.Error)
		}
	}
	return trials
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// TestGradCAM trains a trial on a net of one's own whose feature map is a
// photo's red and green channels, on reddish and greenish photos, gives its
// one-layer head the logits -red for "green" and +red for "red", then draws
// Grad-CAM overlays with the command and in the report. The map of "green"
// is empty (no location raises -red), so its overlay shows occlusion
// sensitivity: greying the green half raises red, lowering "green".
func TestGradCAM(t *testing.T) {
	dir := t.TempDir()
	m := onnx.Model{Producer: "dogrun-test", Graph: gradcamtest.RedGreen(-1, 16)}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "redgreen.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dog := range []string{"red", "green"} {
		for i := 0; i < 10; i++ {
			img := image.NewRGBA(image.Rect(0, 0, 16, 16))
			for p := 0; p < 16*16; p++ {
				hi, lo := uint8(150+rng.IntN(100)), uint8(rng.IntN(100))
				c := color.RGBA{hi, lo, uint8(rng.IntN(256)), 255}
				if dog == "green" {
					c.R, c.G = lo, hi
				}
				img.Set(p%16, p/16, c)
			}
			writePNG(t, filepath.Join(dir, "photos", dog, dog+string(rune('a'+i))+".png"), img)
		}
	}
	exp := filepath.Join(dir, "redgreen.yaml")
	yaml := "name: redgreen\ndataset: {path: photos, min_images_per_class: 5, test: 0.3, val: 0.2}\nsplit: {group: none}\n" +
		"backbone: {name: onnx, file: redgreen.onnx, scale: [0.015625, 0.015625, 0.015625]}\n" +
		"head: {hidden: []}\naugmentation: {views: 0}\ntrain: {lr: 0.01, batch_size: 4, epochs: 30, early_stopping: {patience: 0}}\nseeds: [1]\n"
	if err := os.WriteFile(exp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(dir, "runs")
	if out, _, err := dogrun(t, "run", exp, "-runs", runs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	trial := doneTrials(t, runs, "redgreen")[0]
	hash := trial.Hash[:8]
	// Classes in folder order: green, red; features: red, green.
	if err := gradcamtest.SetWeights(trial.CheckpointPath, map[string][]float32{"/logits/weights": {-1, 1, 0, 0}, "/logits/biases": {0, 0}}); err != nil {
		t.Fatal(err)
	}

	// Left half red, right half green: the heatmap of "red" is hot on the left.
	half := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			c := color.RGBA{230, 30, 0, 255}
			if x >= 16 {
				c = color.RGBA{30, 200, 0, 255}
			}
			half.Set(x, y, c)
		}
	}
	photo := filepath.Join(dir, "half.png")
	writePNG(t, photo, half)
	var got strings.Builder
	for _, class := range []string{"red", "green"} {
		overlay := filepath.Join(dir, class+".png")
		out, _, err := dogrun(t, "gradcam", "-runs", runs, "-trial", hash, "-class", class, "-o", overlay, photo)
		if err != nil {
			t.Fatal(err)
		}
		got.WriteString(strings.ReplaceAll(out, dir, "$DIR"))
		img, err := dataset.Decode(overlay)
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
			t.Fatalf("overlay is %v, want the photo's 32x32", b)
		}
		// Cold pixels keep most of the photo; hot ones turn red-orange (jet).
		left, right := img.At(4, 16).(color.RGBA), img.At(28, 16).(color.RGBA)
		hot, cold := left, right
		if class == "green" {
			hot, cold = right, left
		}
		if hot.B > 30 || cold.B < 20 {
			t.Errorf("heatmap of %s: hot side %v, cold side %v; want the %s half hot and the other cold", class, hot, cold, class)
		}
	}
	golden(t, "gradcam", got.String())

	_, _, err = dogrun(t, "gradcam", "-runs", runs, "-trial", hash, "-class", "blue", photo)
	if err == nil || !strings.Contains(err.Error(), `knows no dog "blue" (it knows green, red)`) || exitCode(err) != 2 {
		t.Errorf("-class blue: got %v", err)
	}
	if _, stderr, err := dogrun(t, "gradcam", "-runs", runs, photo); !strings.Contains(stderr, "Usage: dogrun gradcam") || exitCode(err) != 2 {
		t.Errorf("gradcam without -trial: %v\n%s", err, stderr)
	}

	// The report draws its tiles once, then reuses them; a tile no longer
	// shown goes.
	stale := filepath.Join(runs, "redgreen", "gradcam", "0123456789abcdef0123.png")
	for i, want := range []string{"(6 drawn, 0 reused)", "(0 drawn, 6 reused)"} {
		out, _, err := dogrun(t, "report", "redgreen", "-runs", runs)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "grad-cam: 6 test photos of trial 1 "+want) ||
			!strings.Contains(out, "grad-cam: empty Grad-CAM map (nothing in it raises the dog's score) on 3 photos: shown by occlusion sensitivity instead") {
			t.Errorf("report %d output:\n%s", i+1, out)
		}
		if i == 0 {
			writePNG(t, stale, half)
		}
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a tile no longer shown is still there")
	}
	md, err := os.ReadFile(filepath.Join(runs, "redgreen", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	tiles := regexp.MustCompile(`!\[(green/[^]]*)\]\((gradcam/[0-9a-f]{20}\.png)\)`).FindAllStringSubmatch(string(md), -1)
	if !strings.Contains(string(md), "## Where the best trial looks") || len(tiles) != 3 {
		t.Fatalf("report.md lacks the 3 Grad-CAM overlays of green photos:\n%s", md)
	}
	for _, m := range tiles {
		if !strings.HasSuffix(m[1], "Grad-CAM map empty (no positive evidence); shown: occlusion sensitivity") {
			t.Errorf("caption %q does not say the Grad-CAM map is empty", m[1])
		}
		if _, err := dataset.Decode(filepath.Join(runs, "redgreen", m[2])); err != nil {
			t.Error(err)
		}
	}
}

// TestGradCAMOnTopCut runs a tiny experiment whose features are
// mobilenetv2-imagenet's own top (nsfwjs's dense_1, cut past the global
// pool), then draws Grad-CAM through that top and the trial's head on a
// real photo.
func TestGradCAMOnTopCut(t *testing.T) {
	if testing.Short() {
		t.Skip("real end-to-end run")
	}
	data := needs.Photos(t)
	dir := t.TempDir()
	exp := filepath.Join(dir, "top.yaml")
	yaml := "name: top\ndataset: {path: " + data + ", min_images_per_class: 12, max_classes: 4, seed: 2, test: 0.3, val: 0.2}\n" +
		"backbone: {name: mobilenetv2-imagenet, cut: dense_1}\nhead: {hidden: [16]}\naugmentation: {views: 0}\n" +
		"train: {lr: 0.003, batch_size: 16, epochs: 6}\nseeds: [1]\n"
	if err := os.WriteFile(exp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(dir, "runs")
	if out, _, err := dogrun(t, "run", exp, "-runs", runs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	trial := doneTrials(t, runs, "top")[0]
	if !strings.Contains(trial.ConfigJSON, `"cut":"dense_1"`) {
		t.Errorf("trial config %s does not record cut dense_1", trial.ConfigJSON)
	}
	photos, _ := filepath.Glob(filepath.Join(data, "*", "*.jpg"))
	out, _, err := dogrun(t, "gradcam", "-runs", runs, "-trial", trial.Hash[:12], "-o", filepath.Join(dir, "cam.png"), photos[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "7x7 map out_relu of mobilenetv2-imagenet") {
		t.Errorf("gradcam output:\n%s", out)
	}
}
