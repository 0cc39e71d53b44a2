// Package kerastest makes keras-vggface weight files for tests: random weights
// with keras-vggface's layer names and shapes, written by h5py exactly as Keras
// lays them out, and a forward pass of each architecture written directly in
// GoMLX (channels-last, Keras' kernels as they are), independent of package
// keras' ONNX builder.
package kerastest

import (
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/internal/needs"
)

// Weight is one array of a layer.
type Weight struct {
	Name  string // as stored, e.g. "conv1_1/kernel:0"
	Kind  string // kernel, bias, gamma, beta, moving_mean or moving_variance
	Shape []int
	Data  []float32
}

// Layer is a Keras layer in model order; most layers have no weights.
type Layer struct {
	Name    string
	Weights []Weight
}

// Params are a model's layers with random weights, made on first use. Each
// array is drawn from the seed and its own name, so it does not depend on the
// order in which layers are visited.
type Params struct {
	Seed   uint64
	Layers []Layer
	// KernelStd overrides a layer's kernel standard deviation, e.g. to keep a
	// classifier's softmax from saturating on random activations.
	KernelStd map[string]float64
	index     map[string]int
}

// NewParams returns empty parameters drawn from seed.
func NewParams(seed uint64) *Params {
	return &Params{Seed: seed, KernelStd: map[string]float64{}, index: map[string]int{}}
}

func (p *Params) layer(name string) *Layer {
	i, ok := p.index[name]
	if !ok {
		i = len(p.Layers)
		p.index[name] = i
		p.Layers = append(p.Layers, Layer{Name: name})
	}
	return &p.Layers[i]
}

// Plain records a layer without weights (activations, pooling, ...), as
// layer_names lists them.
func (p *Params) Plain(name string) { p.layer(name) }

// W returns the layer's array of the given kind, drawing it the first time:
// kernels He-scaled, BatchNormalization statistics around their usual values.
func (p *Params) W(layer, kind string, shape ...int) []float32 {
	l := p.layer(layer)
	for _, w := range l.Weights {
		if w.Kind == kind {
			return w.Data
		}
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	h := fnv.New64a()
	h.Write([]byte(layer + "\x00" + kind))
	rng := rand.New(rand.NewPCG(p.Seed, h.Sum64()))
	data := make([]float32, n)
	std, ok := p.KernelStd[layer]
	if !ok {
		std = math.Sqrt(2 / float64(n/shape[len(shape)-1]))
	}
	for i := range data {
		var v float64
		switch kind {
		case "kernel":
			v = rng.NormFloat64() * std
		case "gamma", "moving_variance":
			v = 0.5 + rng.Float64()
		default:
			v = 0.1 * rng.NormFloat64()
		}
		data[i] = float32(v)
	}
	l.Weights = append(l.Weights, Weight{Name: layer + "/" + kind + ":0", Kind: kind, Shape: shape, Data: data})
	return data
}

// Without returns a copy of the parameters without the named layers (the
// include_top=False file of the same weights).
func (p *Params) Without(names ...string) *Params {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	q := NewParams(p.Seed)
	q.KernelStd = p.KernelStd
	for _, l := range p.Layers {
		if !drop[l.Name] {
			q.index[l.Name] = len(q.Layers)
			q.Layers = append(q.Layers, l)
		}
	}
	return q
}

// Layout says how WriteH5 lays a file out, to cover what Keras versions write.
type Layout struct {
	ModelWeights    bool   // under /model_weights, as model.save does
	Gzip            bool   // chunked, gzip-compressed datasets
	LayerNamePieces int    // split layer_names into layer_names0, 1, ... as Keras does for long lists
	Scope           string // suffix of the TensorFlow name scope in weight names, e.g. "_1" in "fc6_1/kernel:0"
}

//go:embed write_h5.py
var writeScript []byte

// WriteH5 writes p as a Keras weights file at path with h5py.
func WriteH5(path string, p *Params, layout Layout) error {
	python, err := Python()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kerastest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	type mweight struct {
		Name   string `json:"name"`
		Shape  []int  `json:"shape"`
		Offset int    `json:"offset"`
	}
	type mlayer struct {
		Name    string    `json:"name"`
		Weights []mweight `json:"weights"`
	}
	manifest := struct {
		Path            string   `json:"path"`
		Raw             string   `json:"raw"`
		ModelWeights    bool     `json:"model_weights"`
		Gzip            bool     `json:"gzip"`
		LayerNamePieces int      `json:"layer_name_pieces"`
		Layers          []mlayer `json:"layers"`
	}{Path: path, Raw: filepath.Join(dir, "weights.f32"), ModelWeights: layout.ModelWeights,
		Gzip: layout.Gzip, LayerNamePieces: layout.LayerNamePieces}
	raw, err := os.Create(manifest.Raw)
	if err != nil {
		return err
	}
	offset := 0
	buf := make([]byte, 4)
	for _, l := range p.Layers {
		ml := mlayer{Name: l.Name, Weights: []mweight{}}
		for _, w := range l.Weights {
			name := w.Name
			if layout.Scope != "" {
				name = strings.TrimSuffix(name, "/"+w.Kind+":0") + layout.Scope + "/" + w.Kind + ":0"
			}
			ml.Weights = append(ml.Weights, mweight{Name: name, Shape: w.Shape, Offset: offset})
			b := make([]byte, 0, 4*len(w.Data))
			for _, v := range w.Data {
				binary.LittleEndian.PutUint32(buf, math.Float32bits(v))
				b = append(b, buf...)
			}
			if _, err := raw.Write(b); err != nil {
				raw.Close()
				return err
			}
			offset += len(w.Data)
		}
		manifest.Layers = append(manifest.Layers, ml)
	}
	if err := raw.Close(); err != nil {
		return err
	}
	js, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	mpath := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(mpath, js, 0o644); err != nil {
		return err
	}
	spath := filepath.Join(dir, "write_h5.py")
	if err := os.WriteFile(spath, writeScript, 0o644); err != nil {
		return err
	}
	out, err := exec.Command(python, spath, mpath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("writing %s with h5py: %v: %s", path, err, out)
	}
	return nil
}

// Python returns a python3 that can import h5py: the one on PATH, else
// Debian's, where scripts/bootstrap installs python3-h5py.
func Python() (string, error) {
	for _, c := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import h5py").Run() == nil {
			return path, nil
		}
	}
	return "", errors.New("no python3 with h5py: run scripts/bootstrap (it installs Debian's python3-h5py)")
}

// Need skips the test when no python3 has h5py, or fails it under CI=true,
// where scripts/bootstrap --test must have installed it.
func Need(t testing.TB) {
	t.Helper()
	_, err := Python()
	needs.Met(t, err)
}
