package main

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/dogrun/dogrun/dataset"
)

// TestDrawDogs checks that roles are the nested class draws, that every photo
// has exactly one role and that asking for more dogs than there are fails.
func TestDrawDogs(t *testing.T) {
	d := &dataset.Dataset{}
	var from []int
	for c := range 10 {
		d.Classes = append(d.Classes, fmt.Sprint(100+c))
		for p := range 3 {
			d.Photos = append(d.Photos, dataset.Photo{Class: c, Rel: fmt.Sprintf("%d/%d.jpg", 100+c, p)})
			from = append(from, 1000+len(from)) // corpus positions differ from subset ones
		}
	}
	roles, err := drawDogs(d, from, 7, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	classesOf := func(idx []int) []int {
		var cs []int
		for _, k := range idx {
			if c := d.Photos[k-1000].Class; !slices.Contains(cs, c) {
				cs = append(cs, c)
			}
		}
		slices.Sort(cs)
		return cs
	}
	drawn := func(k int) []int {
		var cs []int
		for c, in := range d.DrawClasses(k, 7) {
			if in {
				cs = append(cs, c)
			}
		}
		return cs
	}
	if got, want := classesOf(roles[0]), drawn(3); !slices.Equal(got, want) {
		t.Errorf("first role's dogs %v, want the draw of 3: %v", got, want)
	}
	both := slices.Concat(classesOf(roles[0]), classesOf(roles[1]))
	slices.Sort(both)
	if want := drawn(5); !slices.Equal(both, want) || len(classesOf(roles[1])) != 2 {
		t.Errorf("first two roles' dogs %v, want the draw of 5: %v", both, want)
	}
	if n := len(classesOf(roles[2])); n != 5 {
		t.Errorf("the rest has %d dogs, want 5", n)
	}
	all := slices.Concat(roles...)
	slices.Sort(all)
	if !slices.Equal(all, from) {
		t.Errorf("photos over the roles %v, want each of %v once", all, from)
	}
	if _, err := drawDogs(d, from, 7, 6, 5); err == nil {
		t.Error("11 of 10 dogs drawn: no error")
	}
}

// TestExclusive checks that a photo whose content an earlier part holds is
// dropped from the later one, and only then.
func TestExclusive(t *testing.T) {
	c := &corpus{data: &dataset.Dataset{Photos: []dataset.Photo{{SHA256: "a"}, {SHA256: "b"}, {SHA256: "a"}, {SHA256: "c"}, {SHA256: "b"}}}}
	p1, p2, p3 := []int{0, 1}, []int{2, 3}, []int{4, 3}
	if n := c.exclusive(&p1, &p2, &p3); n != 3 || !slices.Equal(p1, []int{0, 1}) || !slices.Equal(p2, []int{3}) || len(p3) != 0 {
		t.Errorf("exclusive dropped %d: %v %v %v; want 3: [0 1] [3] []", n, p1, p2, p3)
	}
}

// TestMeanOfLargest checks the cohort term on unit vectors counted by hand.
func TestMeanOfLargest(t *testing.T) {
	s := float32(math.Sqrt(0.5))
	vs := [][]float32{{1, 0}, {0, 1}, {-1, 0}, {s, s}}
	f := []float32{1, 0} // cosines 1, 0, -1, 0.7071
	if got, want := meanOfLargest(vs, f, 2), (1+float64(s))/2; math.Abs(got-want) > 1e-6 {
		t.Errorf("mean of the 2 largest = %v, want %v", got, want)
	}
	if got := meanOfLargest(vs, f, 10); math.Abs(got-(float64(s))/4) > 1e-6 {
		t.Errorf("k beyond the cohort: %v, want the mean of all 4", got)
	}
}
