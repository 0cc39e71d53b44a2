package train

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system time: on a machine shared with other
// jobs it measures a benchmark's own work better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGemm times the bench head's largest products (batch 32, 512 by
// 512) as the engine lays them out: the forward pass (fwdT, the weights read
// transposed as A), the weight gradient (dW) and the input gradient (dhT);
// fwd is the forward pass with the batch as A, the layout fwdT replaced
// because it was slower here.
func BenchmarkGemm(b *testing.B) {
	for _, sh := range []struct {
		name     string
		m, n, k  int
		ars, acs int
	}{{"fwd32x512x512", 32, 512, 512, 512, 1}, {"dW512x512x32", 512, 512, 32, 1, 512}, {"dhT512x32x512", 512, 32, 512, 512, 1}, {"fwdT512x32x512", 512, 32, 512, 1, 512}} {
		b.Run(sh.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			a, bb := randomFloats(rng, sh.m*sh.k), randomFloats(rng, sh.k*sh.n)
			c := make([]float32, sh.m*sh.n)
			var s gemmScratch
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				gemm(sh.m, sh.n, sh.k, a, sh.ars, sh.acs, bb, sh.n, c, sh.n, &s)
			}
			b.ReportMetric(float64(2*sh.m*sh.n*sh.k)*float64(b.N)/(cpuTime()-start).Seconds()/1e9, "GFLOP/s-cpu")
		})
	}
}
