package backbone

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// ONNXContract is how to feed a user's own ONNX model: the backbone named
// "onnx" with backbone.file and these settings.
type ONNXContract struct {
	InputSize int    // 0: the model's static input size
	Layout    string // "NCHW" or "NHWC"; "" means NCHW
	Channels  string // "RGB" or "BGR"; "" means RGB
	Mean      [3]float32
	Scale     [3]float32 // all zero means 1 1 1
	Output    string     // "": the model's only output
}

// ContractError is a problem with one setting of an ONNXContract, named as
// the experiment file's backbone field (e.g. "output").
type ContractError struct{ Field, Msg string }

func (e *ContractError) Error() string { return e.Msg }

// UserONNX is the registry name of the bring-your-own ONNX backbone.
const UserONNX = "onnx"

func init() {
	registry = append(registry, Spec{
		Name:        UserONNX,
		Description: "your own ONNX model, fed as backbone.input_size, layout, channels, mean and scale say",
		Source:      Source{Own: ".onnx (with backbone.input_size, layout, channels, mean, scale, output)"},
		License:     "your file's own terms",
		Format:      "onnx",
	})
}

// WithONNX binds the "onnx" backbone to the user's model at path: its one
// image input and the [batch, dim] output used as features are read from the
// model and checked against the contract.
func (s Spec) WithONNX(path string, c ONNXContract) (Spec, error) {
	if s.Name != UserONNX {
		return s, fmt.Errorf("%s is not the %q backbone", s.Name, UserONNX)
	}
	s, err := s.WithFile(path)
	if err != nil {
		return s, err
	}
	model, err := os.ReadFile(s.Source.Files[0].Path)
	if err != nil {
		return s, err
	}
	ins, outs, err := onnxSignature(model)
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if len(ins) != 1 {
		return s, fmt.Errorf("%s has %d inputs (%s); dogrun feeds one image input", path, len(ins), sigNames(ins))
	}
	in := ins[0]
	s.Layout, s.Channels = c.Layout, c.Channels
	if s.Layout == "" {
		s.Layout = "NCHW"
	}
	if s.Channels == "" {
		s.Channels = "RGB"
	}
	// Axes of channels, height and width for the layout.
	ch, h, w := 1, 2, 3
	if s.Layout == "NHWC" {
		ch, h, w = 3, 1, 2
	}
	if len(in.dims) != 4 || in.dims[ch] > 0 && in.dims[ch] != 3 || in.elem != 1 {
		return s, &ContractError{"layout", fmt.Sprintf("input %s is %s; layout %s takes float [batch, %s]",
			in.name, in.describe(), s.Layout, map[string]string{"NCHW": "3, size, size", "NHWC": "size, size, 3"}[s.Layout])}
	}
	s.InputSize = c.InputSize
	if s.InputSize == 0 {
		if in.dims[h] <= 0 || in.dims[h] != in.dims[w] {
			return s, &ContractError{"input_size", fmt.Sprintf("is required: input %s is %s, with no fixed square size", in.name, in.describe())}
		}
		s.InputSize = int(in.dims[h])
	}
	for _, d := range []int64{in.dims[h], in.dims[w]} {
		if d > 0 && d != int64(s.InputSize) {
			return s, &ContractError{"input_size", fmt.Sprintf("%d does not fit input %s, %s", s.InputSize, in.name, in.describe())}
		}
	}
	s.InputName = in.name
	s.Mean = c.Mean
	s.Scale = c.Scale
	if s.Scale == [3]float32{} {
		s.Scale = [3]float32{1, 1, 1}
	}
	if slices.Min(s.Scale[:]) <= 0 {
		return s, &ContractError{"scale", fmt.Sprintf("%v: every channel's scale must be > 0", s.Scale)}
	}
	var out *valueSig
	for i := range outs {
		if outs[i].name == c.Output || c.Output == "" && len(outs) == 1 {
			out = &outs[i]
		}
	}
	if out == nil {
		msg := fmt.Sprintf("the model has no output %q (has: %s)", c.Output, sigNames(outs))
		if c.Output == "" {
			msg = fmt.Sprintf("is required: the model has %d outputs (%s)", len(outs), sigNames(outs))
		}
		return s, &ContractError{"output", msg}
	}
	if len(out.dims) != 2 || out.dims[1] <= 0 {
		return s, &ContractError{"output", fmt.Sprintf("output %s is %s; features must be [batch, dim] with a fixed dim", out.name, out.describe())}
	}
	s.Cuts = []Cut{{Name: "output", Output: out.name, Dim: int(out.dims[1])}}
	return s, nil
}

