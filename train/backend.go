package train

import (
	"os"
	"strings"
)

// backendConfig reads GoMLX's GOMLX_BACKEND convention ("go:opt1,opt2") for the
// pure-Go backend. Without it, ops run sequentially (the parallel executor has
// deadlocked on large steps here, and heads are small enough not to need it) and
// matmuls use the blocked kernel, about 25% faster on a quickstart head than the
// size-based choice (BenchmarkFitEpoch).
func backendConfig() string {
	v := os.Getenv("GOMLX_BACKEND")
	if name, cfg, ok := strings.Cut(v, ":"); ok && name == "go" {
		return cfg
	}
	return "ops_sequential,dotgeneral_large"
}
