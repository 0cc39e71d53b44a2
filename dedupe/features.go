package dedupe

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
)

// Local features for the align method: FAST corners ranked by their Harris
// response, described by 256-bit BRIEF descriptors on two pyramid levels (the
// photo and the photo shrunk by 1.25), so that re-aligned copies (rotated by
// up to about 15 degrees, rescaled by 0.8 to 1.25) still share most
// descriptors. BRIEF is not steered by the keypoint's orientation: unsteered
// descriptors tolerate the rotations of re-alignment and match more reliably
// than steered ones, whose orientation estimates scatter on fur and foliage.

const (
	fastThreshold   = 12 // grey levels a FAST circle pixel must differ by
	briefRadius     = 12 // BRIEF sample offsets lie within this radius
	featureMargin   = 16 // keypoints keep this far from the image edge
	fillMargin      = 6  // and from the black fill of a rotated crop
	nmsRadius       = 3  // non-maximum suppression radius in pixels
	harrisHalf      = 3  // Harris window is 7x7
	levelScale      = 1.25
	maxMatchBits    = 64   // descriptors farther apart never match
	matchRatio      = 0.85 // best distance below this fraction of the second best
	ransacIters     = 400
	inlierPx        = 4.0  // level-0 pixels
	maxAlignAngle   = 25.0 // degrees: re-alignment rotates by at most about 15
	minAlignScale   = 0.7
	maxAlignScale   = 1.45
	minPairDistance = 10.0 // RANSAC ignores samples of two nearly coincident keypoints
)

// featuresPerLevel is how many keypoints each pyramid level keeps.
var featuresPerLevel = [2]int{250, 160}

// maxKeypoints bounds a photo's keypoints, so matching needs no allocation.
const maxKeypoints = 250 + 160

