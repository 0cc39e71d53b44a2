package backbone

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWithFile checks a bring-your-own backbone bound to a file: identity by
// content, cuts limited to what the file has, and a refusal to run a file
// that changed after planning.
func TestWithFile(t *testing.T) {
	spec := Spec{
		Name: "byo-test", Source: Source{Own: "test file"}, Format: "test", ConverterVersion: "1",
		Convert:   func([]string) ([]byte, error) { return nil, nil },
		CheckFile: func(string) ([]string, error) { return []string{"out_a"}, nil },
		Cuts:      []Cut{{Name: "a", Output: "out_a", Dim: 1}, {Name: "b", Output: "out_b", Dim: 1}},
	}
	if !spec.NeedsFile() || !strings.Contains(spec.Source.String(), "bring your own test file") {
		t.Fatalf("unbound: NeedsFile %v, source %q", spec.NeedsFile(), spec.Source)
	}
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.h5"), filepath.Join(dir, "sub", "two.h5")
	if err := os.MkdirAll(filepath.Dir(two), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{one, two} {
		if err := os.WriteFile(p, []byte("same weights"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := spec.WithFile(one)
	if err != nil {
		t.Fatal(err)
	}
	b, err := spec.WithFile(two)
	if err != nil {
		t.Fatal(err)
	}
	if a.NeedsFile() || a.SHA256() != b.SHA256() {
		t.Errorf("same content at two paths: sha256 %s and %s", a.SHA256(), b.SHA256())
	}
	if len(a.Cuts) != 1 || a.Cuts[0].Name != "a" || a.LackingCut("b") == "" || a.LackingCut("a") != "" {
		t.Errorf("cuts %v, LackingCut(b) %q", a.Cuts, a.LackingCut("b"))
	}
	if err := os.WriteFile(one, []byte("other weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(context.Background(), dir, a.Source); err == nil || !strings.Contains(err.Error(), "changed since") {
		t.Errorf("changed file: %v, want a refusal", err)
	}
	c, err := spec.WithFile(one)
	if err != nil {
		t.Fatal(err)
	}
	if c.SHA256() == a.SHA256() {
		t.Error("other content, same identity")
	}
	if _, err := spec.WithFile(filepath.Join(dir, "none.h5")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
	npm, err := Lookup("mobilefacenet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := npm.WithFile(one); err == nil || !strings.Contains(err.Error(), "npm package") {
		t.Errorf("file for an npm backbone: %v", err)
	}
}
