//go:build !amd64

package train

// adamVector has no vector version here: adamGo does every weight.
func adamVector(*adamStep, []float32, []float32, []float32, []float32) int { return 0 }
