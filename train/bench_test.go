package train

import (
	"context"
	"testing"
)

// BenchmarkFitEpoch measures epochs of the bench's head (cmd/bench): 512-d
// features, hidden [512 256 128], 40 classes, 897 training and 130
// validation rows, batch 32. cpu-ms/epoch is the process's CPU time, steadier
// than the wall clock on a shared machine.
func BenchmarkFitEpoch(b *testing.B) {
	trainSet, valSet := blobs(1, 40, 23, 512, 1), blobs(2, 40, 4, 512, 1)
	trainSet.X, trainSet.Y = trainSet.X[:897*512], trainSet.Y[:897]
	valSet.X, valSet.Y = valSet.X[:130*512], valSet.Y[:130]
	cfg := testConfig()
	cfg.Hidden = []int{512, 256, 128}
	cfg.BatchSize, cfg.Epochs, cfg.Patience, cfg.LR = 32, 5, 0, 0.001
	start := cpuTime()
	for b.Loop() {
		if _, _, err := Fit(context.Background(), cfg, trainSet, valSet, 40, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N*cfg.Epochs), "cpu-ms/epoch")
}
