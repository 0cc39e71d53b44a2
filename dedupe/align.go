package dedupe

import (
	"fmt"
	"image"
	"math"
	"sync"

	"github.com/dogrun/dogrun/dataset"
)

// The align method finds near-duplicates as they occur in eye-aligned face
// crops: the same shot or a burst of it, which the dataset's alignment has
// rotated by up to about 15 degrees, rescaled by 0.8 to 1.25 and shifted,
// leaving black fill at the corners. Two photos are near-duplicates when
//   - their plain perceptual hashes are within alignCopyBits (copies, flips,
//     re-encodes and exposure changes), or
//   - at least alignMinInliers local features match under one similarity
//     transform within the rotations and scales re-alignment produces, and
//     the two photos, registered by that transform, correlate at Threshold
//     or more over the pixels both show (black fill excluded).
//
// The features find the transform; the correlation checks that the whole
// photo, background and light included, agrees under it, which the same dog
// photographed on another day does not (its face alone matches many
// features). Calibrated on the labelled pairs in labelled/ (see Calibrate).
const (
	alignCopyBits   = 4
	alignMinInliers = 15
	// AlignThreshold is the default smallest registered correlation.
	AlignThreshold = 0.75
	// alignSide is the side of the grayscale thumbnail the correlation is
	// computed on: fine enough for the layout of background and face, coarse
	// enough that fur and foliage texture and JPEG noise average out.
	alignSide = 32
	// Registration must cover this fraction of the first photo's valid pixels.
	minCoverage = 0.4
)

// alignPhoto is what the align method keeps of a photo.
type alignPhoto struct {
	hash  Hash
	kps   []Keypoint
	thumb *Gray
	valid []bool // of thumb's pixels
	full  int    // side of the photo the keypoints were found on
}

// prepareAlign computes a photo's hash, keypoints and thumbnail.
func prepareAlign(img image.Image) *alignPhoto {
	g, valid := FillMask(img)
	p := &alignPhoto{hash: PHash(g.Resize(2*hashSide, 2*hashSide).Resize(hashSide, hashSide)), full: g.W}
	if g.W != g.H {
		// Features and thumbnails assume square photos (aligned crops are);
		// others are compared by their hash only.
		return p
	}
	p.kps = Features(g, valid)
	p.thumb = g.Resize(alignSide, alignSide)
	p.valid = resizeMask(valid, g.W, g.H, alignSide, alignSide)
	return p
}

// FillMask converts img to gray and marks which pixels are photo: the black
// fill an aligned crop leaves where its rotated window left the original is
// near-black (at most 10 grey levels) and connected to the border.
func FillMask(img image.Image) (*Gray, []bool) {
	g := ToGray(img)
	w, h := g.W, g.H
	valid := make([]bool, w*h)
	for i := range valid {
		valid[i] = true
	}
	var stack []int
	push := func(i int) {
		if valid[i] && g.Pix[i] <= 10 {
			valid[i] = false
			stack = append(stack, i)
		}
	}
	for x := range w {
		push(x)
		push((h-1)*w + x)
	}
	for y := range h {
		push(y * w)
		push(y*w + w - 1)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%w, i/w
		if x > 0 {
			push(i - 1)
		}
		if x < w-1 {
			push(i + 1)
		}
		if y > 0 {
			push(i - w)
		}
		if y < h-1 {
			push(i + w)
		}
	}
	return g, valid
}

// AlignScore is how the align method compares two photos.
type AlignScore struct {
	HashBits    int // flip-invariant distance of the plain hashes
	Matches     int
	Inliers     int
	Correlation float64 // of the registered thumbnails; -1 if not registered
}

// Duplicate applies the align method's rule at a correlation threshold.
func (s AlignScore) Duplicate(threshold float64) bool {
	return s.HashBits <= alignCopyBits || (s.Inliers >= alignMinInliers && s.Correlation >= threshold)
}

// compareAlign scores a pair; the registration is only computed when enough
// features match for it to matter.
func compareAlign(a, b *alignPhoto) AlignScore {
	s := AlignScore{HashBits: Distance(a.hash, b.hash), Correlation: -1}
	if a.thumb == nil || b.thumb == nil {
		return s
	}
	c := MatchFeatures(a.kps, b.kps)
	s.Matches, s.Inliers = c.Matches, c.Inliers
	if c.Inliers >= alignMinInliers {
		s.Correlation = refineCorrelation(a, b, c.Map)
	}
	return s
}

// AlignCompare scores two images with the align method.
func AlignCompare(a, b image.Image) AlignScore {
	return compareAlign(prepareAlign(a), prepareAlign(b))
}

