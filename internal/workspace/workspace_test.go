package workspace

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootIsTheNearestFolderWithAMarker(t *testing.T) {
	top := t.TempDir()
	deep := filepath.Join(top, "a", "b", "c")
	mkdir := func(p string) {
		t.Helper()
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkdir(deep)

	// Nothing anywhere: the start folder itself, not found.
	got, found, err := rootFrom(deep)
	if err != nil || found || got != deep {
		t.Fatalf("no marker: got %q found %v err %v, want %q not found", got, found, err, deep)
	}

	// A bare runs/ is some other tool's: not a marker.
	mkdir(filepath.Join(top, "a", "runs"))
	if _, found, _ := rootFrom(deep); found {
		t.Fatal("a runs/ folder without dogrun.db counted as a project")
	}

	// .cache/dogrun two levels up.
	mkdir(filepath.Join(top, "a", ".cache", "dogrun"))
	if got, found, _ := rootFrom(deep); !found || got != filepath.Join(top, "a") {
		t.Fatalf("cache marker: got %q found %v", got, found)
	}

	// runs/dogrun.db nearer wins.
	mkdir(filepath.Join(top, "a", "b", "runs"))
	if err := os.WriteFile(filepath.Join(top, "a", "b", "runs", "dogrun.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := rootFrom(deep); got != filepath.Join(top, "a", "b") {
		t.Fatalf("db marker: got %q", got)
	}
}

func TestEnvironmentOverridesEachFolder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("DOGRUN_RUNS", "elsewhere/r")
	t.Setenv("DOGRUN_CACHE", "")
	runs, err := RunsDir()
	if err != nil || runs != filepath.Join(dir, "elsewhere", "r") {
		t.Fatalf("RunsDir = %q, %v", runs, err)
	}
	cache, err := CacheDir()
	if err != nil || cache != filepath.Join(dir, ".cache", "dogrun") {
		t.Fatalf("CacheDir = %q, %v", cache, err)
	}
}
