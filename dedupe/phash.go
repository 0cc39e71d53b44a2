package dedupe

import (
	"math"
	"math/bits"
	"slices"
)

// Hash is a 64-bit DCT perceptual hash of a photo and of its mirror image,
// so that a flipped copy is found as easily as the photo itself.
type Hash struct {
	H, Flip uint64
}

const (
	hashSide = 32 // the photo is shrunk to 32x32 before the DCT
	hashLow  = 8  // and the 8x8 lowest frequencies make the 64 bits
)

// dctBasis[u][x] = cos(pi (2x+1) u / 64), the DCT-II basis on 32 samples.
var dctBasis = func() (b [hashLow][hashSide]float64) {
	for u := range hashLow {
		for x := range hashSide {
			b[u][x] = math.Cos(math.Pi * float64(2*x+1) * float64(u) / (2 * hashSide))
		}
	}
	return b
}()

// PHash is the classic perceptual hash (as in the imagehash library's phash):
// shrink to 32x32 grayscale, take the 2-D DCT-II, keep the 8x8 lowest
// frequencies and set a bit for each coefficient above their median. The
// mirror image's coefficients are the same with the sign of every odd
// horizontal frequency flipped, so Flip costs no second DCT.
func PHash(g *Gray) Hash {
	s := g
	if g.W != hashSide || g.H != hashSide {
		s = g.Resize(hashSide, hashSide)
	}
	// Separable DCT, rows first: r[u][y] = sum_x s[y][x] basis[u][x].
	var r [hashLow][hashSide]float64
	for u := range hashLow {
		b := dctBasis[u][:]
		ru := r[u][:]
		for y := range hashSide {
			row := s.Pix[y*hashSide : (y+1)*hashSide : (y+1)*hashSide]
			var acc float64
			for x, v := range row {
				acc += v * b[x]
			}
			ru[y] = acc
		}
	}
	var c [hashLow * hashLow]float64 // c[v*8+u]: u horizontal, v vertical frequency
	for v := range hashLow {
		b := dctBasis[v][:]
		for u := range hashLow {
			ru := r[u][:]
			var acc float64
			for y, w := range b {
				acc += ru[y] * w
			}
			c[v*hashLow+u] = acc
		}
	}
	f := c
	for i := range f {
		if (i%hashLow)%2 == 1 {
			f[i] = -f[i]
		}
	}
	return Hash{H: bitsAboveMedian(c[:]), Flip: bitsAboveMedian(f[:])}
}

func bitsAboveMedian(c []float64) uint64 {
	sorted := slices.Clone(c)
	slices.Sort(sorted)
	med := (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	var h uint64
	for i, v := range c {
		if v > med {
			h |= 1 << uint(i)
		}
	}
	return h
}

// Distance is the Hamming distance between a and b or between a and b's
// mirror image, whichever is smaller: 0 for identical photos, about 32 for
// unrelated ones.
func Distance(a, b Hash) int {
	return min(bits.OnesCount64(a.H^b.H), bits.OnesCount64(a.H^b.Flip))
}