// correlation is the Pearson correlation of a's thumbnail with b's sampled
// at m(a) (m in full-size pixel coordinates), over a's valid pixels whose
// four bilinear neighbours in b are valid; -1 if they cover too little.
func correlation(a, b *alignPhoto, m Similarity) float64 {
	n := alignSide
	k := float64(a.full) / float64(n) // full-size pixels per thumbnail pixel
	kb := float64(b.full) / float64(n)
	var sa, sb, saa, sbb, sab, cnt, total float64
	for j := range n {
		for i := range n {
			if !a.valid[j*n+i] {
				continue
			}
			total++
			x, y := m.apply((float64(i)+0.5)*k-0.5, (float64(j)+0.5)*k-0.5)
			v, ok := sampleValid(b.thumb, b.valid, (x+0.5)/kb-0.5, (y+0.5)/kb-0.5)
			if !ok {
				continue
			}
			u := a.thumb.Pix[j*n+i]
			sa += u
			sb += v
			saa += u * u
			sbb += v * v
			sab += u * v
			cnt++
		}
	}
	if cnt < minCoverage*total || cnt < 20 {
		return -1
	}
	va, vb := saa/cnt-sa*sa/cnt/cnt, sbb/cnt-sb*sb/cnt/cnt
	if va <= 0 || vb <= 0 {
		return -1 // a flat patch correlates with nothing
	}
	return (sab/cnt - sa*sb/cnt/cnt) / math.Sqrt(va*vb)
}

// sampleValid samples g bilinearly at (x, y) if the four pixels around it
// are inside and valid.
func sampleValid(g *Gray, valid []bool, x, y float64) (float64, bool) {
	if !(x >= 0 && y >= 0 && x <= float64(g.W-1) && y <= float64(g.H-1)) {
		return 0, false
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, g.W-1), min(y0+1, g.H-1)
	if !valid[y0*g.W+x0] || !valid[y0*g.W+x1] || !valid[y1*g.W+x0] || !valid[y1*g.W+x1] {
		return 0, false
	}
	fx, fy := x-float64(x0), y-float64(y0)
	top := g.Pix[y0*g.W+x0] + (g.Pix[y0*g.W+x1]-g.Pix[y0*g.W+x0])*fx
	bot := g.Pix[y1*g.W+x0] + (g.Pix[y1*g.W+x1]-g.Pix[y1*g.W+x0])*fx
	return top + (bot-top)*fy, true
}

// refineCorrelation improves the feature transform by a coordinate search
// (rotation, scale and shift about b's centre, each in two step sizes) and
// returns the best correlation: keypoints localise to a pixel or two, which
// at 32x32 is already a visible misregistration.
func refineCorrelation(a, b *alignPhoto, m Similarity) float64 {
	best := correlation(a, b, m)
	c := float64(b.full)/2 - 0.5
	for _, step := range []float64{1, 0.5} {
		for range 10 {
			improved := false
			for _, d := range [8][4]float64{{step, 0, 0, 0}, {-step, 0, 0, 0}, {0, 0.02 * step, 0, 0}, {0, -0.02 * step, 0, 0}, {0, 0, 2 * step, 0}, {0, 0, -2 * step, 0}, {0, 0, 0, 2 * step}, {0, 0, 0, -2 * step}} {
				t := compose(m, d[0], 1+d[1], d[2], d[3], c)
				if v := correlation(a, b, t); v > best+1e-9 {
					best, m, improved = v, t, true
				}
			}
			if !improved {
				break
			}
		}
	}
	return best
}

// compose follows m by a rotation of angleDeg and a scale about (c, c) and a
// shift of (dx, dy).
func compose(m Similarity, angleDeg, scale, dx, dy, c float64) Similarity {
	sin, cos := math.Sincos(angleDeg * math.Pi / 180)
	ra, rb := scale*cos, scale*sin
	return Similarity{
		A:  ra*m.A - rb*m.B,
		B:  rb*m.A + ra*m.B,
		TX: ra*(m.TX-c) - rb*(m.TY-c) + c + dx,
		TY: rb*(m.TX-c) + ra*(m.TY-c) + c + dy,
	}
}

// findAlign compares every pair within a class with the align method, class
// by class on GOMAXPROCS goroutines (so only one class's features are held
// per goroutine), and every pair across classes by plain hash.
func findAlign(d *dataset.Dataset, byClass [][]int, opt Options) (within, cross []Match, err error) {
	if !(opt.Threshold > 0 && opt.Threshold <= 1) {
		return nil, nil, fmt.Errorf("dedupe: the align method's threshold is a correlation in (0, 1], got %g", opt.Threshold)
	}
	hashes := make([]Hash, len(d.Photos))
	perClass := make([][]Match, len(byClass))
	var progress func(int)
	if opt.Progress != nil {
		done := 0
		progress = func(n int) {
			done += n
			opt.Progress(done, len(d.Photos))
		}
	}
	var mu sync.Mutex
	err = forEach(len(byClass), nil, func(c int) error {
		idx := byClass[c]
		ps := make([]*alignPhoto, len(idx))
		for k, i := range idx {
			img, err := dataset.Decode(d.Photos[i].Path)
			if err != nil {
				return err
			}
			ps[k] = prepareAlign(img)
			hashes[i] = ps[k].hash
		}
		for x := range ps {
			for y := x + 1; y < len(ps); y++ {
				if s := compareAlign(ps[x], ps[y]); s.Duplicate(opt.Threshold) {
					score := s.Correlation
					if s.Correlation < opt.Threshold {
						score = 1 // a copy found by its hash alone
					}
					perClass[c] = append(perClass[c], Match{A: idx[x], B: idx[y], Score: score})
				}
			}
		}
		if progress != nil {
			mu.Lock()
			progress(len(idx))
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, ms := range perClass {
		within = append(within, ms...)
	}
	sortMatches(within)
	return within, crossClassByHash(d, hashes), nil
}
