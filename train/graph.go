package train

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// NewExec compiles fn on the head's backend and weights. fn gets the head's
// logits function (features [batch, Dim] to logits [batch, Classes], dropout
// off), so callers can put backbone layers before the head and differentiate
// through it, as Grad-CAM does, without a copy of its layers.
func (h *Head) NewExec(fn func(logits func(*Node) *Node, inputs []*Node) []*Node) (*mlctx.Exec, error) {
	return mlctx.NewExec(h.backend, h.ctx, func(ctx *mlctx.Context, inputs []*Node) []*Node {
		return fn(func(x *Node) *Node { return h.logits(ctx, x) }, inputs)
	})
}
