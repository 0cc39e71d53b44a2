package tfjs

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// WeightGroup is one entry of a model JSON's weightsManifest: shard files whose
// bytes, concatenated, hold the listed weights back to back.
type WeightGroup struct {
	Paths   []string     `json:"paths"`
	Weights []WeightSpec `json:"weights"`
}

// WeightSpec describes one weight in the shards.
type WeightSpec struct {
	Name         string        `json:"name"`
	Shape        []int64       `json:"shape"`
	DType        string        `json:"dtype"` // float32 or int32
	Quantization *Quantization `json:"quantization"`
}

// Quantization says how a weight is stored when not in its own dtype:
// uint8/uint16 values v mean v*Scale + Min; float16 is IEEE half precision.
type Quantization struct {
	DType string  `json:"dtype"`
	Min   float64 `json:"min"`
	Scale float64 `json:"scale"`
}

// weight is a decoded weight; exactly one of f, i is set.
type weight struct {
	shape []int64
	f     []float32
	i     []int64
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// shardFile finds the local file of manifest path p among files: the same base
// name, possibly wrapped as a JavaScript bundle (p + ".min.js").
func shardFile(p string, files []string) (string, bool, error) {
	base := filepath.Base(p)
	for _, f := range files {
		switch filepath.Base(f) {
		case base:
			return f, false, nil
		case base + ".min.js", base + ".js":
			return f, true, nil
		}
	}
	return "", false, fmt.Errorf("weight shard %s is not among the source files", p)
}

// loadWeights reads every group's shards from files and decodes the weights the
// way TF.js does: groups and paths in manifest order, each group's weights laid
// out back to back, quantized values dequantized in float64 then rounded to
// float32.
func loadWeights(manifest []WeightGroup, files []string) (map[string]weight, error) {
	out := map[string]weight{}
	for _, g := range manifest {
		var data []byte
		for _, p := range g.Paths {
			f, isJS, err := shardFile(p, files)
			if err != nil {
				return nil, err
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			b, err := readWeights(raw, isJS)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			data = append(data, b...)
		}
		off := 0
		for _, s := range g.Weights {
			w, n, err := decodeWeight(s, data[off:])
			if err != nil {
				return nil, fmt.Errorf("weights of %s: %w", strings.Join(g.Paths, ","), err)
			}
			out[s.Name] = w
			off += n
		}
		if off != len(data) {
			return nil, fmt.Errorf("weights of %s: manifest covers %d bytes, shards have %d", strings.Join(g.Paths, ","), off, len(data))
		}
	}
	return out, nil
}

// decodeWeight decodes s from the start of b and returns how many bytes it took.
func decodeWeight(s WeightSpec, b []byte) (weight, int, error) {
	n := int(numel(s.Shape))
	w := weight{shape: s.Shape}
	stored := s.DType
	if s.Quantization != nil {
		stored = s.Quantization.DType
	}
	size := map[string]int{"float32": 4, "int32": 4, "uint8": 1, "uint16": 2, "float16": 2}[stored]
	if size == 0 {
		return w, 0, fmt.Errorf("%s: unsupported storage type %q", s.Name, stored)
	}
	if s.DType != "float32" && s.DType != "int32" {
		return w, 0, fmt.Errorf("%s: unsupported dtype %q", s.Name, s.DType)
	}
	if len(b) < n*size {
		return w, 0, fmt.Errorf("%s: needs %d bytes, %d left", s.Name, n*size, len(b))
	}
	vals := make([]float64, n)
	for k := range vals {
		switch stored {
		case "float32":
			vals[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:])))
		case "int32":
			vals[k] = float64(int32(binary.LittleEndian.Uint32(b[4*k:])))
		case "uint8":
			vals[k] = float64(b[k])*s.Quantization.Scale + s.Quantization.Min
		case "uint16":
			vals[k] = float64(binary.LittleEndian.Uint16(b[2*k:]))*s.Quantization.Scale + s.Quantization.Min
		case "float16":
			vals[k] = float64(halfToFloat(binary.LittleEndian.Uint16(b[2*k:])))
		}
	}
	if s.DType == "int32" {
		w.i = make([]int64, n)
		for k, v := range vals {
			w.i[k] = int64(math.Floor(v + 0.5)) // JavaScript's Math.round
		}
	} else {
		w.f = make([]float32, n)
		for k, v := range vals {
			w.f[k] = float32(v)
		}
	}
	return w, n * size, nil
}

// halfToFloat widens an IEEE 754 half-precision value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value frac * 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}
