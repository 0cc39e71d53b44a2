package train

// The matrix product behind the native heads. One micro-kernel computes a
// 6x16 tile of C = A·B by running, for each of its elements, one fused
// multiply-add chain over k in order 0..k-1, starting from zero. Edge tiles
// go through zero-padded copies into the same kernel, so an element's value
// depends only on its row of A and column of B, never on where it falls in
// the tiling: the property that makes a trial's result the same whatever
// else runs beside it. A is read through two strides, so Aᵀ costs no copy.

const (
	tileRows = 6
	tileCols = 16
)

// kernel sets the tileRows x tileCols tile at c (row stride ldc) to the
// product of A's rows at a (element (i, p) at a[i*ars+p*acs]) and the 16
// columns of B at b (row stride ldb), over k. The slices start at the tile's
// first element; callers guarantee they are long enough. kernelName says
// which one this machine runs (the bench prints it).
var kernel, kernelName = kernelGo, "go"

// Engine names what trains heads without a trunk here, for reports.
func Engine() string { return "native (" + kernelName + " kernel, one thread per head)" }

// gemmScratch holds the padded copies for edge tiles; one per goroutine.
type gemmScratch struct {
	a, b []float32
	c    [tileRows * tileCols]float32
}

func (s *gemmScratch) grow(k int) {
	if len(s.a) < k*tileRows {
		s.a = make([]float32, k*tileRows)
		s.b = make([]float32, k*tileCols)
	}
}

// gemm sets C (m x n, row stride ldc) to A·B, A being m x k with element
// (i, p) at a[i*ars+p*acs] and B k x n with row stride ldb.
func gemm(m, n, k int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int, s *gemmScratch) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || (m-1)*ars+(k-1)*acs >= len(a) || (k-1)*ldb+n > len(b) || (m-1)*ldc+n > len(c) {
		panic("train: gemm operands out of range")
	}
	s.grow(k)
	fullM, fullN := m-m%tileRows, n-n%tileCols
	// Leftover rows of A, packed once for every column panel: (i, p) at p*tileRows+i.
	if fullM < m {
		clear(s.a[:k*tileRows])
		for i := fullM; i < m; i++ {
			for p := 0; p < k; p++ {
				s.a[p*tileRows+i-fullM] = a[i*ars+p*acs]
			}
		}
	}
	for j := 0; j < n; j += tileCols {
		// The panel is copied contiguous: B's rows are often 2 KiB apart, and
		// rows that far apart share an L1 cache set, so read in place a panel
		// of a few hundred rows would not stay in L1 across the row tiles.
		cols := min(tileCols, n-j)
		if cols < tileCols {
			clear(s.b[:k*tileCols])
			for p := 0; p < k; p++ {
				copy(s.b[p*tileCols:p*tileCols+cols], b[p*ldb+j:p*ldb+j+cols])
			}
		} else {
			for p := 0; p < k; p++ {
				*(*[tileCols]float32)(s.b[p*tileCols:]) = *(*[tileCols]float32)(b[p*ldb+j:])
			}
		}
		for i := 0; i < m; i += tileRows {
			ap, arsp, acsp := a[i*ars:], ars, acs
			if i >= fullM {
				ap, arsp, acsp = s.a, 1, tileRows
			}
			if i < fullM && j < fullN {
				kernel(k, ap, arsp, acsp, s.b, tileCols, c[i*ldc+j:], ldc)
				continue
			}
			kernel(k, ap, arsp, acsp, s.b, tileCols, s.c[:], tileCols)
			for r := 0; r < min(tileRows, m-i); r++ {
				copy(c[(i+r)*ldc+j:(i+r)*ldc+j+cols], s.c[r*tileCols:r*tileCols+cols])
			}
		}
	}
}

// kernelGo is the portable kernel. Go does not fuse a*b+c on amd64, so its
// sums round differently from the FMA kernel's; each is deterministic.
func kernelGo(k int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int) {
	var acc [tileRows][tileCols]float32
	for p := 0; p < k; p++ {
		row := b[p*ldb : p*ldb+tileCols]
		for i := range tileRows {
			x := a[i*ars+p*acs]
			for j, y := range row {
				acc[i][j] += x * y
			}
		}
	}
	for i := range tileRows {
		copy(c[i*ldc:i*ldc+tileCols], acc[i][:])
	}
}

// transpose sets dst (cols x rows) to the transpose of src (rows x cols).
func transpose(dst, src []float32, rows, cols int) {
	for i := 0; i < rows; i++ {
		for j, v := range src[i*cols : (i+1)*cols] {
			dst[j*rows+i] = v
		}
	}
}