// valueSig is a graph input or output: dims are -1 where symbolic.
type valueSig struct {
	name string
	elem uint64
	dims []int64
}

func (v valueSig) describe() string {
	parts := make([]string, len(v.dims))
	for i, d := range v.dims {
		parts[i] = fmt.Sprint(d)
		if d < 0 {
			parts[i] = "?"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func sigNames(vs []valueSig) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.name + " " + v.describe()
	}
	return strings.Join(names, ", ")
}

// onnxSignature reads a model's graph inputs (initializers left out) and outputs.
func onnxSignature(model []byte) (ins, outs []valueSig, err error) {
	top, err := parseFields(model)
	if err != nil {
		return nil, nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	var graph []field
	for _, f := range top {
		if f.num == modelGraph && f.typ == protowire.BytesType {
			if graph, err = parseFields(f.bytes); err != nil {
				return nil, nil, fmt.Errorf("not an ONNX model: %w", err)
			}
		}
	}
	if graph == nil {
		return nil, nil, fmt.Errorf("not an ONNX model: no graph")
	}
	inits := map[string]bool{}
	for _, f := range graph {
		if f.num == graphInitializer {
			t, err := parseFields(f.bytes)
			if err != nil {
				return nil, nil, err
			}
			inits[stringField(t, tensorName)] = true
		}
	}
	for _, f := range graph {
		if f.num != graphInput && f.num != graphOutput {
			continue
		}
		v, err := parseValueInfo(f.bytes)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case f.num == graphOutput:
			outs = append(outs, v)
		case !inits[v.name]:
			ins = append(ins, v)
		}
	}
	return ins, outs, nil
}

func parseValueInfo(b []byte) (valueSig, error) {
	vi, err := parseFields(b)
	if err != nil {
		return valueSig{}, err
	}
	v := valueSig{name: stringField(vi, valueInfoName)}
	tensor, err := nested(vi, valueInfoType, typeTensor)
	if err != nil || tensor == nil {
		return v, err
	}
	v.elem, _ = varintField(tensor, 1)
	shape, err := nested(tensor, tensorTypeShape)
	if err != nil {
		return v, err
	}
	for _, f := range shape {
		if f.num != shapeDim {
			continue
		}
		dim, err := parseFields(f.bytes)
		if err != nil {
			return v, err
		}
		d, ok := varintField(dim, 1)
		if !ok {
			v.dims = append(v.dims, -1)
			continue
		}
		v.dims = append(v.dims, int64(d))
	}
	return v, nil
}

// nested follows a path of embedded messages; nil when one is absent.
func nested(fs []field, path ...protowire.Number) ([]field, error) {
	for _, num := range path {
		var next []field
		for _, f := range fs {
			if f.num == num && f.typ == protowire.BytesType {
				var err error
				if next, err = parseFields(f.bytes); err != nil {
					return nil, err
				}
				break
			}
		}
		if next == nil {
			return nil, nil
		}
		fs = next
	}
	return fs, nil
}

func varintField(fs []field, num protowire.Number) (uint64, bool) {
	for _, f := range fs {
		if f.num == num && f.typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(f.raw[protowire.SizeTag(f.num):])
			return v, n > 0
		}
	}
	return 0, false
}
