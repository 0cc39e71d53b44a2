package verify

import (
	"fmt"
	"strings"

	"github.com/dogrun/dogrun/dataset"
)

// Part is one role dogs play in an evaluation (the dogs measured, those a
// threshold is chosen on, those a whitening is fitted on): its dogs' folder
// names and photos.
type Part struct {
	Name   string
	Dogs   []string
	Photos []dataset.Photo
}

// PartOf is the part named name holding all of d's dogs and photos.
func PartOf(name string, d *dataset.Dataset) Part {
	return Part{Name: name, Dogs: d.Classes, Photos: d.Photos}
}

// PartOfPhotos is the part named name holding d's photos at idx and their
// dogs, each once.
func PartOfPhotos(name string, d *dataset.Dataset, idx []int) Part {
	out := Part{Name: name}
	seen := map[int]bool{}
	for _, i := range idx {
		ph := d.Photos[i]
		out.Photos = append(out.Photos, ph)
		if !seen[ph.Class] {
			seen[ph.Class] = true
			out.Dogs = append(out.Dogs, d.Classes[ph.Class])
		}
	}
	return out
}

// CheckDisjoint fails when two parts share a dog, by folder name, or a photo,
// by sha256 (the same file filed under two dogs), as the adapter's dogs are
// checked against an experiment's: a threshold chosen on the dogs it is
// measured on, or a whitening fitted on them, would flatter the measurement.
func CheckDisjoint(parts ...Part) error {
	for i, a := range parts {
		shas := make([]string, len(a.Photos))
		for k, ph := range a.Photos {
			shas[k] = ph.SHA256
		}
		for _, b := range parts[i+1:] {
			dogs, photos := dataset.Shared(a.Dogs, shas, b.Dogs, b.Photos)
			if len(dogs) > 0 {
				return fmt.Errorf("verify: %s and %s share %d dogs (%s): they must be disjoint",
					a.Name, b.Name, len(dogs), strings.Join(dogs[:min(len(dogs), 5)], ", "))
			}
			if len(photos) > 0 {
				return fmt.Errorf("verify: photo %s (sha256 %s) of %s is also a photo of %s: they must be disjoint",
					photos[0].Rel, photos[0].SHA256[:min(12, len(photos[0].SHA256))], b.Name, a.Name)
			}
		}
	}
	return nil
}
