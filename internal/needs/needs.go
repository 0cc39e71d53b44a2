// Package needs lets tests depend on tools outside Go (node, chromium, h5py):
// a missing tool skips the test on a developer's machine, but fails it under
// CI=true, where scripts/bootstrap must have installed it, so nothing is ever
// silently left untested in CI.
package needs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Met skips or fails t when err (why a tool is missing) is not nil.
func Met(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true: scripts/bootstrap --test installs it)", err)
	}
	t.Skipf("%v (scripts/bootstrap installs it)", err)
}

// Node returns the node binary once the npm module is installed under
// tools/parity, the Node reference runtimes of the parity tests.
func Node(t testing.TB, module string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(RepoRoot(t), "tools", "parity", "node_modules", filepath.FromSlash(module), "package.json"))
	}
	Met(t, err)
	return node
}

// Chromium returns Debian's chromium (or chromium-browser), for the
// browser tests.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Met(t, errors.New("chromium not found: install Debian's chromium to run the browser tests"))
	return ""
}

// Photos returns the absolute path of the shared DogFaceNet photos:
// $DOGRUN_TEST_PHOTOS, else shared/data/dogfacenet beside the repository.
// Missing photos skip t locally and fail it under CI=true.
func Photos(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("DOGRUN_TEST_PHOTOS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "data", "dogfacenet")
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		var st os.FileInfo
		if st, err = os.Stat(dir); err == nil && !st.IsDir() {
			err = fmt.Errorf("%s is not a folder", dir)
		}
	}
	if err != nil {
		err = fmt.Errorf("the shared DogFaceNet photos (set DOGRUN_TEST_PHOTOS): %w", err)
	}
	Met(t, err)
	return dir
}

// RepoRoot is the repository's root: the nearest folder holding go.mod, from
// the test's package folder up.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}
