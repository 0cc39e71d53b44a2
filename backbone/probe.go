package backbone

import (
	"context"
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Probe runs a backbone up to named tensors, inner ones included, and returns
// them with their shapes: for tools that look inside the net (Grad-CAM).
type Probe struct {
	Spec    Spec
	Outputs []string

	session *session
}

// OpenProbe starts a session on model, the backbone as BatchedONNX returns
// it, that returns the named tensors.
func OpenProbe(ctx context.Context, cacheDir string, spec Spec, model []byte, outputs []string, threads int) (*Probe, error) {
	if err := initRuntime(ctx, cacheDir); err != nil {
		return nil, err
	}
	m, err := WithOutputs(model, outputs...)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	s, err := newSession(m, spec, outputs, threads)
	if err != nil {
		return nil, err
	}
	return &Probe{Spec: spec, Outputs: outputs, session: s}, nil
}

// Run runs n images laid out back to back in input, filled by Spec.Fill.
func (p *Probe) Run(input []float32, n int) ([]Tensor, error) {
	in, err := p.Spec.inputTensor(input, n)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(p.Outputs)) // nil: ONNX Runtime allocates them
	err = p.session.run([]ort.Value{in}, outs)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", p.Spec.Name, err)
	}
	res := make([]Tensor, len(outs))
	for i, v := range outs {
		t, ok := v.(*ort.Tensor[float32])
		if ok {
			res[i] = Tensor{Shape: append([]int64(nil), t.GetShape()...), Data: append([]float32(nil), t.GetData()...)}
		}
		v.Destroy()
		if !ok {
			return nil, fmt.Errorf("backbone %s: output %s is %T, not float32", p.Spec.Name, p.Outputs[i], v)
		}
	}
	return res, nil
}

// Close frees the session.
func (p *Probe) Close() error {
	if p.session == nil {
		return nil
	}
	err := p.session.destroy()
	p.session = nil
	return err
}
