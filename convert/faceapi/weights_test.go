package faceapi_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/convert/faceapi"
)

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A group spread over two shards, with a uint8, a uint16 and a plain float32
// weight, decodes as TF.js does: q*scale + min.
func TestLoadWeightsDequantizes(t *testing.T) {
	dir := t.TempDir()
	manifest := writeFile(t, filepath.Join(dir, "m.json"), []byte(`[{"paths": ["a.bin", "b.bin"], "weights": [
		{"name": "q8", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "uint8", "min": -1, "scale": 0.5}},
		{"name": "q16", "shape": [1], "dtype": "float32", "quantization": {"dtype": "uint16", "min": 10, "scale": 0.25}},
		{"name": "f", "shape": [2], "dtype": "float32"}]}]`))
	data := []byte{0, 1, 2, 255, 0, 0}
	binary.LittleEndian.PutUint16(data[4:], 1000)
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(1.5))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(-2.25))
	a := writeFile(t, filepath.Join(dir, "a.bin"), data[:5]) // a shard boundary inside q16
	b := writeFile(t, filepath.Join(dir, "b.bin"), data[5:])
	w, err := faceapi.LoadWeights(manifest, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"q8": {-1, -0.5, 0, 126.5}, "q16": {260}, "f": {1.5, -2.25}}
	for name, vals := range want {
		got := w[name].Data
		if len(got) != len(vals) {
			t.Fatalf("%s: %v, want %v", name, got, vals)
		}
		for i := range vals {
			if got[i] != vals[i] {
				t.Errorf("%s: %v, want %v", name, got, vals)
				break
			}
		}
	}
	if s := w["q8"].Shape; len(s) != 2 || s[0] != 2 || s[1] != 2 {
		t.Errorf("q8 shape %v", s)
	}
}

func TestLoadWeightsRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	manifest := writeFile(t, filepath.Join(dir, "m.json"), []byte(`[{"paths": ["a.bin"], "weights": [
		{"name": "q", "shape": [4], "dtype": "float32", "quantization": {"dtype": "uint8", "min": 0, "scale": 1}}]}]`))
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"short", "a.bin", []byte{1, 2, 3}, "needs bytes 0..4"},
		{"long", "a.bin", []byte{1, 2, 3, 4, 5}, "shards hold 5"},
		{"other shard", "c.bin", []byte{1, 2, 3, 4}, `names shard "a.bin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shard := writeFile(t, filepath.Join(t.TempDir(), tc.file), tc.data)
			_, err := faceapi.LoadWeights(manifest, []string{shard})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Weights the architecture does not consume mean the manifest is not the one
// the graph was written for.
func TestRecognitionNetRejectsForeignWeights(t *testing.T) {
	_, err := faceapi.RecognitionNet(map[string]faceapi.Weight{"fc": {Shape: []int{256, 128}}})
	if err == nil || !strings.Contains(err.Error(), "conv32_down/conv/filters missing") {
		t.Fatalf("got %v, want a missing-weight error", err)
	}
}
