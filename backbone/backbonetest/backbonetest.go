// Package backbonetest gives tests a feature cache of their own that shares
// the workspace's fetched ONNX Runtime and backbones, so that a run there
// computes features afresh but downloads nothing.
package backbonetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
)

// FreshCache is a new cache folder without features whose npm/ is the
// workspace's, where ONNX Runtime and mobilefacenet must be fetched already
// (dogrun setup): else t skips locally and fails under CI=true.
func FreshCache(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	LinkFetched(t, dir)
	return dir
}

// LinkFetched links the workspace's fetched packages into cacheDir/npm.
func LinkFetched(t testing.TB, cacheDir string) {
	t.Helper()
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := backbone.Lookup(backbone.Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []backbone.Source{backbone.ONNXRuntime.Source, spec.Source} {
		needs.Met(t, backbone.Fetched(cache, src))
	}
	if err := os.Symlink(filepath.Join(cache, "npm"), filepath.Join(cacheDir, "npm")); err != nil {
		t.Fatal(err)
	}
}
