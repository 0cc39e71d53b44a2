package tfjs

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/dogrun/dogrun/convert/onnx"
)

// layersModel is a TF.js layers model: a Keras model config (functional API)
// plus a weights manifest whose names are "<layer>/<weight>".
type layersModel struct {
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest []WeightGroup   `json:"weightsManifest"`
}

type kerasModel struct {
	ClassName string `json:"class_name"`
	Config    struct {
		Layers []kerasLayer `json:"layers"`
	} `json:"config"`
}

type kerasLayer struct {
	Name         string                     `json:"name"`
	ClassName    string                     `json:"class_name"`
	Config       map[string]json.RawMessage `json:"config"`
	InboundNodes [][][]json.RawMessage      `json:"inbound_nodes"`
}

// get decodes config field key into v, leaving v alone when it is absent or null.
func (l kerasLayer) get(key string, v any) error {
	raw, ok := l.Config[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("config %s: %w", key, err)
	}
	return nil
}

// pair reads a Keras int-or-pair setting (kernel_size, strides, ...).
func (l kerasLayer) pair(key string, def int64) ([2]int64, error) {
	raw, ok := l.Config[key]
	if !ok || string(raw) == "null" {
		return [2]int64{def, def}, nil
	}
	var one int64
	if json.Unmarshal(raw, &one) == nil {
		return [2]int64{one, one}, nil
	}
	var two []int64
	if err := json.Unmarshal(raw, &two); err != nil || len(two) != 2 {
		return [2]int64{}, fmt.Errorf("config %s: want an int or a pair, got %s", key, raw)
	}
	return [2]int64{two[0], two[1]}, nil
}

// LayersConverter returns a backbone converter for a TF.js layers model: files
// are the model JSON (or its JavaScript bundle) first, then its weight shards.
// The ONNX graph takes the model's input layer, in NCHW rather than Keras's
// NHWC, and outputs the named layers under their own names.
func LayersConverter(outputs ...string) func(files []string) ([]byte, error) {
	return func(files []string) ([]byte, error) {
		k, err := ReadKeras(files)
		if err != nil {
			return nil, err
		}
		return convertLayers(k.model, k.weights, outputs)
	}
}

type layersConv struct {
	b       *builder
	layers  map[string]kerasLayer
	weights map[string]weight
	vals    map[string]string
	active  map[string]bool
}

func convertLayers(m *kerasModel, weights map[string]weight, outputs []string) ([]byte, error) {
	c := &layersConv{
		b:       newBuilder("tfjs-layers"),
		layers:  map[string]kerasLayer{},
		weights: weights,
		vals:    map[string]string{},
		active:  map[string]bool{},
	}
	for _, l := range m.Config.Layers {
		c.layers[l.Name] = l
	}
	if len(outputs) == 0 {
		return nil, fmt.Errorf("tfjs layers model: no outputs asked for")
	}
	c.b.reserve(outputs...)
	for _, o := range outputs {
		v, err := c.value(o)
		if err != nil {
			return nil, err
		}
		c.b.output(o, v)
	}
	return c.b.model("dogrun tfjs layers converter")
}

// value converts the named layer and the layers it reads.
func (c *layersConv) value(name string) (string, error) {
	if v, ok := c.vals[name]; ok {
		return v, nil
	}
	l, ok := c.layers[name]
	if !ok {
		return "", fmt.Errorf("no layer %q in the model", name)
	}
	if c.active[name] {
		return "", fmt.Errorf("layer cycle through %s", name)
	}
	c.active[name] = true
	if len(l.InboundNodes) > 1 {
		return "", fmt.Errorf("layer %s is called %d times; shared layers are not supported", name, len(l.InboundNodes))
	}
	var in []string
	if len(l.InboundNodes) == 1 {
		for _, ref := range l.InboundNodes[0] {
			var src string
			var node, tensor int
			if len(ref) < 3 || json.Unmarshal(ref[0], &src) != nil || json.Unmarshal(ref[1], &node) != nil || json.Unmarshal(ref[2], &tensor) != nil {
				return "", fmt.Errorf("layer %s: unreadable inbound node", name)
			}
			if node != 0 || tensor != 0 {
				return "", fmt.Errorf("layer %s reads output %d of call %d of %s; only single outputs are supported", name, tensor, node, src)
			}
			v, err := c.value(src)
			if err != nil {
				return "", err
			}
			in = append(in, v)
		}
	}
	v, err := c.convert(l, in)
	if err != nil {
		return "", fmt.Errorf("layer %s (%s): %w", l.Name, l.ClassName, err)
	}
	delete(c.active, name)
	c.vals[name] = v
	return v, nil
}

// param returns the layer's weight called p, stored as "<layer>/<p>", possibly
// under a model scope.
func (c *layersConv) param(l kerasLayer, p string) (weight, error) {
	key := l.Name + "/" + p
	if w, ok := c.weights[key]; ok {
		return w, nil
	}
	for name, w := range c.weights {
		if strings.HasSuffix(name, "/"+key) {
			return w, nil
		}
	}
	return weight{}, fmt.Errorf("no weight %s", key)
}

