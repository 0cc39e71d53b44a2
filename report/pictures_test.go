package report

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestPicturesReuseWhatDidNotChange: a picture is drawn again only when its
// inputs, the build or the file changed.
func TestPicturesReuseWhatDidNotChange(t *testing.T) {
	dir := t.TempDir()
	draws := 0
	step := func(input string, build string) string {
		t.Helper()
		p := openPictures(dir)
		p.build = build
		b, err := p.draw("trials/x/chart.png", []any{input, []float64{0.5, math.NaN()}}, func() ([]byte, error) {
			draws++
			return []byte("chart of " + input), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.save(); err != nil {
			t.Fatal(err)
		}
		if disk, err := os.ReadFile(filepath.Join(dir, "trials", "x", "chart.png")); err != nil || string(disk) != string(b) {
			t.Errorf("file holds %q (%v), draw returned %q", disk, err, b)
		}
		return string(b)
	}
	for i, tc := range []struct {
		input, build string
		edit         bool // change the file before the step
		draws        int
	}{
		{"a", "b1", false, 1},
		{"a", "b1", false, 1}, // reused
		{"b", "b1", false, 2}, // other inputs
		{"b", "b2", false, 3}, // another build
		{"b", "b2", true, 4},  // the file was changed
		{"b", "", false, 5},   // build unknown: never reused
		{"b", "", false, 6},
	} {
		if tc.edit {
			if err := os.WriteFile(filepath.Join(dir, "trials", "x", "chart.png"), []byte("edited"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := step(tc.input, tc.build); got != "chart of "+tc.input || draws != tc.draws {
			t.Errorf("step %d: got %q after %d draws, want %q after %d", i+1, got, draws, "chart of "+tc.input, tc.draws)
		}
	}
	if buildID() == "" {
		t.Error("the test binary's build is unknown: reports would redraw every picture")
	}
}
