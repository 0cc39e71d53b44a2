package train

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// manifest is the JSON half of a checkpoint; the weights follow in weights.bin as
// little-endian float32, variable after variable in manifest order. A plain format
// keeps checkpoints readable without GoMLX.
type manifest struct {
	Format    string     `json:"format"`
	Config    Config     `json:"config"`
	Classes   int        `json:"classes"`
	Dim       int        `json:"dim"`
	Variables []variable `json:"variables"`
	Prep      *prep      `json:"prep,omitempty"` // absent: no preprocessing
}

type variable struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

const checkpointFormat = "dogrun-head-v1"

// Save writes the head's weights to dir (head.json and weights.bin), atomically per file.
func (h *Head) Save(dir string) error {
	w, err := h.weights()
	if err != nil {
		return err
	}
	m := manifest{Format: checkpointFormat, Config: h.Config, Classes: h.Classes, Dim: h.Dim, Prep: h.prep}
	names := make([]string, 0, len(w))
	for name := range w {
		names = append(names, name)
	}
	sort.Strings(names)
	shapes := map[string][]int{}
	if h.net != nil {
		for _, n := range []*net{h.net, h.proto} {
			if n == nil {
				continue
			}
			for _, t := range n.tensors {
				shapes[t.name] = t.shape
			}
		}
	} else {
		shapes = h.graph.shapes()
	}
	var bin []byte
	for _, name := range names {
		m.Variables = append(m.Variables, variable{Name: name, Shape: shapes[name]})
		for _, f := range w[name] {
			bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(f))
		}
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "weights.bin"), bin); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "head.json"), js)
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Load reads a head saved by Save. Heads without a trunk load onto the
// native engine whichever engine trained them: the variables are the same.
func Load(dir string) (*Head, error) {
	js, err := os.ReadFile(filepath.Join(dir, "head.json"))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if m.Format != checkpointFormat {
		return nil, fmt.Errorf("%s: checkpoint format %q, want %q", dir, m.Format, checkpointFormat)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "weights.bin"))
	if err != nil {
		return nil, err
	}
	w := map[string][]float32{}
	for _, v := range m.Variables {
		n := 1
		for _, d := range v.Shape {
			n *= d
		}
		if len(bin) < 4*n {
			return nil, fmt.Errorf("%s: weights.bin too short for %s", dir, v.Name)
		}
		flat := make([]float32, n)
		for i := range flat {
			flat[i] = math.Float32frombits(binary.LittleEndian.Uint32(bin[4*i:]))
		}
		bin = bin[4*n:]
		w[v.Name] = flat
	}
	if len(bin) != 0 {
		return nil, fmt.Errorf("%s: weights.bin has %d bytes more than head.json describes", dir, len(bin))
	}
	h := &Head{Config: m.Config, Classes: m.Classes, Dim: m.Dim, prep: m.Prep}
	if m.Config.Trunk != nil {
		if h.graph, err = newGraph(h); err != nil {
			return nil, err
		}
		// Variables exist once a graph has been built: predict one row, then overwrite.
		if _, err := h.Predict(Data{X: make([]float32, m.Dim), Dim: m.Dim}); err != nil {
			return nil, err
		}
		return h, h.graph.setWeights(w)
	}
	if h.net, err = newNet(m.Config, m.Dim, m.Classes); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	nets := []*net{h.net}
	if m.Config.Type == CosinePrototype {
		if h.proto, err = newNetScoped(Config{Type: "cosine"}, m.Dim, m.Classes, prototypeScope); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		nets = append(nets, h.proto)
	}
	shapes := map[string][]int{}
	for _, v := range m.Variables {
		shapes[v.Name] = v.Shape
	}
	made := 0
	for _, n := range nets {
		made += len(n.tensors)
	}
	if len(shapes) != made {
		return nil, fmt.Errorf("%s: head.json lists %d variables, its config makes %d", dir, len(shapes), made)
	}
	for _, n := range nets {
		for _, t := range n.tensors {
			if shape, ok := shapes[t.name]; !ok || !slices.Equal(shape, t.shape) {
				return nil, fmt.Errorf("%s: head.json has no variable %s of shape %v", dir, t.name, t.shape)
			}
			copy(n.params[t.off:], w[t.name])
		}
	}
	return h, nil
}