func (c *layersConv) convert(l kerasLayer, in []string) (string, error) {
	b := c.b
	need := func(k int) error {
		if len(in) != k {
			return fmt.Errorf("has %d inputs, want %d", len(in), k)
		}
		return nil
	}
	if f := ""; l.get("data_format", &f) == nil && f != "" && f != "channels_last" {
		return "", fmt.Errorf("data_format %s", f)
	}
	switch l.ClassName {
	case "InputLayer":
		var shape []*int64
		if err := l.get("batch_input_shape", &shape); err != nil {
			return "", err
		}
		if len(shape) != 4 || shape[1] == nil || shape[2] == nil || shape[3] == nil {
			return "", fmt.Errorf("input must be a NHWC image batch of fixed size")
		}
		return b.input(l.Name, []int64{-1, *shape[3], *shape[1], *shape[2]}), nil
	case "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "ActivityRegularization":
		if err := need(1); err != nil {
			return "", err
		}
		return in[0], nil // inference: identity
	case "ZeroPadding2D":
		if err := need(1); err != nil {
			return "", err
		}
		p, err := zeroPadding(l)
		if err != nil {
			return "", err
		}
		return b.pad(l.Name, in[0], p), nil
	case "Conv2D", "DepthwiseConv2D":
		if err := need(1); err != nil {
			return "", err
		}
		return c.conv(l, in[0])
	case "BatchNormalization":
		if err := need(1); err != nil {
			return "", err
		}
		return c.batchNorm(l, in[0])
	case "ReLU":
		if err := need(1); err != nil {
			return "", err
		}
		var maxValue *float64
		var slope, threshold float64
		if err := l.get("max_value", &maxValue); err != nil {
			return "", err
		}
		if err := l.get("negative_slope", &slope); err != nil {
			return "", err
		}
		if err := l.get("threshold", &threshold); err != nil {
			return "", err
		}
		if slope != 0 || threshold != 0 {
			return "", fmt.Errorf("negative_slope and threshold are not supported")
		}
		hi := inf32
		if maxValue != nil {
			hi = float32(*maxValue)
		}
		return b.clip(l.Name, in[0], 0, hi), nil
	case "Activation":
		if err := need(1); err != nil {
			return "", err
		}
		var act string
		if err := l.get("activation", &act); err != nil {
			return "", err
		}
		return b.activation(l.Name, in[0], act)
	case "Add":
		if len(in) < 2 {
			return "", fmt.Errorf("has %d inputs, want 2 or more", len(in))
		}
		y := in[0]
		for _, x := range in[1:] {
			y = b.node("Add", l.Name, []string{y, x}, b.shape[x])
		}
		return y, nil
	case "Concatenate":
		if len(in) < 2 {
			return "", fmt.Errorf("has %d inputs, want 2 or more", len(in))
		}
		axis := int64(-1)
		if err := l.get("axis", &axis); err != nil {
			return "", err
		}
		rank := len(b.shape[in[0]])
		if axis < 0 {
			axis += int64(rank)
		}
		if rank == 4 {
			axis = nchwAxis(axis)
		}
		shape := append([]int64(nil), b.shape[in[0]]...)
		for _, x := range in[1:] {
			shape[axis] += b.shape[x][axis]
		}
		return b.node("Concat", l.Name, in, shape, onnx.Int("axis", axis)), nil
	case "AveragePooling2D", "MaxPooling2D":
		if err := need(1); err != nil {
			return "", err
		}
		k, err := l.pair("pool_size", 2)
		if err != nil {
			return "", err
		}
		s, err := l.pair("strides", 0)
		if err != nil {
			return "", err
		}
		if s[0] == 0 {
			s = k // Keras: strides default to the pool size
		}
		padding := "valid"
		if err := l.get("padding", &padding); err != nil {
			return "", err
		}
		w, err := newWindow(hwOf(b.shape[in[0]]), k, s, [2]int64{1, 1}, padding, [4]int64{})
		if err != nil {
			return "", err
		}
		op := map[string]string{"AveragePooling2D": "AveragePool", "MaxPooling2D": "MaxPool"}[l.ClassName]
		return b.pool(op, l.Name, in[0], w), nil
	case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
		if err := need(1); err != nil {
			return "", err
		}
		keep := false
		if err := l.get("keepdims", &keep); err != nil || keep {
			return "", fmt.Errorf("keepdims is not supported")
		}
		s := b.shape[in[0]]
		op := map[string]string{"GlobalAveragePooling2D": "ReduceMean", "GlobalMaxPooling2D": "ReduceMax"}[l.ClassName]
		return b.node(op, l.Name, in, []int64{s[0], s[1]}, onnx.Ints("axes", 2, 3), onnx.Int("keepdims", 0)), nil
	case "Flatten":
		if err := need(1); err != nil {
			return "", err
		}
		return b.flatten(l.Name, in[0]), nil
	case "Dense":
		if err := need(1); err != nil {
			return "", err
		}
		return c.dense(l, in[0])
	}
	return "", fmt.Errorf("unsupported layer")
}

