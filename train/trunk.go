package train

import (
	"fmt"
	"math"
	"slices"

	"github.com/dogrun/dogrun/trunk"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
)

// buildTrunk applies the trunk t to x [batch, InputLen] under ctx's scope "trunk".
// Variables start from Init, or zeros when loading a checkpoint; they take
// x's dtype, so tests can check gradients in float64.
func buildTrunk(ctx *mlctx.Context, t *trunk.Spec, x *Node) *Node {
	shapes, err := t.Shapes()
	if err != nil {
		panic(err)
	}
	ctx = ctx.In("trunk")
	g := x.Graph()
	batch := x.Shape().Dimensions[0]
	variable := func(layer, name string, dims ...int) *Node {
		data := t.Init[layer+"/"+name]
		if data == nil {
			data = make([]float32, trunk.Product(dims))
		}
		if len(data) != trunk.Product(dims) {
			panic(fmt.Sprintf("trunk layer %s: %s has %d values, want %v", layer, name, len(data), dims))
		}
		value := tensors.FromFlatDataAndDimensions(slices.Clone(data), dims...)
		if x.DType() == dtypes.Float64 {
			wide := make([]float64, len(data))
			for i, f := range data {
				wide[i] = float64(f)
			}
			value = tensors.FromFlatDataAndDimensions(wide, dims...)
		}
		return ctx.In(layer).VariableWithValue(name, value).ValueGraph(g)
	}
	cur := Reshape(x, append([]int{batch}, t.Input...)...)
	values := map[string]*Node{"": cur}
	for i, l := range t.Layers {
		if len(l.Inputs) > 0 {
			cur = values[l.Inputs[0]]
		}
		out := shapes[i]
		switch l.Op {
		case "conv1x1", "dense":
			k := cur.Shape().Dimensions[cur.Rank()-1]
			rows := trunk.Product(cur.Shape().Dimensions) / k
			y := FastMatMul(Reshape(cur, rows, k), variable(l.Name, "kernel", k, l.Units))
			if l.Bias {
				y = Add(y, ExpandLeftToRank(variable(l.Name, "bias", l.Units), 2))
			}
			cur = Reshape(y, append([]int{batch}, out...)...)
		case "affine":
			c := out[len(out)-1]
			scale := ExpandLeftToRank(variable(l.Name, "scale", c), cur.Rank())
			shift := ExpandLeftToRank(variable(l.Name, "shift", c), cur.Rank())
			cur = Add(Mul(cur, scale), shift)
		case "clip":
			cur = MaxScalar(cur, l.Min)
			if l.Max != nil && !math.IsInf(*l.Max, 1) {
				cur = MinScalar(cur, *l.Max)
			}
		case "mean_hw":
			cur = Reshape(ReduceMean(cur, 1, 2), append([]int{batch}, out...)...)
		case "flatten":
			cur = Reshape(cur, batch, out[0])
		case "add":
			for _, name := range l.Inputs[1:] {
				cur = Add(cur, values[name])
			}
		case "dropout":
			cur = layers.DropoutStatic(ctx, cur, l.Rate)
		}
		values[l.Name] = cur
	}
	return cur
}

// TrunkForward runs the trunk t with its Init weights on rows examples laid out back
// to back in x, on the heads' backend, and returns their outputs back to back:
// what tests compare with ONNX Runtime's run of the whole backbone.
func TrunkForward(t *trunk.Spec, x []float32, rows int) ([]float32, error) {
	b, err := NewBackend()
	if err != nil {
		return nil, err
	}
	exec, err := mlctx.NewExec(b, mlctx.New().Checked(false), func(ctx *mlctx.Context, x *Node) *Node { return buildTrunk(ctx, t, x) })
	if err != nil {
		return nil, err
	}
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, rows, t.InputLen()))
	if err != nil {
		return nil, err
	}
	return tensors.CopyFlatData[float32](res[0])
}
