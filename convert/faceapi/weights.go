// Package faceapi converts face-api.js models (TF.js weights manifests whose
// architecture lives in face-api's code, not in the files) into ONNX graphs.
package faceapi

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Weight is one dequantized tensor of a manifest, in the manifest's own shape
// and (TensorFlow) layout.
type Weight struct {
	Shape []int
	Data  []float32
}

type manifestGroup struct {
	Paths   []string `json:"paths"`
	Weights []struct {
		Name         string `json:"name"`
		Shape        []int  `json:"shape"`
		Dtype        string `json:"dtype"`
		Quantization *struct {
			Dtype string   `json:"dtype"`
			Min   *float64 `json:"min"`
			Scale *float64 `json:"scale"`
		} `json:"quantization"`
	} `json:"weights"`
}

// LoadWeights reads a TF.js weights manifest and its shards. shards must be the
// files the manifest's paths name, in order across groups; they are passed
// explicitly so that only checksummed files are ever read.
func LoadWeights(manifest string, shards []string) (map[string]Weight, error) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		return nil, err
	}
	var groups []manifestGroup
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("%s: %w", manifest, err)
	}
	out := map[string]Weight{}
	next := 0
	for gi, g := range groups {
		// A group's weights are laid out back to back over its shards.
		var data []byte
		for _, p := range g.Paths {
			if next >= len(shards) {
				return nil, fmt.Errorf("%s: group %d names shard %q, but only %d shard files were given", manifest, gi, p, len(shards))
			}
			if filepath.Base(shards[next]) != filepath.Base(p) {
				return nil, fmt.Errorf("%s: group %d names shard %q, got file %s", manifest, gi, p, shards[next])
			}
			b, err := os.ReadFile(shards[next])
			if err != nil {
				return nil, err
			}
			data = append(data, b...)
			next++
		}
		off := 0
		for _, w := range g.Weights {
			n := 1
			for _, d := range w.Shape {
				n *= d
			}
			if w.Dtype != "float32" {
				return nil, fmt.Errorf("%s: weight %s has dtype %q; only float32 is supported", manifest, w.Name, w.Dtype)
			}
			q := w.Quantization
			width := 4 // bytes per stored value
			switch {
			case q == nil:
			case q.Dtype == "uint8":
				width = 1
			case q.Dtype == "uint16":
				width = 2
			default:
				return nil, fmt.Errorf("%s: weight %s has unsupported quantization %q", manifest, w.Name, q.Dtype)
			}
			if q != nil && (q.Min == nil || q.Scale == nil) {
				return nil, fmt.Errorf("%s: weight %s: %s quantization without min and scale", manifest, w.Name, q.Dtype)
			}
			if off+width*n > len(data) {
				return nil, fmt.Errorf("%s: weight %s needs bytes %d..%d, group %d has %d", manifest, w.Name, off, off+width*n, gi, len(data))
			}
			b := data[off : off+width*n]
			vals := make([]float32, n)
			for i := range vals {
				switch width {
				case 4:
					vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				case 2:
					// TF.js computes q*scale+min in float64 and stores it as float32.
					vals[i] = float32(float64(binary.LittleEndian.Uint16(b[2*i:]))**q.Scale + *q.Min)
				case 1:
					vals[i] = float32(float64(b[i])**q.Scale + *q.Min)
				}
			}
			if _, dup := out[w.Name]; dup {
				return nil, fmt.Errorf("%s: weight %s appears twice", manifest, w.Name)
			}
			out[w.Name] = Weight{Shape: w.Shape, Data: vals}
			off += width * n
		}
		if off != len(data) {
			return nil, fmt.Errorf("%s: group %d: weights take %d bytes, shards hold %d", manifest, gi, off, len(data))
		}
	}
	if next != len(shards) {
		return nil, fmt.Errorf("%s: names %d shards, %d files were given", manifest, next, len(shards))
	}
	return out, nil
}
