package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Splits keep near-duplicate groups whole. groups[i] is the group of
// Dataset.Photos[i] (any non-negative ids; a group must not span classes);
// dedupe.Find computes them. With one group per photo these functions give
// exactly StratifiedSplit's split.

// GroupedSplit is StratifiedSplit with near-duplicate groups as the unit: a
// group goes to test, validation or training whole, so no photo is tested
// against a burst shot or re-crop of itself seen in training.
//
// Per class, with targets nTest and nVal from StratifiedSplit's rounding of
// the class's photo count, groups are taken in the order of a seeded hash of
// their first member's content. A group goes to test if that brings the test
// count closer to nTest without overshooting by more than what was missing,
// else likewise to validation, else to training. Counts are therefore near,
// not always at, their targets (the split card reports them). Every class
// must have at least two groups; it then gets at least one group in test and
// one in training.
func GroupedSplit(d *Dataset, groups []int, test, val float64, seed int64) (Split, error) {
	if err := checkSplitArgs(d, test, val); err != nil {
		return Split{}, err
	}
	classes, err := classGroups(d, groups, seed)
	if err != nil {
		return Split{}, err
	}
	s := Split{Train: []int{}, Val: []int{}, Test: []int{}}
	for _, gs := range classes {
		n := 0
		for _, g := range gs {
			n += len(g)
		}
		nTest, nVal := splitCounts(n, test, val)
		parts := fill(gs, []int{nTest, nVal}, true)
		for gi, g := range gs {
			switch parts[gi] {
			case 0:
				s.Test = append(s.Test, g...)
			case 1:
				s.Val = append(s.Val, g...)
			default:
				s.Train = append(s.Train, g...)
			}
		}
	}
	slices.Sort(s.Train)
	slices.Sort(s.Val)
	slices.Sort(s.Test)
	return s, nil
}

// KFold splits d into k folds of whole near-duplicate groups, stratified by
// class: per class, groups in seeded-hash order each join the fold with the
// fewest of the class's photos so far (ties go round from fold c mod k for
// class c), so with one photo per group the folds deal a class's photos
// round-robin and the folds' sizes differ by less than one photo per class. Split f tests
// on fold f; of the other groups, those drawn first in a fold-salted order
// fill validation up to round(n*val) of the class's n photos, the rest train.
// Every photo is tested in exactly one fold. A class with fewer than k groups
// is absent from some folds' test sets.
func KFold(d *Dataset, groups []int, k int, val float64, seed int64) ([]Split, error) {
	if k < 2 {
		return nil, fmt.Errorf("dataset: k-fold needs k >= 2, got %d", k)
	}
	if err := checkSplitArgs(d, 1/float64(k), val); err != nil {
		return nil, err
	}
	classes, err := classGroups(d, groups, seed)
	if err != nil {
		return nil, err
	}
	out := make([]Split, k)
	for f := range out {
		out[f] = Split{Train: []int{}, Val: []int{}, Test: []int{}}
	}
	for ci, gs := range classes {
		n := 0
		fold := make([]int, len(gs))
		load := make([]int, k)
		for gi, g := range gs {
			n += len(g)
			// Ties start at a fold that turns with the class, so the classes'
			// odd photos do not all pile into fold 1.
			best := ci % k
			for j := range k {
				if f := (ci + j) % k; load[f] < load[best] {
					best = f
				}
			}
			fold[gi] = best
			load[best] += len(g)
		}
		nVal := roundHalfUp(float64(n) * val)
		for f := range k {
			var rest [][]int
			for gi, g := range gs {
				if fold[gi] == f {
					out[f].Test = append(out[f].Test, g...)
				} else {
					rest = append(rest, g)
				}
			}
			rankGroups(d, rest, seed, "fold"+strconv.Itoa(f))
			// Validation may not take the last training group.
			parts := fill(rest, []int{nVal}, false)
			for gi, g := range rest {
				if parts[gi] == 0 {
					out[f].Val = append(out[f].Val, g...)
				} else {
					out[f].Train = append(out[f].Train, g...)
				}
			}
		}
	}
	for f := range out {
		slices.Sort(out[f].Train)
		slices.Sort(out[f].Val)
		slices.Sort(out[f].Test)
	}
	return out, nil
}

// fill assigns ranked groups to parts 0..len(targets)-1 by photo targets
// and the rest to part len(targets) (training), as GroupedSplit describes, and
// then makes sure training and, with need0, part 0 each have a group (when
// there are two groups or more).
func fill(gs [][]int, targets []int, need0 bool) []int {
	train := len(targets)
	parts := make([]int, len(gs))
	counts := make([]int, len(targets)+1)
	for gi, g := range gs {
		parts[gi] = train
		for p, target := range targets {
			if fits(counts[p], len(g), target) {
				parts[gi] = p
				break
			}
		}
		counts[parts[gi]] += len(g)
	}
	if len(gs) < 2 {
		return parts
	}
	has := func(p int) bool { return slices.Contains(parts, p) }
	if need0 && !has(0) {
		// Every group overshot the test target: test the smallest one not
		// needed for training.
		best := -1
		for gi, g := range gs {
			if best < 0 || len(g) < len(gs[best]) {
				best = gi
			}
		}
		parts[best] = 0
	}
	if !has(train) {
		// Move the last-ranked group of the most populated non-training part
		// that keeps a group of its own.
		for gi := len(gs) - 1; gi >= 0; gi-- {
			p := parts[gi]
			n := 0
			for _, q := range parts {
				if q == p {
					n++
				}
			}
			if n > 1 || p != 0 {
				parts[gi] = train
				break
			}
		}
	}
	return parts
}

