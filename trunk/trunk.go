// Package trunk describes the trainable end of a backbone (backbone.freeze)
// as plain data: its layers, their shapes and their cost. backbone builds it
// from a Keras model, train runs it in GoMLX; neither needs the other.
package trunk

import (
	"fmt"
	"slices"
)

// Spec is the trainable end of a backbone (backbone.freeze): layers that run
// in GoMLX on the cached output of the frozen part and train with the head.
// It is part of Config, so a checkpoint's head.json describes it; the
// fine-tuned values themselves go to weights.bin with the head's.
//
// Only ops whose gradients GoMLX v0.26's pure-Go backend computes well are
// here: a 1x1 convolution is a per-pixel matmul (train.FastMatMul's cheap gradient),
// batch normalisation in inference mode a per-channel affine. Stock
// convolutions, max pooling and Pad have no gradient on that backend, so
// deeper layers cannot be trunk layers. Every op is a plain graph op that
// GoMLX's XLA backend runs as well.
type Spec struct {
	Input  []int   `json:"input"` // one example's cached tensor: [H, W, C] (NHWC) or [features]
	Layers []Layer `json:"layers"`
	// Init holds the pretrained values by layer and variable ("Conv_1/kernel").
	// A loaded checkpoint has none: weights.bin holds every value.
	Init map[string][]float32 `json:"-"`
}

// Layer is one op of a trunk. Its input is the previous layer's output
// (the trunk's input for the first) unless Inputs names others.
type Layer struct {
	Name   string   `json:"name"`
	Op     string   `json:"op"`
	Inputs []string `json:"inputs,omitempty"` // for add: earlier layers; "" is the trunk's input
	Units  int      `json:"units,omitempty"`  // conv1x1, dense: output channels
	Bias   bool     `json:"bias,omitempty"`   // conv1x1, dense
	Min    float64  `json:"min,omitempty"`    // clip
	Max    *float64 `json:"max,omitempty"`    // clip; nil is unbounded
	Keep   bool     `json:"keep,omitempty"`   // mean_hw: keep H and W as 1s
	Rate   float64  `json:"rate,omitempty"`   // dropout
}

// Trunk ops:
//
//	conv1x1  [H, W, C] -> [H, W, Units]: variables kernel [C, Units] and bias
//	affine   per-channel x*scale + shift: variables scale and shift [C]
//	clip     min(max(x, Min), Max)
//	mean_hw  mean over H and W: [C], or [1, 1, C] with Keep
//	flatten  [H, W, C] -> [H*W*C], in NHWC order as Keras flattens
//	dense    [F] -> [Units]: variables kernel [F, Units] and bias
//	add      sum of Inputs
//	dropout  Keras Dropout at Rate while training, identity otherwise
//	identity x
const opNames = "conv1x1, affine, clip, mean_hw, flatten, dense, add, dropout, identity"

// Shapes returns every layer's output shape (one example), checking the trunk.
func (t *Spec) Shapes() ([][]int, error) {
	out := make([][]int, len(t.Layers))
	byName := map[string][]int{"": t.Input}
	prev := t.Input
	for i, l := range t.Layers {
		in := prev
		if len(l.Inputs) > 0 {
			var ok bool
			if in, ok = byName[l.Inputs[0]]; !ok {
				return nil, fmt.Errorf("trunk layer %s reads %q, which comes later or not at all", l.Name, l.Inputs[0])
			}
		}
		var s []int
		switch l.Op {
		case "conv1x1":
			if len(in) != 3 || l.Units < 1 {
				return nil, fmt.Errorf("trunk layer %s: conv1x1 of shape %v to %d channels", l.Name, in, l.Units)
			}
			s = []int{in[0], in[1], l.Units}
		case "dense":
			if len(in) != 1 || l.Units < 1 {
				return nil, fmt.Errorf("trunk layer %s: dense of shape %v to %d units", l.Name, in, l.Units)
			}
			s = []int{l.Units}
		case "mean_hw":
			if len(in) != 3 {
				return nil, fmt.Errorf("trunk layer %s: mean over H and W of shape %v", l.Name, in)
			}
			s = []int{in[2]}
			if l.Keep {
				s = []int{1, 1, in[2]}
			}
		case "flatten":
			s = []int{Product(in)}
		case "add":
			for _, name := range l.Inputs {
				if o, ok := byName[name]; !ok || !slices.Equal(o, in) {
					return nil, fmt.Errorf("trunk layer %s adds %q of shape %v to shape %v", l.Name, name, o, in)
				}
			}
			s = in
		case "affine", "clip", "dropout", "identity":
			s = in
		default:
			return nil, fmt.Errorf("trunk layer %s: unknown op %q (known: %s)", l.Name, l.Op, opNames)
		}
		out[i], byName[l.Name], prev = s, s, s
	}
	return out, nil
}

// Product is the number of values of a tensor of shape s.
func Product(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// InputLen is the number of floats of one example's input.
func (t *Spec) InputLen() int { return Product(t.Input) }

// OutputLen is the number of features the trunk hands the head.
func (t *Spec) OutputLen() (int, error) {
	s, err := t.Shapes()
	if err != nil {
		return 0, err
	}
	if len(s) == 0 {
		return t.InputLen(), nil
	}
	last := s[len(s)-1]
	if len(last) != 1 {
		return 0, fmt.Errorf("trunk ends in shape %v, want [features]", last)
	}
	return last[0], nil
}

// Cost is what one example costs the trunk.
type Cost struct {
	Weights int   // trainable values
	FLOPs   int64 // forward pass; a training step is about 3x (forward, input and weight gradients)
}

// Cost counts multiply-adds as 2 FLOPs; elementwise ops count 1 per value.
func (t *Spec) Cost() (Cost, error) {
	shapes, err := t.Shapes()
	if err != nil {
		return Cost{}, err
	}
	var c Cost
	in := t.Input
	byName := map[string][]int{"": t.Input}
	for i, l := range t.Layers {
		if len(l.Inputs) > 0 {
			in = byName[l.Inputs[0]]
		}
		out := shapes[i]
		switch l.Op {
		case "conv1x1", "dense":
			k := in[len(in)-1]
			c.Weights += k * l.Units
			if l.Bias {
				c.Weights += l.Units
			}
			c.FLOPs += 2 * int64(Product(out)) * int64(k)
		case "affine":
			c.Weights += 2 * in[len(in)-1]
			c.FLOPs += 2 * int64(Product(in))
		default:
			c.FLOPs += int64(Product(in))
		}
		byName[l.Name], in = out, out
	}
	return c, nil
}

// FLOPRate is the training throughput of trunk layers on GoMLX v0.26's
// pure-Go backend, in FLOPs per second counted as Cost counts them (3x the
// forward pass per step): measured with MobileNetV2's Conv_1 trunk (freeze
// -5), batch 32, on the 2-core development machine while other jobs ran
// (load average up to 14): 10 images/s, 1.25 GFLOP/s; its 9-layer trunk
// (freeze -8) ran at 0.8-1.25.
const FLOPRate = 1.2e9

// TrainSeconds estimates the seconds one training image costs per epoch.
func (c Cost) TrainSeconds() float64 { return 3 * float64(c.FLOPs) / FLOPRate }
