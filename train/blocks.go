package train

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// The heads' building blocks, for dogrun's other GoMLX models (the
// metric-learned adapter), so they train with the same fast matmul gradient on
// the same backend settings.

// Dense is a dense layer x·W + b with Glorot-uniform W, zero b and FastMatMul's gradients.
func Dense(ctx *mlctx.Context, x *Node, units int) *Node { return dense(ctx, x, units) }

// FastMatMul multiplies x [batch, in] by w [in, out] with the two textbook gradient
// matmuls instead of GoMLX's broadcast product (see matMul).
func FastMatMul(x, w *Node) *Node { return matMul(x, w) }
