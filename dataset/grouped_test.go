package dataset

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func singletons(d *Dataset) []int {
	g := make([]int, len(d.Photos))
	for i := range g {
		g[i] = i
	}
	return g
}

// burstGroups joins photos of each class in runs of the given lengths,
// cycling, as a near-duplicate finder would group bursts.
func burstGroups(d *Dataset, runs ...int) []int {
	g := make([]int, len(d.Photos))
	next, k, left, class := 0, 0, 0, -1
	for i, p := range d.Photos {
		if p.Class != class || left == 0 {
			if p.Class != class {
				class, k = p.Class, 0
			}
			next++
			left = runs[k%len(runs)]
			k++
		}
		g[i] = next
		left--
	}
	return g
}

// checkParts asserts that the parts cover every photo once and that no group
// spans two parts.
func checkParts(t *testing.T, d *Dataset, groups []int, s Split) {
	t.Helper()
	part := map[int]string{}
	for name, idx := range map[string][]int{"train": s.Train, "val": s.Val, "test": s.Test} {
		for _, i := range idx {
			if p, ok := part[i]; ok {
				t.Fatalf("photo %d in %s and %s", i, p, name)
			}
			part[i] = name
		}
	}
	if len(part) != len(d.Photos) {
		t.Fatalf("%d of %d photos assigned", len(part), len(d.Photos))
	}
	groupPart := map[int]string{}
	for i, g := range groups {
		if p, ok := groupPart[g]; ok && p != part[i] {
			t.Fatalf("group %d spans %s and %s", g, p, part[i])
		}
		groupPart[g] = part[i]
	}
}

func TestGroupedSplitWithSingletonsIsStratifiedSplit(t *testing.T) {
	d := fakeDataset(2, 3, 7, 10, 25, 40)
	for _, seed := range []int64{1, 2, 3} {
		want, err := StratifiedSplit(d, 0.2, 0.1, seed)
		if err != nil {
			t.Fatal(err)
		}
		got, err := GroupedSplit(d, singletons(d), 0.2, 0.1, seed)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("seed %d (-stratified +grouped):\n%s", seed, diff)
		}
	}
}

func TestGroupedSplitKeepsGroupsWhole(t *testing.T) {
	d := fakeDataset(8, 12, 20, 31, 5)
	groups := burstGroups(d, 3, 1, 2, 1, 4)
	for _, seed := range []int64{1, 7, 99} {
		s, err := GroupedSplit(d, groups, 0.2, 0.1, seed)
		if err != nil {
			t.Fatal(err)
		}
		checkParts(t, d, groups, s)
		// Each class keeps a test and a training photo.
		for c := range d.Classes {
			var inTest, inTrain bool
			for _, i := range s.Test {
				inTest = inTest || d.Photos[i].Class == c
			}
			for _, i := range s.Train {
				inTrain = inTrain || d.Photos[i].Class == c
			}
			if !inTest || !inTrain {
				t.Errorf("seed %d class %d: test %v train %v", seed, c, inTest, inTrain)
			}
		}
		if again, _ := GroupedSplit(d, groups, 0.2, 0.1, seed); !cmp.Equal(again, s) {
			t.Errorf("seed %d: not deterministic", seed)
		}
	}
}

