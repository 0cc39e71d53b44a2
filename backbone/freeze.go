package backbone

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/convert/tfjs"
	"github.com/dogrun/dogrun/trunk"
)

// Frozen is a backbone split at a freeze depth (backbone.freeze): the frozen
// layers run on ONNX Runtime and their output is cached, the trainable ones
// run in GoMLX as a trunk.Spec and train with the head.
type Frozen struct {
	Prefix    Spec // the frozen layers; its one cut is Cut
	Cut       Cut  // the last frozen layer's output, flattened NHWC: the cached features
	Trunk     *trunk.Spec
	Trainable []string // Keras names of the trainable layers, in order
}

// Freeze splits the backbone's layer list at depth, with the seed's nb_freeze
// semantics: depth N > 0 freezes the first N layers, -N freezes all but the
// last N, 0 freezes none. The layer list is the Keras model's layers in the
// model file's order, from the input layer to the cut's layer, counted as
// Keras counts model.layers: every layer, activations, batch norms, paddings
// and the input layer included. It returns nil when every layer stays frozen.
//
// Only Keras backbones (TF.js layers models) have such a list. The trainable
// layers must read a single frozen layer, the cut, and be ones a trunk
// computes; the error for any other depth lists those that work.
func (s Spec) Freeze(ctx context.Context, cacheDir string, cut Cut, depth int) (*Frozen, error) {
	if s.Format != "tfjs-layers" {
		return nil, fmt.Errorf("backbone %s is not a Keras model; freeze works on %s", s.Name, strings.Join(KerasBackbones(), ", "))
	}
	files, err := Fetch(ctx, cacheDir, s.Source)
	if err != nil {
		return nil, err
	}
	k, err := tfjs.ReadKeras(files)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", s.Name, err)
	}
	list, err := layerList(k, cut.Output)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", s.Name, err)
	}
	frozen := depth
	if depth < 0 {
		frozen = max(len(list)+depth, 0)
	}
	if frozen >= len(list) {
		return nil, nil
	}
	split, err := splitAt(k, list, frozen)
	if err != nil {
		good := supportedDepths(k, list)
		return nil, fmt.Errorf("freeze %d of backbone %s (%d layers to cut %s): %w; depths that train here: %s",
			depth, s.Name, len(list), cut.Name, err, good)
	}
	_, shape, err := k.Prefix(split.cut)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", s.Name, err)
	}
	trunk, err := translate(k, split, shape)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", s.Name, err)
	}
	p := s
	cutLayer := split.cut
	p.Convert = func(files []string) ([]byte, error) {
		k, err := tfjs.ReadKeras(files)
		if err != nil {
			return nil, err
		}
		b, _, err := k.Prefix(cutLayer)
		return b, err
	}
	// A new converter version: the prefix's ONNX and its cached features get
	// their own files, never mixed with the whole backbone's.
	p.ConverterVersion = s.ConverterVersion + " prefix " + cutLayer
	c := Cut{Name: cutLayer, Output: tfjs.CutOutput, Dim: trunk.InputLen()}
	p.Cuts = []Cut{c}
	return &Frozen{Prefix: p, Cut: c, Trunk: trunk, Trainable: split.trainable}, nil
}

// KerasBackbones names the registered backbones Freeze can split.
func KerasBackbones() []string {
	var out []string
	for _, s := range All() {
		if s.Format == "tfjs-layers" {
			out = append(out, s.Name)
		}
	}
	return out
}

// layerList is the model's layers up to and including last, in file order.
func layerList(k *tfjs.Keras, last string) ([]tfjs.KerasLayer, error) {
	for i, l := range k.Layers {
		if l.Name == last {
			return k.Layers[:i+1], nil
		}
	}
	return nil, fmt.Errorf("no layer %q in the model", last)
}

type split struct {
	cut       string   // the frozen layer the trainable ones read
	trainable []string // trainable layers the last layer depends on, in order
	layers    []tfjs.KerasLayer
}

