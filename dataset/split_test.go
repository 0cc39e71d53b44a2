package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeDataset builds a Dataset in memory: classes named c0, c1, ... with the
// given photo counts and distinct content hashes.
func fakeDataset(sizes ...int) *Dataset {
	d := &Dataset{Root: "/fake"}
	for ci, n := range sizes {
		name := fmt.Sprintf("c%d", ci)
		d.Classes = append(d.Classes, name)
		for k := range n {
			rel := fmt.Sprintf("%s/%s.%d.jpg", name, name, k)
			sum := sha256.Sum256([]byte(rel))
			d.Photos = append(d.Photos, Photo{Path: "/fake/" + rel, Rel: rel, Class: ci, SHA256: hex.EncodeToString(sum[:]), Format: "jpeg"})
		}
	}
	slices.SortFunc(d.Photos, func(a, b Photo) int { return strings.Compare(a.Rel, b.Rel) })
	return d
}

func TestSplitCountsRoundingRule(t *testing.T) {
	type counts struct{ Test, Val, Train int }
	for _, tc := range []struct {
		n         int
		test, val float64
		want      counts
	}{
		{2, 0.2, 0.1, counts{1, 0, 1}},   // val needs n >= 3
		{3, 0.2, 0.1, counts{1, 1, 1}},   // minimums of 1 each
		{3, 0.5, 0.2, counts{1, 1, 1}},   // round(1.5)=2 test cut back for train
		{4, 0.5, 0.3, counts{2, 1, 1}},   // fits: train keeps 1
		{5, 0.3, 0.1, counts{2, 1, 2}},   // 1.5 rounds half up to 2
		{10, 0.15, 0, counts{2, 0, 8}},   // 1.5 rounds half up
		{50, 0.29, 0, counts{15, 0, 35}}, // 50*0.29 = 14.499999999999998 counts as 14.5
		{10, 0.2, 0.1, counts{2, 1, 7}},  // plain case
		{39, 0.2, 0.1, counts{8, 4, 27}},
		{8, 0.25, 0.25, counts{2, 2, 4}},
		{2, 0.9, 0.05, counts{1, 0, 1}},
		{5, 0.6, 0.3, counts{3, 1, 1}}, // val rounds to 2, cut to 1 for train
	} {
		nt, nv := splitCounts(tc.n, tc.test, tc.val)
		got := counts{nt, nv, tc.n - nt - nv}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("splitCounts(%d, %g, %g) (-want +got):\n%s", tc.n, tc.test, tc.val, diff)
		}
	}
}

func TestStratifiedSplit(t *testing.T) {
	d := fakeDataset(2, 3, 4, 5, 8, 12, 39, 2, 6)
	s, err := StratifiedSplit(d, 0.2, 0.1, 42)
	if err != nil {
		t.Fatal(err)
	}

	again, err := StratifiedSplit(d, 0.2, 0.1, 42)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, again); diff != "" {
		t.Errorf("same seed, different split (-first +second):\n%s", diff)
	}

	// Disjoint, covering, sorted.
	seen := make([]int, len(d.Photos))
	for name, part := range map[string][]int{"train": s.Train, "val": s.Val, "test": s.Test} {
		if !slices.IsSorted(part) {
			t.Errorf("%s indices not sorted", name)
		}
		for _, i := range part {
			seen[i]++
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("photo %s is in %d parts, want exactly 1", d.Photos[i].Rel, n)
		}
	}

	// Per class counts follow the rounding rule.
	type per struct{ Train, Val, Test int }
	got := make([]per, len(d.Classes))
	for _, i := range s.Train {
		got[d.Photos[i].Class].Train++
	}
	for _, i := range s.Val {
		got[d.Photos[i].Class].Val++
	}
	for _, i := range s.Test {
		got[d.Photos[i].Class].Test++
	}
	var want []per
	for _, n := range d.PhotosPerClass() {
		nt, nv := splitCounts(n, 0.2, 0.1)
		want = append(want, per{n - nt - nv, nv, nt})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per-class counts (-want +got):\n%s", diff)
	}
	for ci, c := range got {
		if c.Train < 1 || c.Test < 1 {
			t.Errorf("class %s: %+v; want >= 1 train and >= 1 test", d.Classes[ci], c)
		}
	}

	other, err := StratifiedSplit(d, 0.2, 0.1, 43)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(s, other) {
		t.Error("seeds 42 and 43 gave identical splits")
	}
}

func TestStratifiedSplitClassIndependence(t *testing.T) {
	// The split of class c1 must not change when other classes come or go.
	big := fakeDataset(5, 9, 7)
	small := fakeDataset(3, 9)
	testSet := func(d *Dataset) []string {
		s, err := StratifiedSplit(d, 0.3, 0.2, 5)
		if err != nil {
			t.Fatal(err)
		}
		var rels []string
		for _, i := range s.Test {
			if d.Classes[d.Photos[i].Class] == "c1" {
				rels = append(rels, d.Photos[i].Rel)
			}
		}
		return rels
	}
	if diff := cmp.Diff(testSet(big), testSet(small)); diff != "" {
		t.Errorf("class c1's test photos depend on other classes (-big +small):\n%s", diff)
	}
}

func TestStratifiedSplitErrors(t *testing.T) {
	for _, tc := range []struct {
		d         *Dataset
		test, val float64
		want      string
	}{
		{fakeDataset(3, 1), 0.2, 0.1, `class "c1" has 1 photo(s)`},
		{fakeDataset(3), 0, 0.1, "test fraction"},
		{fakeDataset(3), 1, 0, "test fraction"},
		{fakeDataset(3), 0.2, -0.1, "validation fraction"},
		{fakeDataset(3), 0.5, 0.5, "leave room for training"},
		{nil, 0.2, 0.1, "nil dataset"},
	} {
		_, err := StratifiedSplit(tc.d, tc.test, tc.val, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("StratifiedSplit(test=%g, val=%g) error = %v; want it to contain %q", tc.test, tc.val, err, tc.want)
		}
	}
}

func TestStratifiedSplitNoVal(t *testing.T) {
	s, err := StratifiedSplit(fakeDataset(4, 6), 0.25, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{}, s.Val); diff != "" {
		t.Errorf("Val with val=0 (-want +got):\n%s", diff)
	}
	if len(s.Test) != 3 || len(s.Train) != 7 {
		t.Errorf("got %d test, %d train; want 3, 7", len(s.Test), len(s.Train))
	}
}
