package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Split holds indices into Dataset.Photos, each sorted ascending.
type Split struct {
	Train, Val, Test []int
}

// StratifiedSplit splits every class on its own. For a class of n photos:
//
//	nTest = max(1, round(n*test))
//	nVal  = round(n*val), raised to 1 when val > 0 and n >= 3
//	nTrain = n - nTest - nVal, which must stay >= 1: if it would not, nVal is
//	lowered (down to its minimum above), then nTest (down to 1).
//
// round is half-up: 2.5 -> 3, with a 1e-9 tolerance so decimal halves such as
// 50*0.29 round up too. Which photos go where follows a ranking by
// SHA-256(seed, photo content hash), so the split is deterministic, ignores
// map order and file names, and one class's split never depends on another
// class. Every class needs at least 2 photos (1 test, 1 train).
//
// Near-duplicate photos (bursts, re-crops) are not grouped: they can land on
// both sides of the split.
func StratifiedSplit(d *Dataset, test, val float64, seed int64) (Split, error) {
	if d == nil {
		return Split{}, fmt.Errorf("dataset: split of a nil dataset")
	}
	if !(test > 0 && test < 1) {
		return Split{}, fmt.Errorf("dataset: test fraction must be in (0, 1), got %g", test)
	}
	if !(val >= 0 && val < 1) {
		return Split{}, fmt.Errorf("dataset: validation fraction must be in [0, 1), got %g", val)
	}
	if test+val >= 1 {
		return Split{}, fmt.Errorf("dataset: test + validation fractions must leave room for training, got %g + %g", test, val)
	}

	byClass := make([][]int, len(d.Classes))
	for i, p := range d.Photos {
		if p.Class < 0 || p.Class >= len(d.Classes) {
			return Split{}, fmt.Errorf("dataset: photo %q has class index %d outside %d classes", p.Rel, p.Class, len(d.Classes))
		}
		byClass[p.Class] = append(byClass[p.Class], i)
	}

	var seedBytes [8]byte
	binary.LittleEndian.PutUint64(seedBytes[:], uint64(seed))
	rank := func(sha string) uint64 {
		h := sha256.New()
		h.Write([]byte("dogrun-split-v1\x00"))
		h.Write(seedBytes[:])
		h.Write([]byte(sha))
		return binary.BigEndian.Uint64(h.Sum(nil))
	}

	s := Split{Train: []int{}, Val: []int{}, Test: []int{}}
	for ci, idx := range byClass {
		n := len(idx)
		if n < 2 {
			return Split{}, fmt.Errorf("dataset: class %q has %d photo(s); a split needs at least 2", d.Classes[ci], n)
		}
		nTest, nVal := splitCounts(n, test, val)

		ranks := make(map[int]uint64, n)
		for _, i := range idx {
			ranks[i] = rank(d.Photos[i].SHA256)
		}
		order := slices.Clone(idx)
		slices.SortFunc(order, func(a, b int) int {
			if ranks[a] != ranks[b] {
				if ranks[a] < ranks[b] {
					return -1
				}
				return 1
			}
			return strings.Compare(d.Photos[a].Rel, d.Photos[b].Rel) // identical files
		})
		s.Test = append(s.Test, order[:nTest]...)
		s.Val = append(s.Val, order[nTest:nTest+nVal]...)
		s.Train = append(s.Train, order[nTest+nVal:]...)
	}
	slices.Sort(s.Train)
	slices.Sort(s.Val)
	slices.Sort(s.Test)
	return s, nil
}

// splitCounts applies StratifiedSplit's rounding rule to a class of n >= 2.
func splitCounts(n int, test, val float64) (nTest, nVal int) {
	nTest = max(1, roundHalfUp(float64(n)*test))
	nVal = roundHalfUp(float64(n) * val)
	minVal := 0
	if val > 0 && n >= 3 {
		minVal = 1
	}
	nVal = max(nVal, minVal)
	if over := nTest + nVal - (n - 1); over > 0 {
		cut := min(over, nVal-minVal)
		nVal -= cut
		over -= cut
		nTest -= over
	}
	return nTest, nVal
}

// roundHalfUp rounds x >= 0 to the nearest integer, halves up. The tolerance
// makes decimal halves such as 50*0.29 (14.499999999999998) round up too.
func roundHalfUp(x float64) int {
	return int(math.Floor(x + 0.5 + 1e-9))
}
