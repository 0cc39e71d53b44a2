package backbone

import (
	"context"
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Tensor is a float32 array with its shape.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// Eval runs an ONNX model once on one float32 input and returns the named
// outputs with their shapes. Importers and parity tests use it to run a
// converted graph exactly as ONNX Runtime will during extraction.
func Eval(ctx context.Context, cacheDir string, model []byte, input string, x Tensor, outputs ...string) ([]Tensor, error) {
	if err := initRuntime(ctx, cacheDir); err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{input}, outputs, nil)
	if err != nil {
		return nil, err
	}
	defer s.Destroy()
	in, err := ort.NewTensor(ort.NewShape(x.Shape...), x.Data)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(outputs))
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		return nil, err
	}
	res := make([]Tensor, len(outs))
	for i, v := range outs {
		t, ok := v.(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("output %s is %T, not float32", outputs[i], v)
		}
		res[i] = Tensor{Shape: append([]int64(nil), t.GetShape()...), Data: append([]float32(nil), t.GetData()...)}
		v.Destroy()
	}
	return res, nil
}
