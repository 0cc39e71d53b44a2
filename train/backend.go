package train

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// NewBackend returns the backend everything trains on. Unset, or "go:opts",
// GOMLX_BACKEND gives GoMLX's pure-Go backend; any other value (such as
// "xla:cpu") names a registered backend, which a build with -tags xla adds for
// users who have XLA. Only graph ops every backend has are used, so the
// choice changes speed, not results beyond float rounding.
func NewBackend() (backends.Backend, error) {
	v := os.Getenv("GOMLX_BACKEND")
	if name, _, _ := strings.Cut(v, ":"); v == "" || name == "go" {
		return simplego.New(backendConfig())
	}
	b, err := backends.NewWithConfig(v)
	if err != nil {
		return nil, fmt.Errorf("GOMLX_BACKEND=%q: %w (this dogrun has the backends %v; build with -tags xla for XLA)", v, err, backends.List())
	}
	return b, nil
}

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

// NewContext is a GoMLX context for a model that trains: seeded with seed (0
// becomes a fixed seed, as GoMLX would read 0 as "pick one at random"),
// Glorot-uniform initialised, and unchecked, since the training step and the
// predictor share its variables.
func NewContext(seed int64) (*mlctx.Context, error) {
	if seed == 0 {
		seed = math.MaxInt32
	}
	ctx := mlctx.New()
	ctx.SetParam(mlctx.ParamInitialSeed, seed)
	if err := ctx.SetRNGStateFromSeed(seed); err != nil {
		return nil, err
	}
	return ctx.WithInitializer(initializers.GlorotUniformFn(ctx)).Checked(false), nil
}