// splitAt freezes list[:frozen] and checks that the rest reads one frozen layer.
func splitAt(k *tfjs.Keras, list []tfjs.KerasLayer, frozen int) (split, error) {
	// Layers the last one depends on: a side branch that ends before the cut
	// is never computed, so it needs no support.
	need := map[string]bool{list[len(list)-1].Name: true}
	for i := len(list) - 1; i >= 0; i-- {
		if need[list[i].Name] {
			for _, in := range list[i].Inputs {
				need[in] = true
			}
		}
	}
	var s split
	trainable := map[string]bool{}
	for _, l := range list[frozen:] {
		if !need[l.Name] {
			continue
		}
		if l.Class == "InputLayer" {
			return s, fmt.Errorf("the input layer %s would train: an image cannot", l.Name)
		}
		trainable[l.Name] = true
		s.trainable = append(s.trainable, l.Name)
		s.layers = append(s.layers, l)
	}
	var reads []string
	for _, l := range s.layers {
		for _, in := range l.Inputs {
			if !trainable[in] && !slices.Contains(reads, in) {
				reads = append(reads, in)
			}
		}
	}
	if len(reads) != 1 {
		return s, fmt.Errorf("the trainable layers read %d frozen layers (%s); only one can be the cached cut, so this depth cuts through parallel branches (a residual connection or a concatenation)", len(reads), strings.Join(reads, ", "))
	}
	s.cut = reads[0]
	if err := checkLayers(k, s.layers); err != nil {
		return s, err
	}
	return s, nil
}

// supportedDepths describes the -N that split cleanly into supported layers.
func supportedDepths(k *tfjs.Keras, list []tfjs.KerasLayer) string {
	var ok []string
	for n := 1; n < len(list); n++ {
		s, err := splitAt(k, list, len(list)-n)
		if err != nil {
			if len(s.layers) > 0 && checkLayers(k, s.layers) != nil {
				break // deeper depths include the same unsupported layer
			}
			continue
		}
		ok = append(ok, strconv.Itoa(-n))
	}
	if len(ok) == 0 {
		return "none, only all"
	}
	return "all, " + strings.Join(ok, ", ")
}

// checkLayers reports the first layer trunk.Spec cannot compute.
func checkLayers(k *tfjs.Keras, ls []tfjs.KerasLayer) error {
	for _, l := range ls {
		if _, err := trunkLayers(k, l); err != nil {
			return fmt.Errorf("layer %s (%s) cannot train in GoMLX: %w", l.Name, l.Class, err)
		}
	}
	return nil
}

// unsupportedConv says why a convolution cannot be a trunk layer.
const unsupportedConv = "GoMLX v0.26's pure-Go backend has no gradient for its convolution (nor max pooling or Pad); only 1x1 convolutions with stride 1, which are matmuls, train here"

