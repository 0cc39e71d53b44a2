package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomFloats(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// fmaChain is what the kernel promises for one element: fused multiply-adds
// over p in order from zero. A float32 FMA is emulated in float64, where the
// product of two float32 is exact.
func fmaChain(k int, at func(p int) (float32, float32)) float32 {
	var acc float32
	for p := 0; p < k; p++ {
		x, y := at(p)
		acc = float32(math.FMA(float64(x), float64(y), float64(acc)))
	}
	return acc
}

// TestGemmIsOneChainPerElement checks every element of C = A·B, with A read
// straight and transposed, in shapes that leave edge tiles on both sides:
// with the FMA kernel each element must be exactly its own fused chain (so no
// tiling, padding or neighbour changes it), and the portable kernel must agree
// with float64 sums within float32 rounding.
func TestGemmIsOneChainPerElement(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s gemmScratch
	for _, sh := range [][3]int{{1, 1, 1}, {6, 16, 3}, {7, 17, 5}, {32, 40, 512}, {13, 165, 128}, {512, 35, 32}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, b := randomFloats(rng, m*k), randomFloats(rng, k*n)
		at := transposed(a, m, k)
		for _, name := range []string{"fma", "go"} {
			kern := kernel
			if name == "go" {
				kernel = kernelGo
			} else if kernelName != "avx2-fma" {
				continue // this machine runs the portable kernel only
			}
			c := make([]float32, m*n)
			ct := make([]float32, m*n)
			gemm(m, n, k, a, k, 1, b, n, c, n, &s)
			gemm(m, n, k, at, 1, m, b, n, ct, n, &s) // Aᵀ stored, read transposed
			kernel = kern
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					pair := func(p int) (float32, float32) { return a[i*k+p], b[p*n+j] }
					got, gotT := c[i*n+j], ct[i*n+j]
					if name == "fma" {
						if want := fmaChain(k, pair); got != want || gotT != want {
							t.Fatalf("%v fma: C[%d,%d] = %g (transposed read %g), fused chain gives %g", sh, i, j, got, gotT, want)
						}
						continue
					}
					var want, scale float64
					for p := 0; p < k; p++ {
						x, y := pair(p)
						want += float64(x) * float64(y)
						scale += math.Abs(float64(x) * float64(y))
					}
					if math.Abs(float64(got)-want) > 1e-6*scale*float64(k) || got != gotT {
						t.Fatalf("%v go: C[%d,%d] = %g (transposed read %g), float64 sum %g", sh, i, j, got, gotT, want)
					}
				}
			}
		}
	}
}

func transposed(x []float32, rows, cols int) []float32 {
	out := make([]float32, len(x))
	transpose(out, x, rows, cols)
	return out
}
