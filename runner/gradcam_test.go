package runner

import (
	"testing"

	"github.com/dogrun/dogrun/results"
)

func TestChooseTestPhotosShowsDogsRightAndWrong(t *testing.T) {
	p := func(photo string, truth, pred int) results.Prediction {
		return results.Prediction{Photo: photo, True: truth, Pred: pred}
	}
	all := []results.Prediction{
		p("a/1.jpg", 0, 0), p("a/2.jpg", 0, 0), p("b/1.jpg", 1, 1),
		p("a/3.jpg", 0, 1), p("a/4.jpg", 0, 2), p("c/1.jpg", 2, 0),
		p("b/1.jpg#1", 1, 0), // a leaky trial's augmented copy: not a file
	}
	var got []string
	for _, c := range chooseTestPhotos(all, 4) {
		got = append(got, c.Photo)
	}
	// Right: one per dog first (a/1, b/1); wrong: one per dog first (a/3, c/1).
	want := []string{"a/1.jpg", "b/1.jpg", "a/3.jpg", "c/1.jpg"}
	if len(got) != len(want) {
		t.Fatalf("chose %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("chose %v, want %v", got, want)
		}
	}
	// Too few right ones: the rest are wrong ones.
	if n := len(chooseTestPhotos(all[3:6], 4)); n != 3 {
		t.Errorf("with only 3 wrong photos chose %d, want all 3", n)
	}
}
