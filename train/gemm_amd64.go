package train

import "golang.org/x/sys/cpu"

// kernelFMA is kernel in AVX2 with fused multiply-adds: twelve 8-wide
// accumulators hold the tile while k runs, each step loading 16 values of B
// and broadcasting 6 of A (gemm_amd64.s).
//
//go:noescape
func kernelFMA(k int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernel = func(k int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int) {
			kernelFMA(k, &a[0], ars, acs, &b[0], ldb, &c[0], ldc)
		}
		kernelName = "avx2-fma"
	}
}

// adamAVX runs adamGo's rule on the first n weights, n a multiple of 8
// (gemm_amd64.s).
//
//go:noescape
func adamAVX(n int, k *adamStep, w, grad, mean, sq *float32)

// adamVector runs adamGo on as many leading weights as the vector unit
// takes, 8 at a time, and says how many.
func adamVector(k *adamStep, w, g, m, v []float32) int {
	n := len(w) &^ 7
	if kernelName != "avx2-fma" || n == 0 {
		return 0
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamAVX(n, k, &w[0], &g[0], &m[0], &v[0])
	return n
}
