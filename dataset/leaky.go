package dataset

import (
	"slices"
	"strconv"
)

// Unit is one row of a split: view View of photo Photo (an index into
// Dataset.Photos); view 0 is the photo itself, views 1.. its augmented copies.
type Unit struct {
	Photo, View int
}

// UnitSplit is a split into units, each part sorted by photo, then view.
type UnitSplit struct {
	Train, Val, Test []Unit
}

// Units expands a photo split: views 0..views of every training photo, and
// validation and test photos as they are (they are never augmented).
func (s Split) Units(views int) UnitSplit {
	u := UnitSplit{Train: []Unit{}, Val: []Unit{}, Test: []Unit{}}
	for _, i := range s.Train {
		for v := 0; v <= views; v++ {
			u.Train = append(u.Train, Unit{i, v})
		}
	}
	for _, i := range s.Val {
		u.Val = append(u.Val, Unit{i, 0})
	}
	for _, i := range s.Test {
		u.Test = append(u.Test, Unit{i, 0})
	}
	return u
}

// LeakySplit reproduces the seed's protocol, augment first and then split,
// only to measure how much it inflates accuracy: every photo and its views
// 1..views are pooled as if they were different photos and split per class
// with StratifiedSplit's counts and seeded order. Copies of one photo thus
// land in training and in test. Never use it to report a model's accuracy.
func LeakySplit(d *Dataset, views int, test, val float64, seed int64) (UnitSplit, error) {
	ud, units := unitDataset(d, views)
	s, err := StratifiedSplit(ud, test, val, seed)
	if err != nil {
		return UnitSplit{}, err
	}
	return mapUnits(s, units), nil
}

// LeakyKFold is LeakySplit's protocol with k folds of units.
func LeakyKFold(d *Dataset, views, k int, val float64, seed int64) ([]UnitSplit, error) {
	ud, units := unitDataset(d, views)
	single := make([]int, len(ud.Photos))
	for i := range single {
		single[i] = i
	}
	folds, err := KFold(ud, single, k, val, seed)
	if err != nil {
		return nil, err
	}
	out := make([]UnitSplit, len(folds))
	for f, s := range folds {
		out[f] = mapUnits(s, units)
	}
	return out, nil
}

// unitDataset lists every (photo, view) as a photo of its own; the content
// hash of a view is the photo's with the view number, so each unit has its
// own place in the seeded order.
func unitDataset(d *Dataset, views int) (*Dataset, []Unit) {
	ud := &Dataset{Root: d.Root, Classes: d.Classes}
	var units []Unit
	for i, p := range d.Photos {
		for v := 0; v <= views; v++ {
			q := p
			if v > 0 {
				q.SHA256 = p.SHA256 + "#" + strconv.Itoa(v)
				q.Rel = p.Rel + "#" + strconv.Itoa(v)
			}
			ud.Photos = append(ud.Photos, q)
			units = append(units, Unit{i, v})
		}
	}
	return ud, units
}

func mapUnits(s Split, units []Unit) UnitSplit {
	conv := func(idx []int) []Unit {
		out := make([]Unit, len(idx))
		for k, i := range idx {
			out[k] = units[i]
		}
		slices.SortFunc(out, func(a, b Unit) int {
			if a.Photo != b.Photo {
				return a.Photo - b.Photo
			}
			return a.View - b.View
		})
		return out
	}
	return UnitSplit{Train: conv(s.Train), Val: conv(s.Val), Test: conv(s.Test)}
}
