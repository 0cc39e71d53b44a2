package main

import (
	"fmt"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/verify"
)

// part is one role's photos, as corpus positions.
func (c *corpus) part(name string, idx []int) verify.Part {
	return verify.PartOfPhotos(name, c.data, idx)
}

// exclusive drops from each part the photos whose content an earlier part
// already holds (one file filed under two dogs of different parts) and says
// how many it dropped; verify.CheckDisjoint then guards the result.
func (c *corpus) exclusive(parts ...*[]int) int {
	held := map[string]bool{}
	dropped := 0
	for _, p := range parts {
		var kept []int
		for _, k := range *p {
			if held[c.data.Photos[k].SHA256] {
				dropped++
				continue
			}
			kept = append(kept, k)
		}
		for _, k := range kept {
			held[c.data.Photos[k].SHA256] = true
		}
		*p = kept
	}
	return dropped
}

// drawDogs splits the dogs of d (a subset of the corpus, its photos given as
// corpus positions by from) with seed into roles of the given numbers of dogs,
// the rest into a last role. Draws are dataset.DrawClasses, nested: the
// first role's dogs are the draw of its size, the second's those the draw of
// both sizes adds, and so on.
func drawDogs(d *dataset.Dataset, from []int, seed int64, sizes ...int) ([][]int, error) {
	roles := make([][]int, len(sizes)+1)
	role := make([]int, len(d.Classes))
	for i := range role {
		role[i] = len(sizes)
	}
	total := 0
	for r := len(sizes) - 1; r >= 0; r-- {
		total = 0
		for _, s := range sizes[:r+1] {
			total += s
		}
		if total > len(d.Classes) {
			return nil, fmt.Errorf("%d dogs asked for, %d there", total, len(d.Classes))
		}
		for cl, in := range d.DrawClasses(total, seed) {
			if in {
				role[cl] = r
			}
		}
	}
	for i, ph := range d.Photos {
		roles[role[ph.Class]] = append(roles[role[ph.Class]], from[i])
	}
	return roles, nil
}

// subset is the corpus's dogs kept by keep, with the corpus position of each
// of its photos.
func (c *corpus) subset(keep func(class int, photos int) bool) (*dataset.Dataset, []int) {
	counts := c.data.PhotosPerClass()
	mask := make([]bool, len(c.data.Classes))
	for cl := range mask {
		mask[cl] = keep(cl, counts[cl])
	}
	return c.data.Subset(mask)
}
