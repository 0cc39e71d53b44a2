package adapter

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/dataset"
)

// synthetic makes classes whose identity lives in a few directions of the
// feature space while photo-to-photo nuisance (light, pose) is larger and
// lives in others: the setting where a metric-learned projection should help.
type synthetic struct {
	identity, nuisance [][]float64 // directions, each dim long
	dim                int
}

func newSynthetic(rng *rand.Rand, dim, ids, nuis int) synthetic {
	s := synthetic{dim: dim}
	basis := func(n int) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			out[i] = make([]float64, dim)
			for j := range out[i] {
				out[i][j] = rng.NormFloat64()
			}
		}
		return out
	}
	s.identity, s.nuisance = basis(ids), basis(nuis)
	return s
}

// classes draws n new classes of photos each.
func (s synthetic) classes(rng *rand.Rand, n, photos int) rows {
	d := rows{Dim: s.dim, Classes: n}
	for c := range n {
		id := make([]float64, len(s.identity))
		for i := range id {
			id[i] = rng.NormFloat64()
		}
		for range photos {
			x := make([]float64, s.dim)
			for i, dir := range s.identity {
				for j := range x {
					x[j] += id[i] * dir[j]
				}
			}
			for _, dir := range s.nuisance {
				a := 1.5 * rng.NormFloat64()
				for j := range x {
					x[j] += a * dir[j]
				}
			}
			for _, v := range x {
				d.X = append(d.X, float32(v))
			}
			d.Y = append(d.Y, int32(c))
		}
	}
	return d
}

// TestAdapterSeparatesUnseenClasses trains on some classes, stops early on
// others, and measures on a third set of classes that played no part: their
// nearest-neighbour accuracy must rise clearly over the base features'.
func TestAdapterSeparatesUnseenClasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	syn := newSynthetic(rng, 32, 6, 10)
	tr, val, test := syn.classes(rng, 80, 6), syn.classes(rng, 15, 4), syn.classes(rng, 20, 5)
	r := Recipe{Hidden: []int{32}, Dim: 16, Scale: 16, Margin: 0.3, LR: 0.003, Batch: 64, Epochs: 40, Patience: 8, Seed: 1}
	layers, res, err := fit(context.Background(), r, tr, val, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &Adapter{Layers: layers}
	base := nearestNeighbourAccuracy(normalizedRows(test.X, test.Dim), test.Dim, test.Y)
	adapted := nearestNeighbourAccuracy(a.Project(test.X, test.Dim), a.Dim(), test.Y)
	t.Logf("unseen classes 1-NN: base %.3f, adapter %.3f (held-out for early stopping: %.3f -> %.3f, best epoch %d of %d)",
		base, adapted, res.ValNNBase, res.ValNN, res.BestEpoch, res.Epochs)
	if adapted < base+0.4 {
		t.Errorf("adapter 1-NN accuracy on unseen classes %.3f, base %.3f: want at least 0.4 better", adapted, base)
	}
	if res.ValNN < res.ValNNBase {
		t.Errorf("chosen epoch scores %.3f on the held-out classes, below the base's %.3f", res.ValNN, res.ValNNBase)
	}
}

