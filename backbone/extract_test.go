package backbone

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/workspace"
)

// writePhotos writes n distinct noise PNGs and returns their paths.
func writePhotos(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 40, 30))
		for y := range 30 {
			for x := range 40 {
				img.SetRGBA(x, y, color.RGBA{uint8(x*7 + i*31), uint8(y*11 + i*17), uint8((x * y) ^ i), 255})
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("%02d.png", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
	}
	return paths
}

// TestExtractOnSeveralSessions: workers on 3 sessions, batches of 3 that split
// a photo's views, must cache for every request what Forward gives for that
// view alone, and report progress up to the total.
func TestExtractOnSeveralSessions(t *testing.T) {
	dir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Lookup("mobilefacenet")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(context.Background(), dir, spec, "", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Sessions() != 3 {
		t.Fatalf("%d sessions for 3 threads, want 3", m.Sessions())
	}
	var reqs []Request
	for i, p := range writePhotos(t, 7) {
		for view, params := range []dataset.ViewParams{{}, {Flip: true, AngleDeg: 10}} {
			reqs = append(reqs, Request{Path: p, Params: params, Key: ViewKey(fmt.Sprint(i), "aug", view)})
		}
	}
	cache, err := OpenCache(t.TempDir(), spec, m.Cut)
	if err != nil {
		t.Fatal(err)
	}
	var calls, last int
	n, err := Extract(context.Background(), m, cache, reqs, 3, func(done, total int) {
		calls++
		if done <= last || total != len(reqs) {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	})
	if err != nil || n != len(reqs) {
		t.Fatalf("Extract = %d, %v; want %d", n, err, len(reqs))
	}
	if last != len(reqs) || calls != 5 { // ceil(14/3) batches
		t.Errorf("progress ended at %d after %d calls, want %d after 5", last, calls, len(reqs))
	}
	input := make([]float32, m.InputLen())
	for _, r := range reqs {
		img, err := dataset.Decode(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		m.Fill(input, dataset.Render(img, r.Params, spec.InputSize))
		want, err := m.Forward(input, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := cache.Get(r.Key)
		if !ok {
			t.Fatalf("%s view %+v not cached", r.Path, r.Params)
		}
		for j := range want {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-4 {
				t.Fatalf("%s view %+v: feature %d differs by %g from Forward", r.Path, r.Params, j, d)
			}
		}
	}
}

// TestExtractStopsAtABadPhoto: the decoding error names the file, the other
// workers stop, and what was cached stays cached.
func TestExtractStopsAtABadPhoto(t *testing.T) {
	m := openTestModel(t, "mobilefacenet")
	paths := writePhotos(t, 6)
	bad := paths[4]
	if err := os.WriteFile(bad, []byte("not a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var reqs []Request
	for i, p := range paths {
		reqs = append(reqs, Request{Path: p, Key: ViewKey(fmt.Sprint(i), "", 0)})
	}
	cache, err := OpenCache(t.TempDir(), m.Spec, m.Cut)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Extract(context.Background(), m, cache, reqs, 1, nil)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Extract error %v, want one naming %s", err, bad)
	}
	if n >= len(reqs) || cache.Len() != n {
		t.Errorf("%d extracted and %d cached of %d", n, cache.Len(), len(reqs))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Extract(ctx, m, cache, reqs, 1, nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped after") {
		t.Errorf("cancelled Extract error %v, want context.Canceled with the count", err)
	}
}
