package tfjs

import (
	"encoding/json"
	"fmt"
)

// Keras is a TF.js layers model opened to be split (backbone.freeze): its
// layers in the model file's order, their configs and their weights.
type Keras struct {
	Layers []KerasLayer

	model   *kerasModel
	weights map[string]weight
	byName  map[string]kerasLayer
}

// KerasLayer is one layer and the layers it reads.
type KerasLayer struct {
	Name, Class string
	Inputs      []string
}

// ReadKeras reads a layers model: the model JSON (or its JavaScript bundle)
// first, then its weight shards.
func ReadKeras(files []string) (*Keras, error) {
	var m layersModel
	if err := readModel(files, "layers", &m); err != nil {
		return nil, err
	}
	// Keras writes {"model_config": {...}}; TF.js itself writes the config bare.
	var top struct {
		ModelConfig *kerasModel `json:"model_config"`
	}
	var km kerasModel
	if err := json.Unmarshal(m.ModelTopology, &top); err == nil && top.ModelConfig != nil {
		km = *top.ModelConfig
	} else if err := json.Unmarshal(m.ModelTopology, &km); err != nil {
		return nil, fmt.Errorf("%s: modelTopology: %w", files[0], err)
	}
	if km.ClassName != "Model" && km.ClassName != "Functional" {
		return nil, fmt.Errorf("%s: %q models are not supported (only the functional API)", files[0], km.ClassName)
	}
	weights, err := loadWeights(m.WeightsManifest, files[1:])
	if err != nil {
		return nil, err
	}
	k := &Keras{model: &km, weights: weights, byName: map[string]kerasLayer{}}
	for _, l := range km.Config.Layers {
		kl := KerasLayer{Name: l.Name, Class: l.ClassName}
		if len(l.InboundNodes) > 1 {
			return nil, fmt.Errorf("layer %s is called %d times; shared layers are not supported", l.Name, len(l.InboundNodes))
		}
		if len(l.InboundNodes) == 1 {
			for _, ref := range l.InboundNodes[0] {
				var src string
				if len(ref) < 1 || json.Unmarshal(ref[0], &src) != nil {
					return nil, fmt.Errorf("layer %s: unreadable inbound node", l.Name)
				}
				kl.Inputs = append(kl.Inputs, src)
			}
		}
		k.Layers = append(k.Layers, kl)
		k.byName[l.Name] = l
	}
	return k, nil
}

// Config decodes the layer's config field key into v, leaving v alone when
// the field is absent or null.
func (k *Keras) Config(layer, key string, v any) error {
	l, ok := k.byName[layer]
	if !ok {
		return fmt.Errorf("no layer %q in the model", layer)
	}
	return l.get(key, v)
}

// Weight returns the layer's weight called name ("kernel", "gamma", ...) and
// its shape, in Keras's layout.
func (k *Keras) Weight(layer, name string) ([]float32, []int64, error) {
	l, ok := k.byName[layer]
	if !ok {
		return nil, nil, fmt.Errorf("no layer %q in the model", layer)
	}
	c := &layersConv{weights: k.weights}
	w, err := c.param(l, name)
	if err != nil {
		return nil, nil, err
	}
	if w.f == nil {
		return nil, nil, fmt.Errorf("weight %s/%s is not float", layer, name)
	}
	return w.f, w.shape, nil
}

// CutOutput is the graph output of a model Prefix writes.
const CutOutput = "freeze_cut"

// Prefix converts the model up to the named layer into ONNX whose output,
// CutOutput, is that layer's output flattened in Keras's (NHWC) order, and
// returns the output's shape per example: [H, W, C] for an image map.
func (k *Keras) Prefix(layer string) ([]byte, []int64, error) {
	c := &layersConv{
		b:       newBuilder("tfjs-layers"),
		layers:  k.byName,
		weights: k.weights,
		vals:    map[string]string{},
		active:  map[string]bool{},
	}
	c.b.reserve(CutOutput)
	v, err := c.value(layer)
	if err != nil {
		return nil, nil, err
	}
	s := c.b.shape[v]
	shape := s[1:]
	if len(s) == 4 {
		shape = []int64{s[2], s[3], s[1]}
	}
	c.b.output(CutOutput, c.b.flatten(layer+"/flat", v))
	b, err := c.b.model("dogrun tfjs layers converter, prefix to " + layer)
	return b, shape, err
}
