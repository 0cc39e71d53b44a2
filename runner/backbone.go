package runner

import (
	"errors"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/schemas"
)

// ResolveBackbone finds a trial's backbone and cut, binding the user's own
// file for a bring-your-own backbone. Errors point at the field responsible
// in the experiment file.
func ResolveBackbone(exp *schemas.Experiment, b schemas.Backbone) (backbone.Spec, backbone.Cut, error) {
	spec, err := backbone.Lookup(baseName(b.Name))
	if err != nil {
		return spec, backbone.Cut{}, exp.ErrorAt("backbone.name", err.Error())
	}
	if field := contractField(b); field != "" && spec.Name != backbone.UserONNX {
		return spec, backbone.Cut{}, exp.ErrorAt("backbone."+field, "is only for name: "+backbone.UserONNX+" (your own .onnx)")
	}
	switch {
	case b.File != "" && spec.Name == backbone.UserONNX:
		spec, err = spec.WithONNX(schemas.BackboneFile(exp, b), backbone.ONNXContract{
			InputSize: b.InputSize, Layout: b.Layout, Channels: b.Channels,
			Mean: f32(b.Mean), Scale: f32(b.Scale), Output: b.Output,
		})
		var ce *backbone.ContractError
		if errors.As(err, &ce) {
			return spec, backbone.Cut{}, exp.ErrorAt("backbone."+ce.Field, ce.Msg)
		}
		if err != nil {
			return spec, backbone.Cut{}, exp.ErrorAt("backbone.file", err.Error())
		}
	case b.File != "":
		if spec, err = spec.WithFile(schemas.BackboneFile(exp, b)); err != nil {
			return spec, backbone.Cut{}, exp.ErrorAt("backbone.file", err.Error())
		}
	case spec.NeedsFile():
		return spec, backbone.Cut{}, exp.ErrorAt("backbone.file", "is required: "+spec.FileHint())
	}
	cut, err := spec.Cut(b.Cut)
	if err != nil {
		if why := spec.LackingCut(b.Cut); why != "" {
			return spec, cut, exp.ErrorAt("backbone.cut", why)
		}
		return spec, cut, exp.ErrorAt("backbone.cut", err.Error())
	}
	return spec, cut, nil
}

// contractField names the first input-contract setting given, "" for none.
func contractField(b schemas.Backbone) string {
	switch {
	case b.InputSize != 0:
		return "input_size"
	case b.Layout != "":
		return "layout"
	case b.Channels != "":
		return "channels"
	case b.Mean != [3]float64{}:
		return "mean"
	case b.Scale != [3]float64{}:
		return "scale"
	case b.Output != "":
		return "output"
	}
	return ""
}

func f32(v [3]float64) [3]float32 { return [3]float32{float32(v[0]), float32(v[1]), float32(v[2])} }
