package backbone

import (
	"context"
	"fmt"
	"image"
	"os"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

var runtimeInit struct {
	sync.Mutex
	done bool
}

// initRuntime loads libonnxruntime once per process.
func initRuntime(ctx context.Context, cacheDir string) error {
	runtimeInit.Lock()
	defer runtimeInit.Unlock()
	if runtimeInit.done {
		return nil
	}
	lib, err := Fetch(ctx, cacheDir, ONNXRuntime.Source, ONNXRuntime.SHA256)
	if err != nil {
		return fmt.Errorf("onnx runtime: %w", err)
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("onnx runtime %s: %w", lib, err)
	}
	runtimeInit.done = true
	return nil
}

// Model is one backbone loaded into an ONNX Runtime session.
type Model struct {
	Spec Spec
	File string // the verified weights file

	mu      sync.Mutex // a session runs one batch at a time
	session *ort.DynamicAdvancedSession
}

// Open fetches and verifies the backbone and starts a session with threads intra-op
// threads (0 = one per CPU).
func Open(ctx context.Context, cacheDir string, spec Spec, threads int) (*Model, error) {
	if err := initRuntime(ctx, cacheDir); err != nil {
		return nil, err
	}
	file, err := Fetch(ctx, cacheDir, spec.Source, spec.SHA256)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	batched, err := BatchDynamic(raw)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, err
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(batched, []string{spec.InputName}, []string{spec.OutputName}, opts)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	return &Model{Spec: spec, File: file, session: s}, nil
}

// Close frees the session.
func (m *Model) Close() error {
	if m.session == nil {
		return nil
	}
	err := m.session.Destroy()
	m.session = nil
	return err
}

// InputLen is the number of floats one image takes.
func (m *Model) InputLen() int { return 3 * m.Spec.InputSize * m.Spec.InputSize }

// Forward runs n images laid out back to back in input and returns n*Dim features.
func (m *Model) Forward(input []float32, n int) ([]float32, error) {
	if len(input) != n*m.InputLen() {
		return nil, fmt.Errorf("backbone %s: input has %d floats, want %d", m.Spec.Name, len(input), n*m.InputLen())
	}
	s := int64(m.Spec.InputSize)
	shape := ort.NewShape(int64(n), 3, s, s)
	if m.Spec.Layout == "NHWC" {
		shape = ort.NewShape(int64(n), s, s, 3)
	}
	in, err := ort.NewTensor(shape, input)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n), int64(m.Spec.Dim)))
	if err != nil {
		return nil, err
	}
	defer out.Destroy()
	m.mu.Lock()
	err = m.session.Run([]ort.Value{in}, []ort.Value{out})
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", m.Spec.Name, err)
	}
	return append([]float32(nil), out.GetData()...), nil
}

// Fill writes the network input for img, which must be InputSize square, into dst.
func (m *Model) Fill(dst []float32, img *image.RGBA) {
	size := m.Spec.InputSize
	if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
		panic(fmt.Sprintf("backbone %s: image is %dx%d, want %dx%d", m.Spec.Name, b.Dx(), b.Dy(), size, size))
	}
	order := [3]int{0, 1, 2}
	if m.Spec.Channels == "BGR" {
		order = [3]int{2, 1, 0}
	}
	plane := size * size
	for y := 0; y < size; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*size]
		for x := 0; x < size; x++ {
			p := row[4*x : 4*x+3]
			for c, src := range order {
				v := (float32(p[src]) - m.Spec.Mean[c]) * m.Spec.Scale[c]
				if m.Spec.Layout == "NHWC" {
					dst[(y*size+x)*3+c] = v
				} else {
					dst[c*plane+y*size+x] = v
				}
			}
		}
	}
}
