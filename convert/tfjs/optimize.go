package tfjs

import (
	"math"
	"slices"

	"github.com/dogrun/dogrun/convert/onnx"
)

// The passes below fold at conversion what TF.js computes as separate steps:
// batch normalisation and bias adds into the preceding convolution's weights,
// explicit zero padding into the convolution's pads, and Relu / Minimum /
// Maximum chains into one Clip, which ONNX Runtime fuses into the convolution.
// Each pass reports whether it changed the graph.

func (b *builder) uses() map[string]int {
	u := map[string]int{}
	for _, n := range b.g.Nodes {
		for _, in := range n.Inputs {
			u[in]++
		}
	}
	for _, o := range b.g.Outputs {
		u[o.Name]++
	}
	return u
}

func (b *builder) producers() map[string]int {
	p := map[string]int{}
	for i, n := range b.g.Nodes {
		for _, o := range n.Outputs {
			p[o] = i
		}
	}
	return p
}

// constant returns the float initializer called name, if there is one.
func (b *builder) constant(name string) (*onnx.Tensor, bool) {
	i, ok := b.init[name]
	if !ok || b.g.Initializers[i].Float == nil {
		return nil, false
	}
	return &b.g.Initializers[i], true
}

// perChannel returns c's value for each of n channels, if c is a scalar or a
// vector shaped to broadcast over the channel axis of an NCHW value.
func perChannel(c *onnx.Tensor, n int64) ([]float32, bool) {
	if len(c.Float) == 1 {
		return slices.Repeat(c.Float, int(n)), true
	}
	if int64(len(c.Float)) != n {
		return nil, false
	}
	switch {
	case len(c.Dims) == 3 && c.Dims[1] == 1 && c.Dims[2] == 1,
		len(c.Dims) == 4 && c.Dims[0] == 1 && c.Dims[2] == 1 && c.Dims[3] == 1:
		return c.Float, true
	}
	return nil, false
}

// foldChannelwise folds Mul or Add by a per-channel constant into the Conv
// that feeds it.
func (b *builder) foldChannelwise() bool {
	uses, prod := b.uses(), b.producers()
	for i, n := range b.g.Nodes {
		if (n.Op != "Mul" && n.Op != "Add") || len(n.Inputs) != 2 {
			continue
		}
		for side := range 2 {
			x, cname := n.Inputs[side], n.Inputs[1-side]
			c, ok := b.constant(cname)
			p, produced := prod[x]
			if !ok || !produced || uses[x] != 1 || b.g.Nodes[p].Op != "Conv" {
				continue
			}
			conv := &b.g.Nodes[p]
			out := b.shape[x][1]
			v, ok := perChannel(c, out)
			if !ok || uses[conv.Inputs[1]] != 1 || len(conv.Inputs) > 2 && uses[conv.Inputs[2]] != 1 {
				continue
			}
			if len(conv.Inputs) == 2 {
				conv.Inputs = append(conv.Inputs, b.constF(conv.Name+"/B", []int64{out}, make([]float32, out)))
			}
			// Pointers into Initializers only after constF, which may move it.
			w, _ := b.constant(conv.Inputs[1])
			bias, _ := b.constant(conv.Inputs[2])
			w.Float, bias.Float = slices.Clone(w.Float), slices.Clone(bias.Float)
			per := len(w.Float) / int(out)
			for o := range int(out) {
				if n.Op == "Mul" {
					for k := o * per; k < (o+1)*per; k++ {
						w.Float[k] *= v[o]
					}
					bias.Float[o] *= v[o]
				} else {
					bias.Float[o] += v[o]
				}
			}
			conv.Outputs[0] = n.Outputs[0]
			b.g.Nodes = slices.Delete(b.g.Nodes, i, i+1)
			return true
		}
	}
	return false
}

// foldPad moves a zero Pad of H and W into the Conv that reads it.
func (b *builder) foldPad() bool {
	uses, prod := b.uses(), b.producers()
	for i, n := range b.g.Nodes {
		if n.Op != "Conv" {
			continue
		}
		x := n.Inputs[0]
		p, ok := prod[x]
		if !ok || uses[x] != 1 || b.g.Nodes[p].Op != "Pad" {
			continue
		}
		pad := b.pads[b.g.Nodes[p].Name]
		w := b.windows[n.Name]
		for k := range 4 {
			w.pads[k] += pad[k]
		}
		b.windows[n.Name] = w
		b.g.Nodes[i].Inputs[0] = b.g.Nodes[p].Inputs[0]
		b.g.Nodes[i].Attrs = append(w.attrs(true), onnx.Int("group", b.groups[n.Name]))
		b.g.Nodes = slices.Delete(b.g.Nodes, p, p+1)
		return true
	}
	return false
}

// bounds returns the interval a Relu or Clip node clips to.
func (b *builder) bounds(n onnx.Node) (lo, hi float32, ok bool) {
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	switch n.Op {
	case "Relu":
		return 0, hi, true
	case "Clip":
		for k, v := range []*float32{&lo, &hi} {
			if len(n.Inputs) <= k+1 || n.Inputs[k+1] == "" {
				continue
			}
			c, ok := b.constant(n.Inputs[k+1])
			if !ok || len(c.Float) != 1 {
				return 0, 0, false
			}
			*v = c.Float[0]
		}
		return lo, hi, true
	}
	return 0, 0, false
}

// mergeClip turns a Relu or Clip of a Relu or Clip into one Clip.
func (b *builder) mergeClip() bool {
	uses, prod := b.uses(), b.producers()
	for i, n := range b.g.Nodes {
		lo2, hi2, ok := b.bounds(n)
		if !ok {
			continue
		}
		x := n.Inputs[0]
		p, produced := prod[x]
		if !produced || uses[x] != 1 {
			continue
		}
		lo1, hi1, ok := b.bounds(b.g.Nodes[p])
		lo, hi := max(lo1, lo2), min(hi1, hi2)
		if !ok || lo > hi {
			continue
		}
		first := b.g.Nodes[p]
		merged := onnx.Node{Op: "Relu", Name: first.Name, Inputs: []string{first.Inputs[0]}, Outputs: n.Outputs}
		if lo != 0 || !math.IsInf(float64(hi), 1) {
			merged.Op = "Clip"
			merged.Inputs = append(merged.Inputs, b.scalar(first.Name+"/min", lo), b.scalar(first.Name+"/max", hi))
		}
		b.g.Nodes[p] = merged
		b.g.Nodes = slices.Delete(b.g.Nodes, i, i+1)
		return true
	}
	return false
}

// prune drops the nodes and initializers no graph output depends on.
func (b *builder) prune() {
	need := map[string]bool{}
	for _, o := range b.g.Outputs {
		need[o.Name] = true
	}
	keep := make([]bool, len(b.g.Nodes))
	for i := len(b.g.Nodes) - 1; i >= 0; i-- {
		n := b.g.Nodes[i]
		for _, o := range n.Outputs {
			if need[o] {
				keep[i] = true
			}
		}
		if keep[i] {
			for _, in := range n.Inputs {
				need[in] = true
			}
		}
	}
	var nodes []onnx.Node
	for i, n := range b.g.Nodes {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	var inits []onnx.Tensor
	b.init = map[string]int{}
	for _, t := range b.g.Initializers {
		if need[t.Name] {
			b.init[t.Name] = len(inits)
			inits = append(inits, t)
		}
	}
	b.g.Nodes, b.g.Initializers = nodes, inits
}