// fits says whether a group of size should join a part holding cur of its
// target photos: it must be missing some, and overshoot by no more than it
// was missing. With groups of one this fills each part to its target exactly.
func fits(cur, size, target int) bool {
	return cur < target && cur+size-target <= target-cur
}

// classGroups lists, per class, its groups (photo indices ascending) in the
// seeded order of the split, and checks groups against classes.
func classGroups(d *Dataset, groups []int, seed int64) ([][][]int, error) {
	if len(groups) != len(d.Photos) {
		return nil, fmt.Errorf("dataset: %d group ids for %d photos", len(groups), len(d.Photos))
	}
	members := map[int][]int{}
	var order []int
	for i, g := range groups {
		if g < 0 {
			return nil, fmt.Errorf("dataset: photo %q has negative group %d", d.Photos[i].Rel, g)
		}
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		if len(members[g]) > 0 && d.Photos[members[g][0]].Class != d.Photos[i].Class {
			return nil, fmt.Errorf("dataset: group %d holds %q and %q of two classes", g, d.Photos[members[g][0]].Rel, d.Photos[i].Rel)
		}
		members[g] = append(members[g], i)
	}
	out := make([][][]int, len(d.Classes))
	for _, g := range order {
		m := members[g]
		c := d.Photos[m[0]].Class
		if c < 0 || c >= len(d.Classes) {
			return nil, fmt.Errorf("dataset: photo %q has class index %d outside %d classes", d.Photos[m[0]].Rel, c, len(d.Classes))
		}
		out[c] = append(out[c], m)
	}
	var few []string
	for ci, gs := range out {
		rankGroups(d, gs, seed, "")
		if len(gs) < 2 {
			few = append(few, d.Classes[ci])
		}
	}
	if len(few) > 0 {
		return nil, fmt.Errorf("dataset: %d class(es) have fewer than 2 near-duplicate groups, so no photo of them can be tested without training on a near-copy of it: %s", len(few), strings.Join(few[:min(len(few), 10)], ", "))
	}
	return out, nil
}

// SplittableClasses reports, per class, whether it has at least two groups,
// the least GroupedSplit and KFold need.
func SplittableClasses(d *Dataset, groups []int) []bool {
	first := make([]int, len(d.Classes))
	ok := make([]bool, len(d.Classes))
	for i := range first {
		first[i] = -1
	}
	for i, p := range d.Photos {
		switch {
		case first[p.Class] < 0:
			first[p.Class] = groups[i]
		case first[p.Class] != groups[i]:
			ok[p.Class] = true
		}
	}
	return ok
}

// rankGroups orders groups by the split hash of their smallest member
// content hash (salted for k-fold validation draws), ties by first photo.
func rankGroups(d *Dataset, gs [][]int, seed int64, salt string) {
	var seedBytes [8]byte
	binary.LittleEndian.PutUint64(seedBytes[:], uint64(seed))
	rank := make(map[int]uint64, len(gs))
	for _, g := range gs {
		key := d.Photos[g[0]].SHA256
		for _, i := range g[1:] {
			key = min(key, d.Photos[i].SHA256)
		}
		h := sha256.New()
		h.Write([]byte("dogrun-split-v1\x00"))
		h.Write(seedBytes[:])
		h.Write([]byte(key))
		if salt != "" {
			h.Write([]byte("\x00" + salt))
		}
		rank[g[0]] = binary.BigEndian.Uint64(h.Sum(nil))
	}
	slices.SortStableFunc(gs, func(a, b []int) int {
		ra, rb := rank[a[0]], rank[b[0]]
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return strings.Compare(d.Photos[a[0]].Rel, d.Photos[b[0]].Rel)
	})
}

// checkSplitArgs holds the argument checks StratifiedSplit makes.
func checkSplitArgs(d *Dataset, test, val float64) error {
	if d == nil {
		return fmt.Errorf("dataset: split of a nil dataset")
	}
	if !(test > 0 && test < 1) {
		return fmt.Errorf("dataset: test fraction must be in (0, 1), got %g", test)
	}
	if !(val >= 0 && val < 1) {
		return fmt.Errorf("dataset: validation fraction must be in [0, 1), got %g", val)
	}
	if test+val >= 1 {
		return fmt.Errorf("dataset: test + validation fractions must leave room for training, got %g + %g", test, val)
	}
	return nil
}

// Subset keeps the classes for which keep is true, renumbering them, and
// returns the new dataset with, for each of its photos, its index in d.
func (d *Dataset) Subset(keep []bool) (*Dataset, []int) {
	out := &Dataset{Root: d.Root, Skipped: d.Skipped, Dropped: slices.Clone(d.Dropped)}
	newIndex := make([]int, len(d.Classes))
	for ci, name := range d.Classes {
		newIndex[ci] = -1
		if keep[ci] {
			newIndex[ci] = len(out.Classes)
			out.Classes = append(out.Classes, name)
		}
	}
	var from []int
	for i, p := range d.Photos {
		if ni := newIndex[p.Class]; ni >= 0 {
			p.Class = ni
			out.Photos = append(out.Photos, p)
			from = append(from, i)
		}
	}
	return out, from
}
