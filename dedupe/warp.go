package dedupe

// warp resamples g into a size x size image of the view that zooms by zoom
// about the centre, then moves the content by (dx, dy) fractions of the side:
// the inverse of a re-crop. Samples are bilinear; points outside g take the
// nearest edge pixel, as dataset.Render fills. Without rotation the source
// column depends only on the output column (and the row only on the row), so
// both are worked out once.
func (g *Gray) warp(size int, zoom, dx, dy float64) *Gray {
	out := NewGray(size, size)
	xs := axisTaps(size, g.W, zoom, dx)
	ys := axisTaps(size, g.H, zoom, dy)
	for j, ty := range ys {
		r0, r1 := g.Pix[ty.i0*g.W:(ty.i0+1)*g.W], g.Pix[ty.i1*g.W:(ty.i1+1)*g.W]
		o := out.Pix[j*size : (j+1)*size]
		for i, tx := range xs {
			top := r0[tx.i0] + (r0[tx.i1]-r0[tx.i0])*tx.f
			bot := r1[tx.i0] + (r1[tx.i1]-r1[tx.i0])*tx.f
			o[i] = top + (bot-top)*ty.f
		}
	}
	return out
}

type lerpTap struct {
	i0, i1 int
	f      float64
}

// axisTaps maps each of size output pixels along one axis to the two source
// pixels (of n) it blends and the weight of the second.
func axisTaps(size, n int, zoom, shift float64) []lerpTap {
	taps := make([]lerpTap, size)
	s := float64(size)
	scale := float64(n) / s
	for k := range taps {
		u := (float64(k)+0.5-s/2-shift*s)/zoom + s/2
		x := u*scale - 0.5
		if !(x > 0) {
			x = 0
		} else if x > float64(n-1) {
			x = float64(n - 1)
		}
		i0 := int(x)
		taps[k] = lerpTap{i0: i0, i1: min(i0+1, n-1), f: x - float64(i0)}
	}
	return taps
}
