package train

import (
	"context"
	"testing"
)

// BenchmarkFitEpoch measures one epoch of a quickstart-sized head: 512-d features,
// 20 classes, 480 rows, hidden [256], batch 32.
func BenchmarkFitEpoch(b *testing.B) {
	trainSet, valSet := blobs(1, 20, 24, 512, 1), blobs(2, 20, 3, 512, 1)
	cfg := testConfig()
	cfg.Hidden = []int{256}
	cfg.BatchSize = 32
	cfg.Epochs = 1
	cfg.Patience = 0
	for i := 0; i < b.N; i++ {
		if _, _, err := Fit(context.Background(), cfg, trainSet, valSet, 20, nil); err != nil {
			b.Fatal(err)
		}
	}
}
