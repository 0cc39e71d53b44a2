package backbone

import (
	"fmt"
	"strconv"

	"github.com/dogrun/dogrun/convert/onnx"
)

// Ways an inner map (Cut.Map) becomes a vector, each channel on its own.
const (
	// PoolAvg is the mean over the map's positions.
	PoolAvg = "avg"
	// PoolGeM is the generalized mean (mean of x^p)^(1/p) over positions,
	// x clamped at gemEps first: p = 1 is the mean, and larger p moves it
	// toward the maximum, so a channel that fires strongly in a few places
	// (an ear, an eye) is not averaged away. Radenović et al. use p = 3.
	PoolGeM = "gem"
	// DefaultGeMP is the GeM exponent when none is given.
	DefaultGeMP = 3
	gemEps      = 1e-6
)

// Pooled is the cut as features: a map cut pooled by pool (PoolAvg, or
// PoolGeM with exponent p; "" means PoolAvg), named after the map and its
// pooling so that each pooling of each depth has its own cache. A vector
// cut is returned as it is: pooling applies to maps only.
func (c Cut) Pooled(pool string, p float64) (Cut, error) {
	if !c.Map {
		return c, nil
	}
	switch pool {
	case "", PoolAvg:
		c.Pool, c.P = PoolAvg, 0
	case PoolGeM:
		if p == 0 {
			p = DefaultGeMP
		}
		if !(p >= 1 && p <= 16) {
			return Cut{}, fmt.Errorf("GeM exponent %g is out of range [1, 16]", p)
		}
		c.Pool, c.P = PoolGeM, p
	default:
		return Cut{}, fmt.Errorf("unknown pooling %q (avg or gem)", pool)
	}
	c.Name += "." + c.poolTag()
	return c, nil
}

// poolTag names the pooling: avg, or gem and its exponent (gem3).
func (c Cut) poolTag() string {
	if c.Pool == PoolGeM {
		return PoolGeM + strconv.FormatFloat(c.P, 'g', -1, 64)
	}
	return c.Pool
}

// sessionOutput is the graph output holding the cut's vectors: the cut's
// own output, or for a pooled map the output withPooling adds.
func (c Cut) sessionOutput() string {
	if c.Pool == "" {
		return c.Output
	}
	return "dogrun/" + c.poolTag() + "/" + c.Output
}

// withPooling returns model with, for each pooled map cut, nodes that pool
// the map [batch, Dim, H, W] to [batch, Dim] as the graph output
// sessionOutput names. ONNX Runtime computes the map once however many
// poolings read it.
func withPooling(model []byte, cuts []Cut) ([]byte, error) {
	var (
		nodes   []onnx.Node
		inits   []onnx.Tensor
		outputs []onnx.Value
		have    = map[string]bool{}
	)
	constant := func(name string, v float32) string {
		if !have[name] {
			have[name] = true
			inits = append(inits, onnx.Tensor{Name: name, Float: []float32{v}})
		}
		return name
	}
	for _, c := range cuts {
		out := c.sessionOutput()
		if c.Pool == "" || have[out] {
			continue
		}
		if !c.Map {
			return nil, fmt.Errorf("cut %s: only a map cut is pooled", c.Name)
		}
		have[out] = true
		node := func(op string, in []string, attrs ...onnx.Attr) string {
			name := fmt.Sprintf("%s/%d-%s", out, len(nodes), op)
			nodes = append(nodes, onnx.Node{Op: op, Name: name, Inputs: in, Outputs: []string{name}, Attrs: attrs})
			return name
		}
		x := c.Output
		if c.Pool == PoolGeM {
			tag := "dogrun/" + c.poolTag()
			x = node("Max", []string{x, constant("dogrun/gem_eps", gemEps)})
			x = node("Pow", []string{x, constant(tag+"/p", float32(c.P))})
		}
		x = node("GlobalAveragePool", []string{x})
		if c.Pool == PoolGeM {
			x = node("Pow", []string{x, constant("dogrun/"+c.poolTag()+"/1_over_p", float32(1/c.P))})
		}
		nodes = append(nodes, onnx.Node{Op: "Flatten", Name: out + "/flatten", Inputs: []string{x}, Outputs: []string{out}, Attrs: []onnx.Attr{onnx.Int("axis", 1)}})
		outputs = append(outputs, onnx.Value{Name: out, Shape: []int64{-1, int64(c.Dim)}})
	}
	if len(nodes) == 0 {
		return model, nil
	}
	return rewriteGraph(model, func(graph []byte) ([]byte, error) {
		return onnx.Extend(graph, nodes, inits, outputs), nil
	})
}
