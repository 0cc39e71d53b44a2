package train

import (
	"fmt"
	"math"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
)

// prep is the feature preprocessing a head applies to every row before its
// first layer, fitted on the training rows only and saved in the checkpoint,
// so a loaded head treats new photos exactly as it treated its test photos.
type prep struct {
	Blocks []int `json:"blocks,omitempty"` // lengths of the concatenated backbones' vectors; nil: one block
	L2     bool  `json:"l2,omitempty"`     // scale each block to unit length
	// Weights multiply each block after L2 (Config.BlockWeights); nil: 1 each.
	Weights []float32 `json:"weights,omitempty"`
	Mean    []float32 `json:"mean,omitempty"` // standardisation: (x - Mean) / Std per dimension, after L2
	Std     []float32 `json:"std,omitempty"`
}

// fitPrep fits the preprocessing named by normalize ("", none, l2,
// standardize, l2+standardize) on d's rows; nil means none.
func fitPrep(normalize string, d Data) (*prep, error) {
	p := &prep{Blocks: d.Blocks}
	switch normalize {
	case "", "none":
		return nil, nil
	case "l2", "standardize", "l2+standardize":
		p.L2 = strings.HasPrefix(normalize, "l2")
	default:
		return nil, fmt.Errorf("head: unknown normalize %q", normalize)
	}
	if sum := sumInts(p.Blocks); p.Blocks != nil && sum != d.Dim {
		return nil, fmt.Errorf("head: feature blocks %v add up to %d, not the %d features", p.Blocks, sum, d.Dim)
	}
	if !strings.HasSuffix(normalize, "standardize") {
		return p, nil
	}
	x := p.apply(d.X, d.Dim)
	n := d.Rows()
	mean := make([]float64, d.Dim)
	sq := make([]float64, d.Dim)
	for r := 0; r < n; r++ {
		for j, v := range x[r*d.Dim : (r+1)*d.Dim] {
			mean[j] += float64(v)
			sq[j] += float64(v) * float64(v)
		}
	}
	p.Mean, p.Std = make([]float32, d.Dim), make([]float32, d.Dim)
	for j := range mean {
		m := mean[j] / float64(n)
		sd := math.Sqrt(math.Max(sq[j]/float64(n)-m*m, 0))
		if sd < 1e-6 {
			sd = 1 // a constant dimension carries nothing; leave it centred
		}
		p.Mean[j], p.Std[j] = float32(m), float32(sd)
	}
	return p, nil
}

// apply returns a preprocessed copy of the rows of x, or x itself when p is
// nil (no preprocessing); x is never changed.
func (p *prep) apply(x []float32, dim int) []float32 {
	if p == nil {
		return x
	}
	out := append([]float32(nil), x...)
	blocks := p.Blocks
	if blocks == nil {
		blocks = []int{dim}
	}
	for r := 0; r+dim <= len(out); r += dim {
		row := out[r : r+dim]
		if p.L2 {
			start := 0
			for i, b := range blocks {
				UnitLength(row[start : start+b])
				if p.Weights != nil {
					for j := start; j < start+b; j++ {
						row[j] *= p.Weights[i]
					}
				}
				start += b
			}
		}
		if p.Mean != nil {
			for j := range row {
				row[j] = (row[j] - p.Mean[j]) / p.Std[j]
			}
		}
	}
	return out
}

// graph applies p to x [batch, dim] in a GoMLX graph, as apply does to rows.
func (p *prep) graph(x *Node) *Node {
	if p == nil {
		return x
	}
	if p.L2 {
		blocks := p.Blocks
		if blocks == nil {
			blocks = []int{x.Shape().Dimensions[1]}
		}
		parts := make([]*Node, len(blocks))
		start := 0
		for i, b := range blocks {
			parts[i] = L2Normalize(Slice(x, AxisRange(), AxisRange(start, start+b)), -1)
			if p.Weights != nil {
				parts[i] = MulScalar(parts[i], float64(p.Weights[i]))
			}
			start += b
		}
		x = Concatenate(parts, -1)
	}
	if p.Mean != nil {
		g := x.Graph()
		x = Div(Sub(x, InsertAxes(Const(g, p.Mean), 0)), InsertAxes(Const(g, p.Std), 0))
	}
	return x
}

// UnitLength scales v to unit length in place; a zero vector stays zero, as
// GoMLX's L2Normalize leaves it.
func UnitLength(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

func sumInts(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
