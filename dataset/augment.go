package dataset

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Augment mirrors the experiment file's augmentation block. Ranges are drawn
// uniformly. A zero Zoom or Brightness range means "unchanged" (factor 1).
type Augment struct {
	RotationDeg float64    // angle drawn from [-RotationDeg, RotationDeg]; positive turns counter-clockwise
	Shift       float64    // shifts drawn from [-Shift, Shift], as a fraction of the image size
	Zoom        [2]float64 // zoom factor range; > 1 magnifies
	Brightness  [2]float64 // pixel value multiplier range
	HFlip       bool       // mirror left-right with probability 1/2
}

// ViewParams are the concrete transform of one augmented view. The zero value
// (and a zero Zoom or Brightness) means no change.
type ViewParams struct {
	AngleDeg       float64 // counter-clockwise as seen on screen
	ShiftX, ShiftY float64 // fractions of the output size; positive moves content right / down
	Zoom           float64 // > 1 magnifies about the centre
	Brightness     float64 // multiplies R, G and B
	Flip           bool    // mirror left-right, applied after the other transforms
}

// Validate reports ranges that Params cannot draw from sensibly.
func (a Augment) Validate() error {
	for _, v := range []float64{a.RotationDeg, a.Shift, a.Zoom[0], a.Zoom[1], a.Brightness[0], a.Brightness[1]} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("augmentation values must be finite: %+v", a)
		}
	}
	if a.RotationDeg < 0 || a.RotationDeg > 180 {
		return fmt.Errorf("augmentation rotation must be in [0, 180] degrees, got %g", a.RotationDeg)
	}
	if a.Shift < 0 || a.Shift >= 1 {
		return fmt.Errorf("augmentation shift must be in [0, 1), got %g", a.Shift)
	}
	if err := checkRange("zoom", a.Zoom); err != nil {
		return err
	}
	return checkRange("brightness", a.Brightness)
}

func checkRange(name string, r [2]float64) error {
	if r == [2]float64{} {
		return nil
	}
	if r[0] <= 0 || r[1] < r[0] {
		return fmt.Errorf("augmentation %s range must be [0, 0] (off) or 0 < low <= high, got [%g, %g]", name, r[0], r[1])
	}
	return nil
}

// Params draws view's parameters from (photo SHA-256, view) alone, never from
// a trial seed, so every trial shares the cached features of a view. Each
// parameter uses its own fixed uniform draw, so configurations differing in
// one range give the same views in everything else (common random numbers:
// comparisons between configurations carry less noise). View 0 (or less) is
// the original photo.
func (a Augment) Params(photoSHA256 string, view int) ViewParams {
	if view <= 0 {
		return ViewParams{Zoom: 1, Brightness: 1}
	}
	sum := sha512.Sum512([]byte("dogrun-view-v1\x00" + photoSHA256 + "\x00" + strconv.Itoa(view)))
	var u [8]float64 // uniform in [0, 1)
	for i := range u {
		u[i] = float64(binary.BigEndian.Uint64(sum[8*i:])>>11) / (1 << 53)
	}
	p := ViewParams{
		AngleDeg:   math.Abs(a.RotationDeg) * (2*u[0] - 1),
		ShiftX:     math.Abs(a.Shift) * (2*u[1] - 1),
		ShiftY:     math.Abs(a.Shift) * (2*u[2] - 1),
		Zoom:       drawIn(a.Zoom, u[3]),
		Brightness: drawIn(a.Brightness, u[4]),
		Flip:       a.HFlip && u[5] < 0.5,
	}
	return p
}

func drawIn(r [2]float64, u float64) float64 {
	if r == [2]float64{} {
		return 1
	}
	lo, hi := min(r[0], r[1]), max(r[0], r[1])
	return min(lo+u*(hi-lo), hi)
}

// Key is a canonical text of the fields, for cache keys: it changes whenever
// a field changes. The version prefix is bumped when Params or Render change
// what a given Augment produces, so stale cached views are not reused.
func (a Augment) Key() string {
	return fmt.Sprintf("aug-v1 rot=%s shift=%s zoom=%s,%s bright=%s,%s hflip=%t",
		num(a.RotationDeg), num(a.Shift), num(a.Zoom[0]), num(a.Zoom[1]),
		num(a.Brightness[0]), num(a.Brightness[1]), a.HFlip)
}

func num(v float64) string {
	if v == 0 {
		v = 0 // -0 draws the same views as 0
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