func TestGroupedSplitTwoBigGroups(t *testing.T) {
	// A class of two bursts of 4 overshoots any 20% target; it still gets one
	// group in test and one in training.
	d := fakeDataset(8)
	groups := burstGroups(d, 4)
	s, err := GroupedSplit(d, groups, 0.2, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkParts(t, d, groups, s)
	if len(s.Test) != 4 || len(s.Train) != 4 || len(s.Val) != 0 {
		t.Errorf("test %d val %d train %d, want 4/0/4", len(s.Test), len(s.Val), len(s.Train))
	}
}

func TestGroupedSplitRefusesClassOfOneGroup(t *testing.T) {
	d := fakeDataset(5, 4)
	groups := burstGroups(d, 5) // class 0 is one group of 5, class 1 one of 4
	if _, err := GroupedSplit(d, groups, 0.2, 0.1, 1); err == nil {
		t.Fatal("a class of one group was split")
	}
	ok := SplittableClasses(d, burstGroups(d, 3))
	if diff := cmp.Diff([]bool{true, true}, ok); diff != "" {
		t.Errorf("splittable (-want +got):\n%s", diff)
	}
	ok = SplittableClasses(d, groups)
	if diff := cmp.Diff([]bool{false, false}, ok); diff != "" {
		t.Errorf("splittable (-want +got):\n%s", diff)
	}
	// A group across classes is a caller's bug.
	bad := make([]int, len(d.Photos))
	if _, err := GroupedSplit(d, bad, 0.2, 0.1, 1); err == nil {
		t.Error("a group spanning classes was accepted")
	}
}

func TestKFoldCoversEveryPhotoOnce(t *testing.T) {
	d := fakeDataset(8, 12, 20, 3, 31)
	groups := burstGroups(d, 2, 1, 3, 1)
	for _, k := range []int{2, 5} {
		folds, err := KFold(d, groups, k, 0.1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(folds) != k {
			t.Fatalf("%d folds, want %d", len(folds), k)
		}
		tested := make([]int, len(d.Photos))
		for f, s := range folds {
			checkParts(t, d, groups, s)
			for _, i := range s.Test {
				tested[i]++
			}
			if len(s.Train) == 0 {
				t.Errorf("k=%d fold %d has no training photos", k, f)
			}
		}
		for i, n := range tested {
			if n != 1 {
				t.Errorf("k=%d: photo %s tested %d times", k, d.Photos[i].Rel, n)
			}
		}
		// Folds of a class differ by at most its biggest group (3).
		for c := range d.Classes {
			var sizes []int
			for _, s := range folds {
				n := 0
				for _, i := range s.Test {
					if d.Photos[i].Class == c {
						n++
					}
				}
				sizes = append(sizes, n)
			}
			if slices.Max(sizes)-slices.Min(sizes) > 3 {
				t.Errorf("k=%d class %d fold sizes %v", k, c, sizes)
			}
		}
	}
	// With singletons, a class's photos are dealt round-robin: 20 photos
	// over 5 folds is 4 each.
	folds, err := KFold(d, singletons(d), 5, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	for f, s := range folds {
		n := 0
		for _, i := range s.Test {
			if d.Photos[i].Class == 2 {
				n++
			}
		}
		if n != 4 {
			t.Errorf("fold %d tests %d photos of the 20-photo class, want 4", f, n)
		}
		if len(s.Val) != 0 {
			t.Errorf("val=0 fold %d has %d validation photos", f, len(s.Val))
		}
	}
	// Odd photos rotate over the folds: 30 classes of 8 photos in 3 folds
	// give 3, 3, 2 per class with the short fold turning, so 80 each.
	many := make([]int, 30)
	for i := range many {
		many[i] = 8
	}
	dm := fakeDataset(many...)
	folds, err = KFold(dm, singletons(dm), 3, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	for f, s := range folds {
		if len(s.Test) != 80 {
			t.Errorf("fold %d tests %d photos, want 80", f, len(s.Test))
		}
	}
	if _, err := KFold(d, groups, 1, 0.1, 1); err == nil {
		t.Error("k=1 accepted")
	}
}

func TestLeakySplitPutsCopiesOnBothSides(t *testing.T) {
	d := fakeDataset(10, 10, 10)
	const views = 4
	s, err := LeakySplit(d, views, 0.2, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	total := len(s.Train) + len(s.Val) + len(s.Test)
	if total != len(d.Photos)*(views+1) {
		t.Fatalf("%d units, want %d", total, len(d.Photos)*(views+1))
	}
	// 50 units per class: 10 test, 5 validation, 35 training.
	if len(s.Test) != 30 || len(s.Val) != 15 {
		t.Errorf("test %d val %d, want 30 and 15", len(s.Test), len(s.Val))
	}
	trainPhotos := map[int]bool{}
	for _, u := range s.Train {
		trainPhotos[u.Photo] = true
	}
	leaked := 0
	for _, u := range s.Test {
		if trainPhotos[u.Photo] {
			leaked++
		}
	}
	// The point of the protocol: most test units have a copy in training.
	if leaked < len(s.Test)/2 {
		t.Errorf("only %d of %d test units have a copy in training", leaked, len(s.Test))
	}
	folds, err := LeakyKFold(d, views, 5, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Unit]int{}
	for _, f := range folds {
		for _, u := range f.Test {
			seen[u]++
		}
	}
	if len(seen) != total {
		t.Errorf("leaky k-fold tests %d distinct units, want %d", len(seen), total)
	}
}

func TestSplitUnits(t *testing.T) {
	s := Split{Train: []int{0, 3}, Val: []int{1}, Test: []int{2}}
	want := UnitSplit{
		Train: []Unit{{0, 0}, {0, 1}, {0, 2}, {3, 0}, {3, 1}, {3, 2}},
		Val:   []Unit{{1, 0}},
		Test:  []Unit{{2, 0}},
	}
	if diff := cmp.Diff(want, s.Units(2)); diff != "" {
		t.Errorf("Units (-want +got):\n%s", diff)
	}
}

func TestSubset(t *testing.T) {
	d := fakeDataset(2, 3, 2)
	sub, from := d.Subset([]bool{true, false, true})
	if diff := cmp.Diff([]string{"c0", "c2"}, sub.Classes); diff != "" {
		t.Errorf("classes (-want +got):\n%s", diff)
	}
	if len(sub.Photos) != 4 || len(from) != 4 {
		t.Fatalf("%d photos", len(sub.Photos))
	}
	for k, i := range from {
		if sub.Photos[k].Rel != d.Photos[i].Rel || sub.Classes[sub.Photos[k].Class] != d.Classes[d.Photos[i].Class] {
			t.Errorf("photo %d maps to %d wrongly", k, i)
		}
	}
}
