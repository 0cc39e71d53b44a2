package train

import (
	"os"
	"strings"
)

// backendConfig reads GoMLX's GOMLX_BACKEND convention ("go:opt1,opt2") for the
// pure-Go backend. Without it, ops run sequentially: the parallel executor has
// deadlocked on large steps here, and heads are small enough not to need it.
func backendConfig() string {
	v := os.Getenv("GOMLX_BACKEND")
	if name, cfg, ok := strings.Cut(v, ":"); ok && name == "go" {
		return cfg
	}
	return "ops_sequential"
}
