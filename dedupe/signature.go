package dedupe

import (
	"image"
	"math/bits"
)

// The re-crop search grid of a Signature: content moved by up to 12% of the
// side either way and zoomed in by up to 1.3, the range of the calibration's
// shifts and re-crops. Zooming out needs no grid of its own: the other photo's
// zoomed-in views cover it, since Distance searches both ways.
var (
	gridShifts = []float64{-0.12, -0.08, -0.04, 0, 0.04, 0.08, 0.12}
	gridZooms  = []float64{1, 1.1, 1.2, 1.3}
)

// Signature is what the phash method keeps of a photo: the perceptual hash of
// the photo and of each view of it on the re-crop grid.
type Signature struct {
	Base Hash
	Grid []Hash // len(gridZooms)*len(gridShifts)², zoom-major
}

// Sign computes a photo's signature. The photo is first shrunk to 64x64 by
// area averaging, so each view is a cheap 2x resample of it.
func Sign(img image.Image) Signature {
	base := ToGray(img).Resize(2*hashSide, 2*hashSide)
	s := Signature{Base: PHash(base.Resize(hashSide, hashSide))}
	s.Grid = make([]Hash, 0, len(gridZooms)*len(gridShifts)*len(gridShifts))
	for _, z := range gridZooms {
		for _, dy := range gridShifts {
			for _, dx := range gridShifts {
				s.Grid = append(s.Grid, PHash(base.warp(hashSide, z, dx, dy)))
			}
		}
	}
	return s
}

// SignatureDistance is the smallest flip-invariant Hamming distance between
// one photo and any re-crop view of the other, searched both ways: 0 for
// copies, flips and re-encodes; a few bits for shifted re-crops and bursts;
// 16 to 24 for different shots of one dog.
func SignatureDistance(a, b *Signature) int {
	best := Distance(a.Base, b.Base)
	for _, h := range b.Grid {
		best = min(best, hamming2(a.Base, h))
	}
	for _, h := range a.Grid {
		best = min(best, hamming2(b.Base, h))
	}
	return best
}

func hamming2(a, b Hash) int {
	return min(bits.OnesCount64(a.H^b.H), bits.OnesCount64(a.H^b.Flip))
}