// scratch lends the buffers of one Features call, reused across calls
// through scratchPool: allocating them afresh for each photo cost more in
// garbage collection than the feature detection itself.
type scratch struct {
	floats [][]float64
	bools  [][]bool
	nf, nb int
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// floats64 returns a zeroed buffer of n float64s, valid until reset.
func (s *scratch) floats64(n int) []float64 { return lend(&s.floats, &s.nf, n) }

// bools8 returns a zeroed buffer of n bools, valid until reset.
func (s *scratch) bools8(n int) []bool { return lend(&s.bools, &s.nb, n) }

// lend hands out buffer *used of bufs, zeroed and of length n, growing it
// or the list as needed.
func lend[T any](bufs *[][]T, used *int, n int) []T {
	if *used == len(*bufs) {
		*bufs = append(*bufs, nil)
	}
	b := (*bufs)[*used]
	if cap(b) < n {
		b = make([]T, n)
	} else {
		b = b[:n]
		clear(b)
	}
	(*bufs)[*used] = b
	*used++
	return b
}

// reset takes every buffer back.
func (s *scratch) reset() { s.nf, s.nb = 0, 0 }

// Keypoint is a corner in level-0 pixel coordinates and its descriptor.
type Keypoint struct {
	X, Y float32
	Desc [4]uint64
}

// briefPairs are the 256 point pairs each descriptor bit compares: offsets
// drawn once from an isotropic Gaussian (sigma = patch size / 5, as in the
// BRIEF paper's best pattern) with a fixed seed, clipped to briefRadius.
var briefPairs = func() (p [256][4]int8) {
	r := rand.New(rand.NewPCG(0xb41ef, 0x5eed))
	for i := range p {
		for k := range 4 {
			for {
				v := math.Round(r.NormFloat64() * 31 / 5)
				if math.Abs(v) <= briefRadius {
					p[i][k] = int8(v)
					break
				}
			}
		}
	}
	return p
}()

// fastCircle is the radius-3 Bresenham circle FAST tests, in order.
var fastCircle = [16][2]int{{0, -3}, {1, -3}, {2, -2}, {3, -1}, {3, 0}, {3, 1}, {2, 2}, {1, 3}, {0, 3}, {-1, 3}, {-2, 2}, {-3, 1}, {-3, 0}, {-3, -1}, {-2, -2}, {-1, -3}}

// isCorner is the FAST-9 test: 9 contiguous circle pixels all brighter than
// the centre by more than t, or all darker. circle holds the circle's pixel
// offsets in g.Pix for g's width.
func isCorner(pix []float64, i int, circle *[16]int, t float64) bool {
	v := pix[i]
	hiT, loT := v+t, v-t
	// Nine contiguous pixels of the sixteen cover at least two of the four
	// compass points, which most pixels fail at once.
	nHi, nLo := 0, 0
	for k := 0; k < 16; k += 4 {
		p := pix[i+circle[k]]
		if p > hiT {
			nHi++
		} else if p < loT {
			nLo++
		}
	}
	if nHi < 2 && nLo < 2 {
		return false
	}
	var hi, lo uint32
	for k, o := range circle {
		p := pix[i+o]
		if p > hiT {
			hi |= 1 << k
		} else if p < loT {
			lo |= 1 << k
		}
	}
	return run9(hi) || run9(lo)
}

// run9 reports whether the 16-bit circular mask m has 9 set bits in a row.
func run9(m uint32) bool {
	if bits.OnesCount32(m) < 9 {
		return false
	}
	m |= m << 16 // unroll the circle
	r := m
	for range 8 {
		r &= r >> 1
	}
	return r != 0
}

// harrisMap returns Harris responses (k = 0.04) over 7x7 windows of Sobel
// gradients for every pixel at least harrisHalf+1 from the edge, from
// summed-area tables of the gradient products.
func harrisMap(g *Gray, sc *scratch) []float64 {
	w, h := g.W, g.H
	stride := w + 1
	// Summed-area tables of gx², gy² and gx·gy, built row by row.
	sxx := sc.floats64(stride * (h + 1))
	syy := sc.floats64(stride * (h + 1))
	sxy := sc.floats64(stride * (h + 1))
	pix := g.Pix
	for y := range h {
		var rxx, ryy, rxy float64
		for x := range w {
			if y > 0 && y < h-1 && x > 0 && x < w-1 {
				i := y*w + x
				a, b, c := pix[i-w-1], pix[i-w], pix[i-w+1]
				d, f := pix[i-1], pix[i+1]
				e, m, n := pix[i+w-1], pix[i+w], pix[i+w+1]
				gx := c + 2*f + n - a - 2*d - e
				gy := e + 2*m + n - a - 2*b - c
				rxx += gx * gx
				ryy += gy * gy
				rxy += gx * gy
			}
			o := (y+1)*stride + x + 1
			sxx[o] = sxx[o-stride] + rxx
			syy[o] = syy[o-stride] + ryy
			sxy[o] = sxy[o-stride] + rxy
		}
	}
	out := sc.floats64(w * h)
	const r = harrisHalf
	for y := r + 1; y < h-r-1; y++ {
		o0, o1 := (y-r)*stride, (y+r+1)*stride
		for x := r + 1; x < w-r-1; x++ {
			x0, x1 := x-r, x+r+1
			a := sxx[o1+x1] - sxx[o0+x1] - sxx[o1+x0] + sxx[o0+x0]
			b := syy[o1+x1] - syy[o0+x1] - syy[o1+x0] + syy[o0+x0]
			c := sxy[o1+x1] - sxy[o0+x1] - sxy[o1+x0] + sxy[o0+x0]
			out[y*w+x] = a*b - c*c - 0.04*(a+b)*(a+b)
		}
	}
	return out
}

// blur5 smooths g with the separable binomial kernel [1 4 6 4 1]/16, edges
// clamped: BRIEF compares smoothed pixels so that noise and JPEG blocks do
// not flip its bits. The vertical pass works on whole rows, for the cache.
func blur5(g *Gray, sc *scratch) *Gray {
	w, h := g.W, g.H
	tmp := &Gray{W: w, H: h, Pix: sc.floats64(w * h)}
	for y := range h {
		src, dst := g.Pix[y*w:(y+1)*w], tmp.Pix[y*w:(y+1)*w]
		at := func(i int) float64 { return src[min(max(i, 0), w-1)] }
		for _, i := range [4]int{0, 1, w - 2, w - 1} {
			dst[i] = (at(i-2) + 4*at(i-1) + 6*at(i) + 4*at(i+1) + at(i+2)) / 16
		}
		for i := 2; i < w-2; i++ {
			dst[i] = (src[i-2] + 4*src[i-1] + 6*src[i] + 4*src[i+1] + src[i+2]) / 16
		}
	}
	out := &Gray{W: w, H: h, Pix: sc.floats64(w * h)}
	row := func(y int) []float64 { y = min(max(y, 0), h-1); return tmp.Pix[y*w : (y+1)*w] }
	for y := range h {
		r0, r1, r2, r3, r4 := row(y-2), row(y-1), row(y), row(y+1), row(y+2)
		dst := out.Pix[y*w : (y+1)*w]
		for i := range dst {
			dst[i] = (r0[i] + 4*r1[i] + 6*r2[i] + 4*r3[i] + r4[i]) / 16
		}
	}
	return out
}

// erode shrinks the true region of a w x h mask by r pixels (a square
// structuring element), outside counting as false: rows, then columns.
func erode(m []bool, w, h, r int, sc *scratch) []bool {
	tmp := sc.bools8(w * h)
	erodeLines(tmp, m, h, w, w, 1, r)
	out := sc.bools8(w * h)
	erodeLines(out, tmp, w, h, 1, w, r)
	return out
}

// erodeLines erodes each of count lines of n pixels (line l's pixel k at
// l*lineStep + k*step) from src into dst: a pixel stays true when the 2r+1
// pixels centred on it are all true.
func erodeLines(dst, src []bool, count, n, lineStep, step, r int) {
	for l := range count {
		run := 0 // true pixels in a row ending at k
		for k := range n {
			if src[l*lineStep+k*step] {
				run++
			} else {
				run = 0
			}
			if k-r >= 0 && run >= 2*r+1 {
				dst[l*lineStep+(k-r)*step] = true
			}
		}
	}
}

// Features finds the keypoints of a grayscale photo. valid marks the pixels
// that are photo rather than the black fill of a rotated crop: the fill's
// straight edges make strong corners of their own, shared by unrelated crops,
// so no keypoint is taken near it.
func Features(g *Gray, valid []bool) []Keypoint {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	out := make([]Keypoint, 0, maxKeypoints)
	for level, n := range featuresPerLevel {
		sc.reset()
		s := math.Pow(levelScale, float64(level))
		w, h := int(math.Round(float64(g.W)/s)), int(math.Round(float64(g.H)/s))
		lg, lv := g, valid
		if w != g.W || h != g.H {
			lg = g.Resize(w, h)
			lv = resizeMask(valid, g.W, g.H, w, h)
		}
		lv = erode(lv, w, h, fillMargin, sc)
		type cand struct {
			x, y int
			r    float64
		}
		hr := harrisMap(lg, sc)
		var circle [16]int
		for k, o := range fastCircle {
			circle[k] = o[1]*w + o[0]
		}
		var cs []cand
		for y := featureMargin; y < h-featureMargin; y++ {
			for x := featureMargin; x < w-featureMargin; x++ {
				if i := y*w + x; lv[i] && isCorner(lg.Pix, i, &circle, fastThreshold) {
					cs = append(cs, cand{x, y, hr[i]})
				}
			}
		}
		// Strongest first; position breaks ties so the order is deterministic.
		slices.SortFunc(cs, func(a, b cand) int {
			switch {
			case a.r > b.r:
				return -1
			case a.r < b.r:
				return 1
			}
			return (a.y*w + a.x) - (b.y*w + b.x)
		})
		sm := blur5(lg, sc)
		taken := sc.bools8(w * h)
		kept := 0
		for _, c := range cs {
			if kept == n {
				break
			}
			if taken[c.y*w+c.x] {
				continue
			}
			for dy := -nmsRadius; dy <= nmsRadius; dy++ {
				for dx := -nmsRadius; dx <= nmsRadius; dx++ {
					taken[(c.y+dy)*w+c.x+dx] = true
				}
			}
			k := Keypoint{X: float32((float64(c.x)+0.5)*s - 0.5), Y: float32((float64(c.y)+0.5)*s - 0.5)}
			at := func(dx, dy int8) float64 { return sm.Pix[(c.y+int(dy))*w+c.x+int(dx)] }
			for i, p := range briefPairs {
				if at(p[0], p[1]) < at(p[2], p[3]) {
					k.Desc[i/64] |= 1 << (i % 64)
				}
			}
			out = append(out, k)
			kept++
		}
	}
	return out
}

// resizeMask shrinks a validity mask by area: a pixel is valid only if the
// area it covers is entirely valid.
func resizeMask(valid []bool, W, H, w, h int) []bool {
	m := NewGray(W, H)
	for i, v := range valid {
		if !v {
			m.Pix[i] = 1
		}
	}
	r := m.Resize(w, h)
	out := make([]bool, w*h)
	for i, v := range r.Pix {
		out[i] = v < 1e-9
	}
	return out
}

// Similarity maps level-0 pixel coordinates of one photo onto another:
// (x', y') = (A x - B y + TX, B x + A y + TY), a rotation by atan2(B, A) and
// a scale by hypot(A, B).
type Similarity struct{ A, B, TX, TY float64 }

// Scale and AngleDeg describe the similarity's linear part.
func (s Similarity) Scale() float64    { return math.Hypot(s.A, s.B) }
func (s Similarity) AngleDeg() float64 { return math.Atan2(s.B, s.A) * 180 / math.Pi }

func (s Similarity) apply(x, y float64) (float64, float64) {
	return s.A*x - s.B*y + s.TX, s.B*x + s.A*y + s.TY
}

// Correspondence is the result of matching two photos' keypoints.
type Correspondence struct {
	Matches int        // mutual nearest neighbours passing the ratio test
	Inliers int        // matches the best similarity maps within inlierPx
	Map     Similarity // from the first photo onto the second
}

// MatchFeatures matches a's keypoints to b's (mutual nearest neighbours by
// Hamming distance whose best distance is well below the second best) and
// fits the similarity transform, within the rotations and scales that
// re-alignment produces, that maps the most matches onto each other (RANSAC
// with a fixed seed, so results are reproducible). Mirror images are not
// matched: a dog's face is nearly symmetric, so every photo of a dog matches
// the mirror of every other in the face's features, and mirrored copies are
// rare in practice (and found by their hash when otherwise unedited).
func MatchFeatures(a, b []Keypoint) Correspondence {
	if len(a) == 0 || len(b) == 0 {
		return Correspondence{}
	}
	a, b = a[:min(len(a), maxKeypoints)], b[:min(len(b), maxKeypoints)]
	var rowBest, rowSecond, rowArg [maxKeypoints]int
	var colBest, colArg [maxKeypoints]int
	for i := range a {
		rowBest[i], rowSecond[i] = 1<<30, 1<<30
	}
	for j := range b {
		colBest[j] = 1 << 30
	}
	for i := range a {
		da := &a[i].Desc
		for j := range b {
			db := &b[j].Desc
			d := bits.OnesCount64(da[0]^db[0]) + bits.OnesCount64(da[1]^db[1]) + bits.OnesCount64(da[2]^db[2]) + bits.OnesCount64(da[3]^db[3])
			if d < rowBest[i] {
				rowSecond[i], rowBest[i], rowArg[i] = rowBest[i], d, j
			} else if d < rowSecond[i] {
				rowSecond[i] = d
			}
			if d < colBest[j] {
				colBest[j], colArg[j] = d, i
			}
		}
	}
	type match struct{ ax, ay, bx, by float64 }
	var buf [maxKeypoints]match
	ms := buf[:0]
	for i, j := range rowArg[:len(a)] {
		if rowBest[i] <= maxMatchBits && float64(rowBest[i]) < matchRatio*float64(rowSecond[i]) && colArg[j] == i {
			ms = append(ms, match{float64(a[i].X), float64(a[i].Y), float64(b[j].X), float64(b[j].Y)})
		}
	}
	res := Correspondence{Matches: len(ms)}
	if len(ms) < 2 {
		return res
	}
	r := rand.New(rand.NewPCG(uint64(len(ms)), 0x5a5a))
	for range ransacIters {
		p, q := ms[r.IntN(len(ms))], ms[r.IntN(len(ms))]
		dx, dy := q.ax-p.ax, q.ay-p.ay
		d2 := dx*dx + dy*dy
		if d2 < minPairDistance*minPairDistance {
			continue
		}
		// z = (q_b - p_b) / (q_a - p_a) as complex numbers.
		ex, ey := q.bx-p.bx, q.by-p.by
		s := Similarity{A: (ex*dx + ey*dy) / d2, B: (ey*dx - ex*dy) / d2}
		if sc, ang := s.Scale(), math.Abs(s.AngleDeg()); sc < minAlignScale || sc > maxAlignScale || ang > maxAlignAngle {
			continue
		}
		s.TX = p.bx - (s.A*p.ax - s.B*p.ay)
		s.TY = p.by - (s.B*p.ax + s.A*p.ay)
		in := 0
		for _, c := range ms {
			x, y := s.apply(c.ax, c.ay)
			if (x-c.bx)*(x-c.bx)+(y-c.by)*(y-c.by) <= inlierPx*inlierPx {
				in++
			}
		}
		if in > res.Inliers {
			res.Inliers, res.Map = in, s
		}
	}
	return res
}