// trunkLayers turns one Keras layer into trunk ops, without weights.
func trunkLayers(k *tfjs.Keras, l tfjs.KerasLayer) ([]trunk.Layer, error) {
	get := func(key string, v any) error { return k.Config(l.Name, key, v) }
	one := func(t trunk.Layer) ([]trunk.Layer, error) {
		if len(l.Inputs) != 1 {
			return nil, fmt.Errorf("has %d inputs, want 1", len(l.Inputs))
		}
		t.Name = l.Name
		return []trunk.Layer{t}, nil
	}
	var format string
	if err := get("data_format", &format); err != nil || format != "" && format != "channels_last" {
		return nil, fmt.Errorf("data_format %q", format)
	}
	// withActivation appends a Conv2D's or Dense's own activation.
	withActivation := func(ts []trunk.Layer, err error) ([]trunk.Layer, error) {
		if err != nil {
			return nil, err
		}
		act := "linear"
		if err := get("activation", &act); err != nil {
			return nil, err
		}
		op, err := activationOp(act)
		if err != nil || op.Op == "identity" {
			return ts, err
		}
		op.Name = l.Name + "/act"
		return append(ts, op), nil
	}
	switch l.Class {
	case "Conv2D":
		var ks, strides, dilation []int
		groups := 1
		for key, v := range map[string]any{"kernel_size": &ks, "strides": &strides, "dilation_rate": &dilation, "groups": &groups} {
			if err := get(key, v); err != nil {
				return nil, err
			}
		}
		ones := func(v []int) bool { return !slices.ContainsFunc(v, func(x int) bool { return x != 1 }) }
		if !ones(ks) || !ones(strides) || !ones(dilation) || groups != 1 {
			return nil, fmt.Errorf("kernel %v, strides %v: %s", ks, strides, unsupportedConv)
		}
		useBias := true
		if err := get("use_bias", &useBias); err != nil {
			return nil, err
		}
		var filters int
		if err := get("filters", &filters); err != nil {
			return nil, err
		}
		return withActivation(one(trunk.Layer{Op: "conv1x1", Units: filters, Bias: useBias}))
	case "Dense":
		useBias := true
		var units int
		if err := get("use_bias", &useBias); err != nil {
			return nil, err
		}
		if err := get("units", &units); err != nil {
			return nil, err
		}
		return withActivation(one(trunk.Layer{Op: "dense", Units: units, Bias: useBias}))
	case "BatchNormalization":
		axis := -1
		if err := get("axis", &axis); err != nil {
			return nil, err
		}
		if axis != -1 && axis != 3 {
			return nil, fmt.Errorf("normalising axis %d; only the channel axis is supported", axis)
		}
		return one(trunk.Layer{Op: "affine"})
	case "ReLU":
		var maxValue *float64
		var slope, threshold float64
		for key, v := range map[string]any{"max_value": &maxValue, "negative_slope": &slope, "threshold": &threshold} {
			if err := get(key, v); err != nil {
				return nil, err
			}
		}
		if slope != 0 || threshold != 0 {
			return nil, fmt.Errorf("negative_slope and threshold are not supported")
		}
		return one(trunk.Layer{Op: "clip", Max: maxValue})
	case "Activation":
		act := "linear"
		if err := get("activation", &act); err != nil {
			return nil, err
		}
		op, err := activationOp(act)
		if err != nil {
			return nil, err
		}
		return one(op)
	case "Add":
		if len(l.Inputs) < 2 {
			return nil, fmt.Errorf("has %d inputs, want 2 or more", len(l.Inputs))
		}
		return []trunk.Layer{{Name: l.Name, Op: "add", Inputs: l.Inputs}}, nil
	case "GlobalAveragePooling2D":
		keep := false
		if err := get("keepdims", &keep); err != nil {
			return nil, err
		}
		return one(trunk.Layer{Op: "mean_hw", Keep: keep})
	case "AveragePooling2D":
		// Checked against the input size in translate: only a pool over the
		// whole map, as Keras applications end with, is a mean.
		return one(trunk.Layer{Op: "mean_hw", Keep: true})
	case "Flatten":
		return one(trunk.Layer{Op: "flatten"})
	case "Dropout":
		var rate float64
		if err := get("rate", &rate); err != nil {
			return nil, err
		}
		return one(trunk.Layer{Op: "dropout", Rate: rate})
	case "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose":
		return nil, fmt.Errorf("%s", unsupportedConv)
	case "MaxPooling2D", "ZeroPadding2D":
		return nil, fmt.Errorf("GoMLX v0.26's pure-Go backend has no gradient for max pooling or Pad")
	}
	return nil, fmt.Errorf("not a layer a trunk computes")
}

// activationOp is a Keras activation as a trunk op.
func activationOp(act string) (trunk.Layer, error) {
	switch act {
	case "linear":
		return trunk.Layer{Op: "identity"}, nil
	case "relu":
		return trunk.Layer{Op: "clip"}, nil
	case "relu6":
		six := 6.0
		return trunk.Layer{Op: "clip", Max: &six}, nil
	}
	return trunk.Layer{}, fmt.Errorf("activation %q is not supported (relu, relu6, linear are)", act)
}

