package backbone

import (
	"os"
	"strings"
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

func TestCacheDropsTornTail(t *testing.T) {
	dir := t.TempDir()
	c, err := openToy(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put([]Key{ViewKey("a", "", 0)}, []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	// A writer killed mid-record leaves part of one behind.
	f, err := os.OpenFile(c.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 17))
	f.Close()

	c2, err := openToy(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Len() != 1 {
		t.Fatalf("torn tail counted: %d records", c2.Len())
	}
	if err := c2.Put([]Key{ViewKey("b", "", 0)}, []float32{3, 4}); err != nil {
		t.Fatal(err)
	}
	c3, err := openToy(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := c3.Get(ViewKey("b", "", 0))
	if !ok || !cmp.Equal(got, []float32{3, 4}) {
		t.Fatalf("record after a torn tail reads %v, %v", got, ok)
	}
}

func TestCacheSeesOtherWritersAppends(t *testing.T) {
	dir := t.TempDir()
	a, err := openToy(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openToy(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Put([]Key{ViewKey("x", "", 0)}, []float32{7}); err != nil {
		t.Fatal(err)
	}
	if err := b.Put([]Key{ViewKey("y", "", 0)}, []float32{8}); err != nil {
		t.Fatal(err)
	}
	if got, ok := b.Get(ViewKey("x", "", 0)); !ok || got[0] != 7 {
		t.Errorf("writer b did not pick up a's record: %v %v", got, ok)
	}
}

func TestCacheRefusesOtherDimension(t *testing.T) {
	dir := t.TempDir()
	if _, err := openToy(dir, 2); err != nil {
		t.Fatal(err)
	}
	// Same backbone file and preprocessing but another output length: a mislabelled spec.
	_, err := openToy(dir, 3)
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
