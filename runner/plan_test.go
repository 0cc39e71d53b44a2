package runner

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dogrun/dogrun/backbone"
)

// makeDogs writes classes folders of n tiny distinct PNG photos under root.
func makeDogs(t *testing.T, root string, classes, n int) {
	t.Helper()
	for c := 0; c < classes; c++ {
		dir := filepath.Join(root, string(rune('a'+c)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			// Noise, so that no two photos are near-duplicates (a grouped
			// split would keep them together).
			img := image.NewRGBA(image.Rect(0, 0, 8, 8))
			r := rand.New(rand.NewPCG(uint64(c), uint64(i)))
			for p := range 64 {
				img.Set(p%8, p/8, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
			}
			f, err := os.Create(filepath.Join(dir, string(rune('a'+c))+"."+string(rune('0'+i))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

func planFor(t *testing.T, dataDir, extra string) *Plan {
	t.Helper()
	exp := writeExperiment(t, `
name: plan
dataset: {path: `+dataDir+`, min_images_per_class: 4, seed: 1, test: 0.25, val: 0.25}
backbone: {name: mobilefacenet}
head: {hidden: [8]}
train: {epochs: 2}
sweep: {head.dropout: [0.0, 0.5]`+extra+`}
seeds: [1, 2]
`)
	p, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func hashes(p *Plan) []string {
	out := make([]string, len(p.Trials))
	for i, t := range p.Trials {
		out[i] = t.Hash
	}
	return out
}

func TestTrialHashes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 3, 6)
	p := planFor(t, data, "")
	if len(p.Trials) != 4 {
		t.Fatalf("%d trials, want 2 variants x 2 seeds", len(p.Trials))
	}
	seen := map[string]bool{}
	for _, h := range hashes(p) {
		if seen[h] {
			t.Fatalf("two trials share hash %s", h)
		}
		seen[h] = true
	}
	if got := hashes(planFor(t, data, "")); !equal(got, hashes(p)) {
		t.Error("planning the same file twice changed the trial hashes")
	}

	// The same photos in another folder are the same data: same trials.
	moved := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(data, moved); err != nil {
		t.Fatal(err)
	}
	if got := hashes(planFor(t, moved, "")); !equal(got, hashes(p)) {
		t.Error("moving the dataset folder changed the trial hashes")
	}

	// One changed photo is other data: every trial is new.
	f := filepath.Join(moved, "a", "a.0.png")
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	out, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(out, img)
	out.Close()
	for i, h := range hashes(planFor(t, moved, "")) {
		if h == p.Trials[i].Hash {
			t.Errorf("trial %d kept its hash after a photo changed", i)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRequestsAugmentTrainingPhotosOnly(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 2, 8)
	p := planFor(t, data, "")
	aug := augmentOf(p.Trials[0].Config)
	reqs := requests(p, p.Split.Units(3), aug, "")
	original := map[backbone.Key]bool{}
	for _, ph := range p.Data.Photos {
		original[backbone.ViewKey(ph.SHA256, aug.Key(), 0)] = true
	}
	views := map[string]int{}
	for _, r := range reqs {
		if !original[r.Key] {
			views[r.Path]++
		}
	}
	if len(reqs)-len(original) != 3*len(p.Split.Train) {
		t.Errorf("%d augmented requests, want 3 views of %d training photos", len(reqs)-len(original), len(p.Split.Train))
	}
	for _, i := range p.Split.Train {
		if got := views[p.Data.Photos[i].Path]; got != 3 {
			t.Errorf("training photo %s has %d augmented views, want 3", p.Data.Photos[i].Rel, got)
		}
		delete(views, p.Data.Photos[i].Path)
	}
	for path := range views {
		t.Errorf("augmented views requested for %s, which is not a training photo", path)
	}
}