// TestProjectMatchesGraph checks that the plain-Go projection trials use is
// the trained graph: the best epoch's held-out score, computed in fit from
// Project, must be reproduced from the stored layers, and every output row is
// a unit vector.
func TestProjectMatchesGraph(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	syn := newSynthetic(rng, 12, 3, 4)
	tr, val := syn.classes(rng, 20, 4), syn.classes(rng, 6, 4)
	r := Recipe{Hidden: []int{8}, Dim: 4, Scale: 8, Margin: 0.2, LR: 0.01, Batch: 16, Epochs: 3, Patience: 3, Seed: 3}
	layers, res, err := fit(context.Background(), r, tr, val, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &Adapter{Layers: layers}
	out := a.Project(val.X, val.Dim)
	if got := nearestNeighbourAccuracy(out, a.Dim(), val.Y); got != res.ValNN {
		t.Errorf("held-out 1-NN from the stored layers %.4f, fit reported %.4f", got, res.ValNN)
	}
	for i := 0; i < len(out)/a.Dim(); i++ {
		var s float64
		for _, v := range out[i*a.Dim() : (i+1)*a.Dim()] {
			s += float64(v) * float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Fatalf("row %d has squared norm %g", i, s)
		}
	}
}

// writeDogs makes root/<dog>/<dog>.<i>.png with photos[dog] photos each; a
// photo's pixels come from its name unless same names another photo to copy.
func writeDogs(t *testing.T, root string, photos map[string]int, same map[string]string) {
	t.Helper()
	for dog, n := range photos {
		if err := os.MkdirAll(filepath.Join(root, dog), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			name := fmt.Sprintf("%s/%s.%d.png", dog, dog, i)
			src := name
			if s, ok := same[name]; ok {
				src = s
			}
			img := image.NewRGBA(image.Rect(0, 0, 4, 4))
			for j, c := range []byte(src) {
				img.Set(j%4, j/4%4, color.RGBA{c, byte(j), 7, 255})
			}
			f, err := os.Create(filepath.Join(root, filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

// TestPoolIsTheDogsBelowTheMinimum checks which dogs and photos train the
// adapter: only dogs with fewer photos than the experiment's minimum, never a
// photo that is also filed under an experiment dog.
func TestPoolIsTheDogsBelowTheMinimum(t *testing.T) {
	root := t.TempDir()
	photos := map[string]int{}
	for i := range 24 {
		photos[fmt.Sprintf("small%02d", i)] = 2 + i%6 // 2..7 photos
	}
	for i := range 5 {
		photos[fmt.Sprintf("big%d", i)] = 8 + i
	}
	// small00's second photo is the same file as one of big0's.
	writeDogs(t, root, photos, map[string]string{"small00/small00.1.png": "big0/big0.3.png"})
	pool, err := LoadPool(root, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(pool.Data.Classes) != 24 || pool.Excluded != 1 {
		t.Fatalf("pool has %d dogs and excluded %d photos, want 24 and 1", len(pool.Data.Classes), pool.Excluded)
	}
	for _, c := range pool.Data.Classes {
		if !strings.HasPrefix(c, "small") {
			t.Errorf("dog %s with 8 or more photos is in the pool", c)
		}
	}
	for _, ph := range pool.Data.Photos {
		if ph.Rel == "small00/small00.1.png" {
			t.Errorf("%s, also filed under big0, is in the pool", ph.Rel)
		}
		if !strings.HasPrefix(ph.Rel, pool.Data.Classes[ph.Class]+"/") {
			t.Errorf("%s labelled %s", ph.Rel, pool.Data.Classes[ph.Class])
		}
	}
	val := pool.valDogs(Recipe{ValDogs: 0.1, Seed: 1})
	if n := len(slices.DeleteFunc(slices.Clone(val), func(v bool) bool { return !v })); n != 2 {
		t.Errorf("%d validation dogs of 24 at 10%%, want 2", n)
	}
	if _, err := LoadPool(root, 3); err == nil || !strings.Contains(err.Error(), "needs at least 20") {
		t.Errorf("a pool of 4 dogs: err = %v, want one saying it needs at least 20", err)
	}
}

// TestCheckDisjoint checks that an experiment sharing a dog or a photo with
// the adapter's training set is refused, and a disjoint one accepted.
func TestCheckDisjoint(t *testing.T) {
	a := &Adapter{Key: "0123456789abcdef", TrainDogs: []string{"7", "12"}, ValDogs: []string{"30"}, PhotoSHA256: []string{"aaaa1111bbbb2222", "cccc3333dddd4444"}}
	photo := func(rel, sha string) dataset.Photo { return dataset.Photo{Rel: rel, SHA256: sha} }
	ok := []dataset.Photo{photo("5/5.1.jpg", "eeee5555ffff6666")}
	if err := a.CheckDisjoint([]string{"5", "6"}, ok); err != nil {
		t.Errorf("disjoint sets refused: %v", err)
	}
	for _, tc := range []struct {
		name    string
		classes []string
		photos  []dataset.Photo
		want    string
	}{
		{"training dog", []string{"5", "12"}, ok, "trained the adapter (12)"},
		{"validation dog", []string{"30"}, ok, "trained the adapter (30)"},
		{"photo", []string{"5"}, []dataset.Photo{photo("5/5.2.jpg", "cccc3333dddd4444")}, "photo 5/5.2.jpg (sha256 cccc3333dddd)"},
	} {
		err := a.CheckDisjoint(tc.classes, tc.photos)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "must be disjoint") {
			t.Errorf("%s shared: err = %v, want it to name %q", tc.name, err, tc.want)
		}
	}
}
