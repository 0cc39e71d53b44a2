package train

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	"github.com/gomlx/gomlx/pkg/core/shapes"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// cosineScale is the cosine head's starting scale. Cosines lie in [-1, 1], so
// without a scale the softmax could never be confident; 10 lets a logit gap of
// up to 20 start with. It is learned in log space: Adam moves a parameter by
// about lr per step whatever its size, so in log space the scale can change by
// a factor, not by a few hundredths, within a short fit.
const cosineScale = 10

// cosine is the cosine-softmax output layer: s·cos(x, w_c) for each class c,
// with x and every class's weight column scaled to unit length and a learned
// scale s. There is no bias: a class is a direction.
func cosine(ctx *mlctx.Context, x *Node, classes int) *Node {
	g := x.Graph()
	in := x.Shape().Dimensions[x.Rank()-1]
	w := ctx.VariableWithShape("weights", shapes.Make(x.DType(), in, classes)).ValueGraph(g)
	logScale := ctx.VariableWithValue("log_scale", float32(math.Log(cosineScale))).ValueGraph(g)
	cos := FastMatMul(L2Normalize(x, x.Rank()-1), L2Normalize(w, 0))
	return Mul(cos, Exp(logScale))
}
