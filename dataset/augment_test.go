package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testAugment = Augment{RotationDeg: 15, Shift: 0.1, Zoom: [2]float64{0.9, 1.2}, Brightness: [2]float64{0.8, 1.1}, HFlip: true}

func fakeSHA(i int) string {
	s := sha256.Sum256([]byte(strconv.Itoa(i)))
	return hex.EncodeToString(s[:])
}

func TestParamsDeterministic(t *testing.T) {
	for v := range 5 {
		a := testAugment.Params(fakeSHA(1), v)
		b := testAugment.Params(fakeSHA(1), v)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("view %d: two calls differ (-first +second):\n%s", v, diff)
		}
	}
	if cmp.Equal(testAugment.Params(fakeSHA(1), 1), testAugment.Params(fakeSHA(1), 2)) {
		t.Error("views 1 and 2 of one photo are identical")
	}
	if cmp.Equal(testAugment.Params(fakeSHA(1), 1), testAugment.Params(fakeSHA(2), 1)) {
		t.Error("view 1 of two photos is identical")
	}
	identity := ViewParams{Zoom: 1, Brightness: 1}
	if diff := cmp.Diff(identity, testAugment.Params(fakeSHA(1), 0)); diff != "" {
		t.Errorf("view 0 is not the original (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(identity, Augment{}.Params(fakeSHA(1), 3)); diff != "" {
		t.Errorf("a zero Augment changes the photo (-want +got):\n%s", diff)
	}
}

func TestParamsWithinRanges(t *testing.T) {
	a := testAugment
	var flips int
	var minAngle, maxAngle, minZoom, maxZoom float64 = 0, 0, 2, 0
	const n = 2000
	for i := range n {
		p := a.Params(fakeSHA(i), 1+i%8)
		if p.AngleDeg < -a.RotationDeg || p.AngleDeg > a.RotationDeg {
			t.Fatalf("angle %g outside ±%g", p.AngleDeg, a.RotationDeg)
		}
		for _, s := range []float64{p.ShiftX, p.ShiftY} {
			if s < -a.Shift || s > a.Shift {
				t.Fatalf("shift %g outside ±%g", s, a.Shift)
			}
		}
		if p.Zoom < a.Zoom[0] || p.Zoom > a.Zoom[1] {
			t.Fatalf("zoom %g outside %v", p.Zoom, a.Zoom)
		}
		if p.Brightness < a.Brightness[0] || p.Brightness > a.Brightness[1] {
			t.Fatalf("brightness %g outside %v", p.Brightness, a.Brightness)
		}
		if p.Flip {
			flips++
		}
		minAngle, maxAngle = min(minAngle, p.AngleDeg), max(maxAngle, p.AngleDeg)
		minZoom, maxZoom = min(minZoom, p.Zoom), max(maxZoom, p.Zoom)
	}
	// The draws must also fill the ranges, not sit in a corner of them.
	if minAngle > -14 || maxAngle < 14 || minZoom > 0.92 || maxZoom < 1.18 {
		t.Errorf("draws do not cover the ranges: angle [%g, %g], zoom [%g, %g]", minAngle, maxAngle, minZoom, maxZoom)
	}
	if flips < n*4/10 || flips > n*6/10 {
		t.Errorf("%d of %d views flipped; want about half", flips, n)
	}

	// Disabled fields stay neutral while others vary.
	b := Augment{RotationDeg: 10}
	p := b.Params(fakeSHA(3), 4)
	if p.ShiftX != 0 || p.ShiftY != 0 || p.Zoom != 1 || p.Brightness != 1 || p.Flip {
		t.Errorf("rotation-only augment gave %+v", p)
	}
	// Common random numbers: the angle of a view does not depend on the other fields.
	if q := testAugment.Params(fakeSHA(3), 4); math.Abs(q.AngleDeg/15-p.AngleDeg/10) > 1e-12 {
		t.Errorf("angle %g with rotation 15 is not 1.5x the angle %g with rotation 10", q.AngleDeg, p.AngleDeg)
	}
}

func TestAugmentKey(t *testing.T) {
	base := testAugment.Key()
	if base != testAugment.Key() {
		t.Fatal("Key is not stable")
	}
	want := "aug-v1 rot=15 shift=0.1 zoom=0.9,1.2 bright=0.8,1.1 hflip=true"
	if diff := cmp.Diff(want, base); diff != "" {
		t.Errorf("Key (-want +got):\n%s", diff)
	}
	changes := []func(*Augment){
		func(a *Augment) { a.RotationDeg = 20 },
		func(a *Augment) { a.Shift = 0.2 },
		func(a *Augment) { a.Zoom[0] = 0.8 },
		func(a *Augment) { a.Zoom[1] = 1.1 },
		func(a *Augment) { a.Brightness[0] = 0.9 },
		func(a *Augment) { a.Brightness[1] = 1.2 },
		func(a *Augment) { a.HFlip = false },
	}
	seen := map[string]int{base: -1}
	for i, change := range changes {
		a := testAugment
		change(&a)
		k := a.Key()
		if j, dup := seen[k]; dup {
			t.Errorf("change %d gives the same key as %d: %q", i, j, k)
		}
		seen[k] = i
	}
}

func TestAugmentValidate(t *testing.T) {
	if err := testAugment.Validate(); err != nil {
		t.Errorf("valid augment: %v", err)
	}
	if err := (Augment{}).Validate(); err != nil {
		t.Errorf("zero augment: %v", err)
	}
	for _, tc := range []struct {
		a    Augment
		want string
	}{
		{Augment{RotationDeg: -1}, "rotation"},
		{Augment{Shift: 1}, "shift"},
		{Augment{Zoom: [2]float64{1.2, 0.9}}, "zoom"},
		{Augment{Zoom: [2]float64{0, 1.1}}, "zoom"},
		{Augment{Brightness: [2]float64{-1, 1}}, "brightness"},
	} {
		err := tc.a.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v; want an error about %s", tc.a, err, tc.want)
		}
	}
}
