package backbone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testSpec(dim int) (Spec, Cut) {
	cut := Cut{Name: "out", Output: "y", Dim: dim}
	return Spec{Name: "toy", Source: Source{Files: []File{{Path: "toy.onnx", SHA256: "abc"}}}, Cuts: []Cut{cut},
		InputSize: 4, Layout: "NCHW", Channels: "RGB"}, cut
}

func TestCachePersistsAcrossOpens(t *testing.T) {
	dir := t.TempDir()
	c, err := openToy(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := ViewKey("p1", "aug", 0), ViewKey("p2", "aug", 1)
	if err := c.Put([]Key{k1, k2}, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	reopened, err := openToy(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[Key][]float32{k1: {1, 2, 3}, k2: {4, 5, 6}} {
		got, ok := reopened.Get(k)
		if !ok {
			t.Fatalf("key %x missing after reopen", k[:4])
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("features changed (-want +got):\n%s", d)
		}
	}
	if _, ok := reopened.Get(ViewKey("p3", "aug", 0)); ok {
		t.Error("a key never stored was found")
	}
}

// A cache of the old single-file format is read, whole records only (a
// killed writer may have left part of one); a temporary file that a writer
// killed mid-segment left is not read; a damaged segment is refused by name.
func TestCacheReadsOldFilesAndIgnoresLeftovers(t *testing.T) {
	dir := t.TempDir()
	c, err := openToy(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	header := []byte(cacheMagic + "\x02\x00\x00\x00\x00\x00\x00\x00")
	k := ViewKey("old", "", 0)
	old := append(append([]byte{}, header...), k[:]...)
	old = append(old, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40) // 1, 2 as float32
	old = append(old, make([]byte, 17)...)             // a torn record
	if err := os.WriteFile(c.Path+".bin", old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Path, ".tmp-0123"), header[:5], 0o644); err != nil {
		t.Fatal(err)
	}
	c2, err := openToy(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c2.Get(k); !ok || !cmp.Equal(got, []float32{1, 2}) || c2.Len() != 1 {
		t.Fatalf("old file read as %v %v (%d vectors)", got, ok, c2.Len())
	}
	if err := c2.Put([]Key{ViewKey("new", "", 0)}, []float32{3, 4}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(c.Path + ".bin"); len(b) != len(old) {
		t.Error("the old file was written to")
	}
	bad := filepath.Join(c.Path, "bad"+segmentExt)
	if err := os.WriteFile(bad, append(header, 1, 2, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openToy(dir, 2); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a damaged segment: %v", err)
	}
}

// Writers share the folder without locks: each reads what the others
// stored once it looks again, and nothing is lost.
func TestCacheWritersShareTheFolder(t *testing.T) {
	dir := t.TempDir()
	const writers, each = 4, 50
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			c, err := openToy(dir, 1)
			for i := 0; err == nil && i < each; i++ {
				err = c.Put([]Key{ViewKey(fmt.Sprint(w, "/", i), "", 0)}, []float32{float32(w*each + i)})
			}
			errs[w] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	c, err := openToy(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		for i := range each {
			if got, ok := c.Get(ViewKey(fmt.Sprint(w, "/", i), "", 0)); !ok || got[0] != float32(w*each+i) {
				t.Fatalf("writer %d vector %d: %v %v", w, i, got, ok)
			}
		}
	}
	a, err := openToy(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put([]Key{ViewKey("late", "", 0)}, []float32{-1}); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Get(ViewKey("late", "", 0)); ok {
		t.Fatal("a vector stored after a's last look is visible without Refresh")
	}
	if err := a.Refresh(); err != nil {
		t.Fatal(err)
	}
	if got, ok := a.Get(ViewKey("late", "", 0)); !ok || got[0] != -1 {
		t.Errorf("after Refresh: %v %v", got, ok)
	}
}

// Extraction stores its features as a few segments, not one per batch.
func TestSegmenterGathersBatches(t *testing.T) {
	dir := t.TempDir()
	c, err := openToy(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := &segmenter{c: c}
	const batches = 125
	for b := range batches {
		keys := make([]Key, 8)
		for i := range keys {
			keys[i] = ViewKey(fmt.Sprint(b, "/", i), "", 0)
		}
		if err := s.add(keys, make([]float32, 8*3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	segments, _ := filepath.Glob(filepath.Join(c.Path, "*"+segmentExt))
	fresh, err := openToy(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Len() != batches*8 || len(segments) >= batches/4 {
		t.Errorf("%d vectors in %d segments, want %d in a few", fresh.Len(), len(segments), batches*8)
	}
	t.Logf("%d batches of 8 in %d segments", batches, len(segments))
}

func TestCacheRefusesOtherDimension(t *testing.T) {
	dir := t.TempDir()
	c, err := openToy(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put([]Key{ViewKey("a", "", 0)}, []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	// Same backbone file and preprocessing but another output length: a mislabelled spec.
	_, err = openToy(dir, 3)
	if err == nil || !strings.Contains(err.Error(), "holds 2-d features, want 3") {
		t.Fatalf("got %v, want a dimension mismatch", err)
	}
}

func TestViewKeys(t *testing.T) {
	if ViewKey("p", "augA", 0) != ViewKey("p", "augB", 0) {
		t.Error("the original photo's key depends on augmentation settings")
	}
	if ViewKey("p", "augA", 1) == ViewKey("p", "augB", 1) {
		t.Error("an augmented view's key ignores augmentation settings")
	}
	if ViewKey("p", "augA", 1) == ViewKey("p", "augA", 2) {
		t.Error("two views share a key")
	}
	if ViewKey("p", "", 0) == ViewKey("q", "", 0) {
		t.Error("two photos share a key")
	}
}

func TestPreprocessKeyChangesWithInputContract(t *testing.T) {
	a, cut := testSpec(2)
	b := a
	b.Mean[0] = 1
	if a.PreprocessKey(cut) == b.PreprocessKey(cut) {
		t.Error("changing the mean keeps the preprocessing key")
	}
	other := cut
	other.Output = "z"
	if a.PreprocessKey(cut) == a.PreprocessKey(other) {
		t.Error("another cut keeps the preprocessing key")
	}
}

func openToy(dir string, dim int) (*Cache, error) {
	s, c := testSpec(dim)
	return OpenCache(dir, s, c)
}