// zeroPadding reads ZeroPadding2D's padding: n, [h, w] or [[top, bottom],
// [left, right]], as (top, left, bottom, right).
func zeroPadding(l kerasLayer) ([4]int64, error) {
	raw := l.Config["padding"]
	var one int64
	if json.Unmarshal(raw, &one) == nil {
		return [4]int64{one, one, one, one}, nil
	}
	var two []int64
	if json.Unmarshal(raw, &two) == nil && len(two) == 2 {
		return [4]int64{two[0], two[1], two[0], two[1]}, nil
	}
	var four [][]int64
	if json.Unmarshal(raw, &four) == nil && len(four) == 2 && len(four[0]) == 2 && len(four[1]) == 2 {
		return [4]int64{four[0][0], four[1][0], four[0][1], four[1][1]}, nil
	}
	return [4]int64{}, fmt.Errorf("padding %s", raw)
}

func (c *layersConv) conv(l kerasLayer, x string) (string, error) {
	depthwise := l.ClassName == "DepthwiseConv2D"
	k, err := l.pair("kernel_size", 0)
	if err != nil {
		return "", err
	}
	s, err := l.pair("strides", 1)
	if err != nil {
		return "", err
	}
	d, err := l.pair("dilation_rate", 1)
	if err != nil {
		return "", err
	}
	padding, act := "valid", "linear"
	useBias := true
	for key, v := range map[string]any{"padding": &padding, "activation": &act, "use_bias": &useBias} {
		if err := l.get(key, v); err != nil {
			return "", err
		}
	}
	kname := "kernel"
	if depthwise {
		kname = "depthwise_kernel"
	}
	kw, err := c.param(l, kname)
	if err != nil {
		return "", err
	}
	if len(kw.shape) != 4 || kw.shape[0] != k[0] || kw.shape[1] != k[1] {
		return "", fmt.Errorf("kernel shape %v does not match kernel_size %v", kw.shape, k)
	}
	var bias []float32
	if useBias {
		bw, err := c.param(l, "bias")
		if err != nil {
			return "", err
		}
		bias = bw.f
	}
	win, err := newWindow(hwOf(c.b.shape[x]), k, s, d, padding, [4]int64{})
	if err != nil {
		return "", err
	}
	wd, wdims, group := convKernel(&kw, depthwise)
	y, err := c.b.conv(l.Name, x, wd, wdims, bias, win, group)
	if err != nil {
		return "", err
	}
	return c.b.activation(l.Name+"/act", y, act)
}

// batchNorm emits inference-mode batch normalisation as a per-channel scale and
// shift; the optimizer folds both into a preceding convolution.
func (c *layersConv) batchNorm(l kerasLayer, x string) (string, error) {
	axis := int64(-1)
	eps := 1e-3
	center, scale := true, true
	for key, v := range map[string]any{"axis": &axis, "epsilon": &eps, "center": &center, "scale": &scale} {
		if err := l.get(key, v); err != nil {
			return "", err
		}
	}
	rank := int64(len(c.b.shape[x]))
	if axis != -1 && axis != rank-1 {
		return "", fmt.Errorf("normalising axis %d; only the channel axis is supported", axis)
	}
	mean, err := c.param(l, "moving_mean")
	if err != nil {
		return "", err
	}
	variance, err := c.param(l, "moving_variance")
	if err != nil {
		return "", err
	}
	n := len(mean.f)
	gamma, beta := make([]float32, n), make([]float32, n)
	for i := range gamma {
		gamma[i] = 1
	}
	if scale {
		w, err := c.param(l, "gamma")
		if err != nil {
			return "", err
		}
		gamma = w.f
	}
	if center {
		w, err := c.param(l, "beta")
		if err != nil {
			return "", err
		}
		beta = w.f
	}
	mul, add := make([]float32, n), make([]float32, n)
	for i := range mul {
		s := float64(gamma[i]) / math.Sqrt(float64(variance.f[i])+eps)
		mul[i] = float32(s)
		add[i] = float32(float64(beta[i]) - float64(mean.f[i])*s)
	}
	y := c.b.node("Mul", l.Name+"/scale", []string{x, c.b.channelConst(l.Name+"/scale", x, mul)}, c.b.shape[x])
	return c.b.node("Add", l.Name, []string{y, c.b.channelConst(l.Name+"/shift", y, add)}, c.b.shape[x]), nil
}

func (c *layersConv) dense(l kerasLayer, x string) (string, error) {
	act := "linear"
	useBias := true
	if err := l.get("activation", &act); err != nil {
		return "", err
	}
	if err := l.get("use_bias", &useBias); err != nil {
		return "", err
	}
	w, err := c.param(l, "kernel")
	if err != nil {
		return "", err
	}
	if len(w.shape) != 2 {
		return "", fmt.Errorf("kernel shape %v", w.shape)
	}
	var bias []float32
	if useBias {
		bw, err := c.param(l, "bias")
		if err != nil {
			return "", err
		}
		bias = bw.f
	}
	y, err := c.b.dense(l.Name, x, w.f, w.shape, false, bias)
	if err != nil {
		return "", err
	}
	return c.b.activation(l.Name+"/act", y, act)
}
