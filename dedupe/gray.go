// Package dedupe finds near-duplicate photos: identical files, burst shots,
// re-crops, re-alignments, flips, re-encodes and brightness changes of one
// shot. Near-duplicate groups are the unit of an honest train/test split (see
// dataset.GroupedSplit).
//
// Three methods:
//   - MethodAlign (the default): local features matched under one rotation,
//     scale and shift, and the photos registered by it and correlated (see
//     align.go). It finds burst shots that the dataset's eye alignment has
//     turned and rescaled. Calibrated on pairs of real photos labelled by eye
//     (labelled/) and on edited copies (see Calibrate and docs/dedupe.md).
//   - MethodPHash: a 64-bit DCT perceptual hash searched over re-crops and
//     compared flip-invariantly by Hamming distance; what experiments'
//     split.group uses. It misses re-alignments.
//   - MethodSSIM: the seed's ssim.py criterion (grayscale, 7x7 windows, as
//     scikit-image's structural_similarity), kept for parity. It misses shifted
//     re-crops and bursts.
package dedupe

import (
	"image"
	"math"
	"sync"
)

// Gray is a grayscale image with float64 pixels in [0, 255].
type Gray struct {
	W, H int
	Pix  []float64 // row-major, len W*H
}

// NewGray returns a black w x h image.
func NewGray(w, h int) *Gray { return &Gray{W: w, H: h, Pix: make([]float64, w*h)} }

// At returns the pixel at column x, row y.
func (g *Gray) At(x, y int) float64 { return g.Pix[y*g.W+x] }

// ToGray converts to 8-bit luma with the ITU-R 601-2 weights that PIL's
// convert("L") and OpenCV use (L = 0.299R + 0.587G + 0.114B, rounded), the
// conversion a Python ssim.py gets from either library.
func ToGray(img image.Image) *Gray {
	b := img.Bounds()
	g := NewGray(b.Dx(), b.Dy())
	if m, ok := img.(*image.RGBA); ok {
		for y := range g.H {
			row := m.Pix[(y+b.Min.Y-m.Rect.Min.Y)*m.Stride+(b.Min.X-m.Rect.Min.X)*4:]
			for x := range g.W {
				p := row[4*x : 4*x+3 : 4*x+3]
				g.Pix[y*g.W+x] = luma(uint32(p[0]), uint32(p[1]), uint32(p[2]))
			}
		}
		return g
	}
	for y := range g.H {
		for x := range g.W {
			r, gg, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			g.Pix[y*g.W+x] = luma(r>>8, gg>>8, bb>>8)
		}
	}
	return g
}

// luma rounds like PIL: (R*299 + G*587 + B*114 + 500) / 1000.
func luma(r, g, b uint32) float64 {
	return float64((r*299 + g*587 + b*114 + 500) / 1000)
}

// Resize scales g to w x h by area averaging: each output pixel is the mean
// of the input area it covers, weighted by overlap. Unlike point sampling it
// does not alias when shrinking 224 -> 32, so hashes do not hinge on which
// pixels a sampler happened to hit.
func (g *Gray) Resize(w, h int) *Gray {
	out := NewGray(w, h)
	xw := areaWeights(g.W, w)
	yw := areaWeights(g.H, h)
	tmp := make([]float64, g.H*w) // horizontal pass
	for y := range g.H {
		row := g.Pix[y*g.W : (y+1)*g.W]
		for x, ws := range xw {
			var s float64
			for _, c := range ws {
				s += c.w * row[c.i]
			}
			tmp[y*w+x] = s
		}
	}
	for y, ws := range yw {
		for x := range w {
			var s float64
			for _, c := range ws {
				s += c.w * tmp[c.i*w+x]
			}
			out.Pix[y*w+x] = s
		}
	}
	return out
}

type tap struct {
	i int
	w float64
}

// areaWeightsCache keeps areaWeights per (n, m): the align method resizes
// every photo between the same few sizes.
var areaWeightsCache sync.Map // [2]int -> [][]tap

// areaWeights lists, for each of m output cells, the input cells of an n-long
// axis it overlaps and their normalized overlap. The result is shared: do not
// modify it.
func areaWeights(n, m int) [][]tap {
	if w, ok := areaWeightsCache.Load([2]int{n, m}); ok {
		return w.([][]tap)
	}
	w := computeAreaWeights(n, m)
	areaWeightsCache.Store([2]int{n, m}, w)
	return w
}

func computeAreaWeights(n, m int) [][]tap {
	out := make([][]tap, m)
	scale := float64(n) / float64(m)
	for j := range m {
		lo, hi := float64(j)*scale, float64(j+1)*scale
		for i := int(math.Floor(lo)); i < n && float64(i) < hi; i++ {
			ov := math.Min(hi, float64(i+1)) - math.Max(lo, float64(i))
			if ov > 1e-12 {
				out[j] = append(out[j], tap{i, ov / scale})
			}
		}
	}
	return out
}

// FlipH mirrors g left-right.
func (g *Gray) FlipH() *Gray {
	out := NewGray(g.W, g.H)
	for y := range g.H {
		for x := range g.W {
			out.Pix[y*g.W+x] = g.Pix[y*g.W+g.W-1-x]
		}
	}
	return out
}
