package adapter

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/dogrun/dogrun/dataset"
)

// Pool is the dogs an adapter trains on: those of the folder with at least 2
// (a dog needs two photos to be learned as a class) and fewer than Below
// photos. An experiment with dataset.min_images_per_class = Below never sees
// them.
type Pool struct {
	Below int
	Data  *dataset.Dataset // the pool's dogs and photos only
	// Excluded counts pool photos left out because the same file is also filed
	// under a dog with Below or more photos.
	Excluded int
}

// LoadPool reads the dogs of root with fewer than below photos.
func LoadPool(root string, below int) (*Pool, error) {
	all, err := dataset.Load(root, dataset.LoadOptions{MinImagesPerClass: 2})
	if err != nil {
		return nil, err
	}
	counts := all.PhotosPerClass()
	inExperiment := map[string]bool{}
	for _, ph := range all.Photos {
		if counts[ph.Class] >= below {
			inExperiment[ph.SHA256] = true
		}
	}
	p := &Pool{Below: below, Data: &dataset.Dataset{Root: all.Root}}
	index := map[int]int{}
	for _, ph := range all.Photos {
		if counts[ph.Class] >= below {
			continue
		}
		if inExperiment[ph.SHA256] {
			p.Excluded++
			continue
		}
		ci, ok := index[ph.Class]
		if !ok {
			ci = len(p.Data.Classes)
			index[ph.Class] = ci
			p.Data.Classes = append(p.Data.Classes, all.Classes[ph.Class])
		}
		ph.Class = ci
		p.Data.Photos = append(p.Data.Photos, ph)
	}
	if len(p.Data.Classes) < 20 {
		return nil, fmt.Errorf("adapter: only %d dogs of %s have 2 to %d photos; the adapter trains on the dogs below dataset.min_images_per_class and needs at least 20",
			len(p.Data.Classes), root, below-1)
	}
	return p, nil
}

// valDogs marks the pool's dogs held out for early stopping: the first
// fraction of them in the order of a seeded hash of their names, so the draw
// does not depend on folder order.
func (p *Pool) valDogs(r Recipe) []bool {
	n := len(p.Data.Classes)
	order := make([]int, n)
	rank := make([]uint64, n)
	for i, name := range p.Data.Classes {
		order[i] = i
		h := sha256.Sum256(fmt.Appendf(nil, "dogrun-adapter-val\x00%d\x00%s", r.Seed, name))
		rank[i] = binary.BigEndian.Uint64(h[:8])
	}
	slices.SortFunc(order, func(a, b int) int {
		if rank[a] != rank[b] {
			if rank[a] < rank[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(p.Data.Classes[a], p.Data.Classes[b])
	})
	val := make([]bool, n)
	for _, c := range order[:max(2, int(math.Round(r.ValDogs*float64(n))))] {
		val[c] = true
	}
	return val
}

// CheckDisjoint fails when any of an experiment's dogs, by folder name, or any
// of its photos, by sha256, shaped the adapter.
func (a *Adapter) CheckDisjoint(classes []string, photos []dataset.Photo) error {
	dogs, shared := dataset.Shared(append(slices.Clone(a.TrainDogs), a.ValDogs...), a.PhotoSHA256, classes, photos)
	if len(dogs) > 0 {
		return fmt.Errorf("adapter %s: %d of the experiment's dogs trained the adapter (%s): its dogs and the adapter's must be disjoint",
			a.Key[:12], len(dogs), strings.Join(dogs[:min(len(dogs), 5)], ", "))
	}
	if len(shared) > 0 {
		ph := shared[0]
		return fmt.Errorf("adapter %s: photo %s (sha256 %s) trained the adapter as a photo of another dog: its photos and the adapter's must be disjoint",
			a.Key[:12], ph.Rel, ph.SHA256[:12])
	}
	return nil
}
