// Package keras imports Keras weight files (HDF5, as model.save_weights and
// model.save write them) for the VGGFace architectures of keras-vggface and
// emits them as ONNX graphs that ONNX Runtime runs.
package keras

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/convert/hdf5"
)

// File is an open Keras weights file.
type File struct {
	Path         string
	Layers       []string // layer_names in model order, layers without weights included
	Backend      string
	KerasVersion string

	h      *hdf5.File
	prefix string // "/" for save_weights files, "/model_weights/" for model.save
}

// Weight is one stored array of a layer, read on demand.
type Weight struct {
	Name  string // as stored, e.g. "conv1_1/kernel:0"
	Shape []int
	ds    *hdf5.Object
}

// Open reads a Keras weights file's layer list; arrays are read later by
// Weight.Read.
func Open(path string) (*File, error) {
	h, err := hdf5.Open(path)
	if err != nil {
		return nil, err
	}
	f := &File{Path: path, h: h, prefix: "/"}
	if err := f.init(); err != nil {
		h.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func (f *File) init() error {
	root, err := f.h.Get("/")
	if err != nil {
		return err
	}
	names, err := stringsAttr(root, "layer_names")
	if err != nil {
		return err
	}
	if names == nil {
		// model.save puts the weights under /model_weights.
		if g, err := f.h.Get("/model_weights"); err == nil {
			root, f.prefix = g, "/model_weights/"
			if names, err = stringsAttr(root, "layer_names"); err != nil {
				return err
			}
		}
	}
	if names == nil {
		return errors.New("no layer_names attribute: not a Keras weights file")
	}
	f.Layers = names
	f.Backend, _ = stringAttr(root, "backend")
	f.KerasVersion, _ = stringAttr(root, "keras_version")
	return nil
}

// Close releases the file.
func (f *File) Close() error { return f.h.Close() }

// HasLayer reports whether layer_names lists the layer.
func (f *File) HasLayer(name string) bool {
	for _, l := range f.Layers {
		if l == name {
			return true
		}
	}
	return false
}

// Weights returns a layer's arrays in weight_names order (Keras' own order:
// kernel, bias; gamma, beta, moving_mean, moving_variance).
func (f *File) Weights(layer string) ([]Weight, error) {
	if !f.HasLayer(layer) {
		return nil, fmt.Errorf("no layer %q", layer)
	}
	g, err := f.h.Get(f.prefix + layer)
	if err != nil {
		return nil, fmt.Errorf("layer %q: %w", layer, err)
	}
	names, err := stringsAttr(g, "weight_names")
	if err != nil {
		return nil, fmt.Errorf("layer %q: %w", layer, err)
	}
	out := make([]Weight, len(names))
	for i, n := range names {
		ds, err := f.h.Get(f.prefix + layer + "/" + n)
		if err != nil {
			return nil, fmt.Errorf("layer %q: weight %q: %w", layer, n, err)
		}
		shape, err := ds.Shape()
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", layer, err)
		}
		out[i] = Weight{Name: n, Shape: shape, ds: ds}
	}
	return out, nil
}

// Kind is the weight's role: its name's last part without the ":0" suffix,
// e.g. "kernel" or "moving_mean".
func (w Weight) Kind() string {
	k := w.Name[strings.LastIndex(w.Name, "/")+1:]
	if i := strings.LastIndex(k, ":"); i >= 0 {
		k = k[:i]
	}
	return k
}

// Read returns the values in row-major order.
func (w Weight) Read() ([]float32, error) { return w.ds.Float32s() }

// stringsAttr reads a string-list attribute, joining the name0, name1, ...
// pieces Keras writes when a list outgrows HDF5's 64 KiB header limit. It
// returns nil, nil when the attribute is absent.
func stringsAttr(o *hdf5.Object, name string) ([]string, error) {
	if v, ok, err := o.Attr(name); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return toStrings(name, v)
	}
	var out []string
	for i := 0; ; i++ {
		v, ok, err := o.Attr(name + strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		s, err := toStrings(name, v)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
}

func stringAttr(o *hdf5.Object, name string) (string, error) {
	s, err := stringsAttr(o, name)
	if err != nil || len(s) != 1 {
		return "", errors.Join(err, fmt.Errorf("attribute %s is not one string", name))
	}
	return s[0], nil
}

// toStrings accepts Keras' string lists, and an empty list, which Keras
// stores as an empty float array.
func toStrings(name string, v any) ([]string, error) {
	switch v := v.(type) {
	case []string:
		return v, nil
	case []float64:
		if len(v) == 0 {
			return []string{}, nil
		}
	}
	return nil, fmt.Errorf("attribute %s is %T, not a list of strings", name, v)
}
