// Package gradcamtest holds a test network whose Grad-CAM heatmaps are known
// by hand, and a way to give a saved head weights chosen by hand, shared by
// the gradcam package's tests and the command's.
package gradcamtest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/dogrun/dogrun/convert/onnx"
)

// RedGreen keeps an image's red and green channels (a 1x1 convolution), applies
// ReLU and averages each over the map: 2 features, one per colour. The input
// is NCHW of the given batch (-1 for any) and side; its last map is "map".
func RedGreen(batch, side int64) onnx.Graph {
	return onnx.Graph{
		Name:         "redgreen",
		Inputs:       []onnx.Value{{Name: "img", Shape: []int64{batch, 3, side, side}}},
		Outputs:      []onnx.Value{{Name: "feat", Shape: []int64{batch, 2}}},
		Initializers: []onnx.Tensor{{Name: "pick", Dims: []int64{2, 3, 1, 1}, Float: []float32{1, 0, 0, 0, 1, 0}}},
		Nodes: []onnx.Node{
			{Op: "Conv", Name: "conv", Inputs: []string{"img", "pick"}, Outputs: []string{"conv"}, Attrs: []onnx.Attr{onnx.Ints("kernel_shape", 1, 1)}},
			{Op: "Relu", Name: "relu", Inputs: []string{"conv"}, Outputs: []string{"map"}},
			{Op: "GlobalAveragePool", Name: "gap", Inputs: []string{"map"}, Outputs: []string{"gap"}},
			{Op: "Flatten", Name: "flat", Inputs: []string{"gap"}, Outputs: []string{"feat"}},
		},
	}
}

// SetWeights overwrites the weights of the head saved in dir (a checkpoint
// folder) by variable name: a head of a single layer, "/logits/weights"
// (features x classes, row-major) and "/logits/biases", has the logits one
// chooses.
func SetWeights(dir string, values map[string][]float32) error {
	js, err := os.ReadFile(filepath.Join(dir, "head.json"))
	if err != nil {
		return err
	}
	var m struct{ Variables []struct{ Name string } }
	if err := json.Unmarshal(js, &m); err != nil {
		return err
	}
	var bin []byte
	for _, v := range m.Variables {
		vals, ok := values[v.Name]
		if !ok {
			return fmt.Errorf("no values for %s", v.Name)
		}
		for _, f := range vals {
			bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(f))
		}
	}
	return os.WriteFile(filepath.Join(dir, "weights.bin"), bin, 0o644)
}
