package train

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// Dense is x·W + b with Glorot-uniform W and zero b, as Keras' Dense starts,
// with FastMatMul's gradients.
func Dense(ctx *mlctx.Context, x *Node, units int) *Node {
	g := x.Graph()
	in := x.Shape().Dimensions[x.Rank()-1]
	w := ctx.VariableWithShape("weights", shapes.Make(x.DType(), in, units)).ValueGraph(g)
	b := ctx.VariableWithValue("biases", tensors.FromShape(shapes.Make(x.DType(), units))).ValueGraph(g)
	return Add(FastMatMul(x, w), InsertAxes(b, 0))
}

// FastMatMul multiplies x [batch, in] by w [in, out] with the textbook gradients
// dx = v·wᵀ and dw = xᵀ·v. GoMLX v0.26 derives DotGeneral's gradient by
// broadcasting to a [batch, out, in] product and reducing it, which made 90% of a
// head's training time on the pure-Go backend; two plain matmuls are far cheaper.
//
// GoMLX offers custom gradients only for single-input identities, so the two
// operands pass through such identities whose gradient functions use the output's
// adjoint, caught by a third identity on the product. The reverse pass visits
// nodes from the newest to the oldest, so the adjoint is caught before it is used.
// A zero-valued term ties the operand identities to the output: without it the
// reverse pass, which cannot see through the stop-gradients, would skip them.
func FastMatMul(x, w *Node) *Node {
	var adjoint *Node
	xs, ws := StopGradient(x), StopGradient(w)
	// DotGeneral contracts the right axes directly: the pure-Go kernel re-lays
	// both operands out in blocks anyway, so an explicit Transpose is a wasted copy.
	xID := IdentityWithCustomGradient(x, func(_, _ *Node) *Node {
		return DotGeneral(adjoint, []int{1}, nil, ws, []int{1}, nil)
	})
	wID := IdentityWithCustomGradient(w, func(_, _ *Node) *Node {
		return DotGeneral(xs, []int{0}, nil, adjoint, []int{0}, nil)
	})
	product := Dot(StopGradient(xID), StopGradient(wID))
	product = IdentityWithCustomGradient(product, func(_, v *Node) *Node {
		adjoint = v
		return v
	})
	tie := MulScalar(Add(ReduceAllSum(xID), ReduceAllSum(wID)), 0)
	return Add(product, tie)
}
