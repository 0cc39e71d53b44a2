package hdf5_test

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/convert/hdf5"
	"github.com/dogrun/dogrun/convert/keras/kerastest"
)

// script writes every structure the reader claims to handle, with h5py's
// defaults unless a test needs otherwise.
const script = `
import sys
import h5py
import numpy as np

with h5py.File(sys.argv[1], "w") as f:
    f.attrs["fixed"] = np.array([b"conv1_1", b"fc6/relu", b""])
    f.attrs["one"] = b"tensorflow"
    f.attrs["vlen"] = np.array(["alpha", "beta"], dtype=h5py.string_dtype())
    f.attrs["floats"] = np.array([1.5, -2.0])
    f.attrs["int"] = np.int32(-7)
    f.attrs["empty"] = np.asarray([])
    for i in range(600):  # a symbol table B-tree of more than one level
        f.create_group("many/g%03d" % i).attrs["i"] = np.int64(i)
    a = (np.arange(60, dtype="float32") * 0.5).reshape(3, 4, 5)
    f.create_dataset("a/b/contiguous", data=a)
    f.create_dataset("f64", data=np.arange(7, dtype="float64") / 4)
    f.create_dataset("big", data=np.arange(6, dtype=">f4").reshape(2, 3))
    f.create_dataset("scalar", data=np.float32(3.25))
    f.create_dataset("unwritten", shape=(4,), dtype="float32")
    c = (np.arange(210, dtype="float32") - 100).reshape(10, 7, 3)
    f.create_dataset("chunked", data=c, chunks=(4, 3, 2), compression="gzip", shuffle=True, fletcher32=True)
    f.create_dataset("manychunks", data=np.arange(3000, dtype="float32"), chunks=(1,))
    space = h5py.h5s.create_simple((2, 2))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    ds = h5py.h5d.create(f.id, b"compact", h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([[1, 2], [3, 4]], dtype="float32"))
`

func writeFile(t *testing.T) string {
	t.Helper()
	python, err := kerastest.Python()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "all.h5")
	if out, err := exec.Command(python, "-c", script, path).CombinedOutput(); err != nil {
		t.Fatalf("h5py: %v: %s", err, out)
	}
	return path
}

func TestReadsWhatH5pyWrites(t *testing.T) {
	kerastest.Need(t)
	f, err := hdf5.Open(writeFile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root, err := f.Get("/")
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]any{
		"fixed":  []string{"conv1_1", "fc6/relu", ""},
		"one":    []string{"tensorflow"},
		"vlen":   []string{"alpha", "beta"},
		"floats": []float64{1.5, -2},
		"int":    []int64{-7},
		"empty":  []float64{},
	}
	for name, want := range attrs {
		got, ok, err := root.Attr(name)
		if err != nil || !ok {
			t.Fatalf("attribute %s: ok=%v err=%v", name, ok, err)
		}
		if !equal(got, want) {
			t.Errorf("attribute %s = %#v, want %#v", name, got, want)
		}
	}
	if _, ok, err := root.Attr("absent"); ok || err != nil {
		t.Errorf("absent attribute: ok=%v err=%v", ok, err)
	}

	many, err := f.Get("/many")
	if err != nil {
		t.Fatal(err)
	}
	kids, err := many.Children()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(kids)
	if len(kids) != 600 || kids[0] != "g000" || kids[599] != "g599" {
		t.Fatalf("600 groups: got %d, first %q", len(kids), kids[0])
	}
	g, err := f.Get("many/g537")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := g.Attr("i"); err != nil || !equal(v, []int64{537}) {
		t.Errorf("many/g537 attribute i = %v (%v), want 537", v, err)
	}

	seq := func(n int, f func(i int) float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	for _, tc := range []struct {
		path  string
		shape []int
		want  []float32
	}{
		{"/a/b/contiguous", []int{3, 4, 5}, seq(60, func(i int) float32 { return float32(i) / 2 })},
		{"f64", []int{7}, seq(7, func(i int) float32 { return float32(i) / 4 })},
		{"big", []int{2, 3}, seq(6, func(i int) float32 { return float32(i) })},
		{"scalar", []int{}, []float32{3.25}},
		{"unwritten", []int{4}, []float32{0, 0, 0, 0}},
		{"chunked", []int{10, 7, 3}, seq(210, func(i int) float32 { return float32(i - 100) })},
		{"manychunks", []int{3000}, seq(3000, func(i int) float32 { return float32(i) })},
		{"compact", []int{2, 2}, []float32{1, 2, 3, 4}},
	} {
		ds, err := f.Get(tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		shape, err := ds.Shape()
		if err != nil || !slices.Equal(shape, tc.shape) {
			t.Errorf("%s: shape %v (%v), want %v", tc.path, shape, err, tc.shape)
		}
		got, err := ds.Float32s()
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: read %v..., want %v...", tc.path, got[:min(8, len(got))], tc.want[:min(8, len(tc.want))])
		}
	}

	if _, err := f.Get("/a/nothing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing object: %v, want ErrNotExist", err)
	}
}

func TestRefusesWhatItCannotRead(t *testing.T) {
	kerastest.Need(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.h5")
	if err := os.WriteFile(junk, []byte(strings.Repeat("x", 2048)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := hdf5.Open(junk); err == nil || !strings.Contains(err.Error(), "not an HDF5 file") {
		t.Errorf("junk: %v", err)
	}
	python, err := kerastest.Python()
	if err != nil {
		t.Fatal(err)
	}
	latest := filepath.Join(dir, "latest.h5")
	code := `import sys, h5py; h5py.File(sys.argv[1], "w", libver="latest").create_dataset("x", data=[1.0])`
	if out, err := exec.Command(python, "-c", code, latest).CombinedOutput(); err != nil {
		t.Fatalf("h5py: %v: %s", err, out)
	}
	if _, err := hdf5.Open(latest); err == nil || !strings.Contains(err.Error(), `libver="latest"`) {
		t.Errorf("libver latest: %v, want an error naming it", err)
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		b, ok := b.([]string)
		return ok && slices.Equal(a, b)
	case []float64:
		b, ok := b.([]float64)
		return ok && slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
	case []int64:
		b, ok := b.([]int64)
		return ok && slices.Equal(a, b)
	}
	return false
}
