//go:build xla

package train

// Registers GoMLX's XLA backend for GOMLX_BACKEND=xla:cpu (or another PJRT
// plugin); XLA itself is not obtainable on the machines dogrun is built on.
import _ "github.com/gomlx/gomlx/backends/xla"
