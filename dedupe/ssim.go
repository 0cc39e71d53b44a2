package dedupe

import "fmt"

// SSIM constants of Wang et al. (2004) as scikit-image's structural_similarity
// uses them by default: a 7x7 uniform window, K1 = 0.01, K2 = 0.03, sample
// covariances (normalized by N-1) and, for 8-bit data, a data range of 255.
const (
	SSIMWindow = 7
	ssimK1     = 0.01
	ssimK2     = 0.03
	ssimRange  = 255.0
)

// SSIM is the mean structural similarity of two equal-sized grayscale images,
// as skimage.metrics.structural_similarity(a, b, data_range=255) computes it
// with its defaults: for every 7x7 window lying wholly inside the image
// (scikit-image filters the whole image and then crops a 3-pixel border, which
// keeps exactly these windows),
//
//	S = (2 ux uy + C1)(2 sxy + C2) / ((ux² + uy² + C1)(sx² + sy² + C2))
//
// with C1 = (0.01*255)², C2 = (0.03*255)², window means u and sample
// (co)variances s; the result is the mean of S. It is 1 for identical images
// and can in principle be negative; photos score in [0, 1].
func SSIM(a, b *Gray) (float64, error) {
	if a.W != b.W || a.H != b.H {
		return 0, fmt.Errorf("dedupe: SSIM of a %dx%d and a %dx%d image", a.W, a.H, b.W, b.H)
	}
	if a.W < SSIMWindow || a.H < SSIMWindow {
		return 0, fmt.Errorf("dedupe: SSIM needs images of at least %dx%d, got %dx%d", SSIMWindow, SSIMWindow, a.W, a.H)
	}
	return ssimPrepared(prepare(a), prepare(b)), nil
}

// prepared holds an image with the summed-area tables SSIM needs of it alone,
// so comparing one photo with many costs one product table per pair.
type prepared struct {
	g       *Gray
	sx, sxx []float64 // (W+1)x(H+1) summed-area tables of x and x²
}

func prepare(g *Gray) *prepared {
	p := &prepared{g: g}
	p.sx = integral(g.W, g.H, func(i int) float64 { return g.Pix[i] })
	p.sxx = integral(g.W, g.H, func(i int) float64 { return g.Pix[i] * g.Pix[i] })
	return p
}

// integral builds the summed-area table of f over a w x h grid. With 8-bit
// pixels every entry is an integer below 2^53, so window sums are exact.
func integral(w, h int, f func(i int) float64) []float64 {
	t := make([]float64, (w+1)*(h+1))
	for y := range h {
		var row float64
		for x := range w {
			row += f(y*w + x)
			t[(y+1)*(w+1)+x+1] = t[y*(w+1)+x+1] + row
		}
	}
	return t
}

func ssimPrepared(a, b *prepared) float64 {
	w, h := a.g.W, a.g.H
	sxy := integral(w, h, func(i int) float64 { return a.g.Pix[i] * b.g.Pix[i] })
	const np = SSIMWindow * SSIMWindow
	const covNorm = float64(np) / float64(np-1)
	c1 := (ssimK1 * ssimRange) * (ssimK1 * ssimRange)
	c2 := (ssimK2 * ssimRange) * (ssimK2 * ssimRange)
	stride := w + 1
	box := func(t []float64, x, y int) float64 {
		x1, y1 := x+SSIMWindow, y+SSIMWindow
		return t[y1*stride+x1] - t[y*stride+x1] - t[y1*stride+x] + t[y*stride+x]
	}
	var sum float64
	nx, ny := w-SSIMWindow+1, h-SSIMWindow+1
	for y := range ny {
		for x := range nx {
			ux := box(a.sx, x, y) / np
			uy := box(b.sx, x, y) / np
			vx := covNorm * (box(a.sxx, x, y)/np - ux*ux)
			vy := covNorm * (box(b.sxx, x, y)/np - uy*uy)
			vxy := covNorm * (box(sxy, x, y)/np - ux*uy)
			sum += (2*ux*uy + c1) * (2*vxy + c2) / ((ux*ux + uy*uy + c1) * (vx + vy + c2))
		}
	}
	return sum / float64(nx*ny)
}