// translate builds the trunk with the pretrained weights. Batch norms become
// their inference-mode affine, scale = gamma/sqrt(var+eps) and shift = beta -
// mean*scale, both trainable: Keras's fine-tuning with the base model called
// in inference mode, its moving statistics folded into the trained values.
func translate(k *tfjs.Keras, s split, cutShape []int64) (*trunk.Spec, error) {
	t := &trunk.Spec{Init: map[string][]float32{}}
	for _, d := range cutShape {
		t.Input = append(t.Input, int(d))
	}
	// The trunk op that holds each Keras layer's output; the cut is the
	// trunk's input, "" in its terms.
	out := map[string]string{s.cut: ""}
	shapes := map[string][]int{"": t.Input}
	for _, l := range s.layers {
		ts, err := trunkLayers(k, l)
		if err != nil {
			return nil, err
		}
		last := ""
		if n := len(t.Layers); n > 0 {
			last = t.Layers[n-1].Name
		}
		for j, in := range ts[0].Inputs {
			ts[0].Inputs[j] = out[in]
		}
		if src := out[l.Inputs[0]]; ts[0].Op != "add" && (src != last) {
			ts[0].Inputs = []string{src}
		}
		in := shapes[out[l.Inputs[0]]]
		t.Layers = append(t.Layers, ts...)
		all, err := t.Shapes()
		if err != nil {
			return nil, err
		}
		for i, x := range t.Layers {
			shapes[x.Name] = all[i]
		}
		out[l.Name] = ts[len(ts)-1].Name
		if err := setWeights(k, l, t, in, ts[0].Bias); err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Name, err)
		}
	}
	if _, err := t.OutputLen(); err != nil {
		return nil, err
	}
	return t, nil
}

// setWeights fills Init for layer l, whose input has shape in, and checks
// that an average pool is a mean.
func setWeights(k *tfjs.Keras, l tfjs.KerasLayer, t *trunk.Spec, in []int, bias bool) error {
	w := func(name string) ([]float32, error) {
		v, _, err := k.Weight(l.Name, name)
		return v, err
	}
	switch l.Class {
	case "Conv2D", "Dense":
		kernel, err := w("kernel")
		if err != nil {
			return err
		}
		t.Init[l.Name+"/kernel"] = kernel
		if bias {
			if t.Init[l.Name+"/bias"], err = w("bias"); err != nil {
				return err
			}
		}
	case "BatchNormalization":
		mean, err := w("moving_mean")
		if err != nil {
			return err
		}
		variance, err := w("moving_variance")
		if err != nil {
			return err
		}
		eps, center, scale := 1e-3, true, true
		for key, v := range map[string]any{"epsilon": &eps, "center": &center, "scale": &scale} {
			if err := k.Config(l.Name, key, v); err != nil {
				return err
			}
		}
		gamma, beta := make([]float32, len(mean)), make([]float32, len(mean))
		for i := range gamma {
			gamma[i] = 1
		}
		if scale {
			if gamma, err = w("gamma"); err != nil {
				return err
			}
		}
		if center {
			if beta, err = w("beta"); err != nil {
				return err
			}
		}
		mul, add := make([]float32, len(mean)), make([]float32, len(mean))
		for i := range mul {
			s := float64(gamma[i]) / math.Sqrt(float64(variance[i])+eps)
			mul[i] = float32(s)
			add[i] = float32(float64(beta[i]) - float64(mean[i])*s)
		}
		t.Init[l.Name+"/scale"], t.Init[l.Name+"/shift"] = mul, add
	case "AveragePooling2D":
		var pool, strides []int
		padding := "valid"
		for key, v := range map[string]any{"pool_size": &pool, "strides": &strides, "padding": &padding} {
			if err := k.Config(l.Name, key, v); err != nil {
				return err
			}
		}
		if len(in) != 3 || len(pool) != 2 || pool[0] != in[0] || pool[1] != in[1] || padding != "valid" {
			return fmt.Errorf("average pooling %v over a %v map: only a pool over the whole map trains here", pool, in)
		}
	}
	return nil
}
