package backbone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"path/filepath"
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
	lib, err := Fetch(ctx, cacheDir, ONNXRuntime.Source)
	if err != nil {
		return fmt.Errorf("onnx runtime: %w", err)
	}
	ort.SetSharedLibraryPath(lib[0])
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("onnx runtime %s: %w", lib[0], err)
	}
	runtimeInit.done = true
	return nil
}

// Model is one backbone loaded into an ONNX Runtime session, cut at one output.
type Model struct {
	Spec Spec
	Cut  Cut

	mu      sync.Mutex // a session runs one batch at a time
	session *ort.DynamicAdvancedSession
}

// Open fetches, verifies and if needed converts the backbone, and starts a
// session that returns the named cut ("" = default) with threads intra-op threads
// (0 = one per CPU).
func Open(ctx context.Context, cacheDir string, spec Spec, cutName string, threads int) (*Model, error) {
	cut, err := spec.Cut(cutName)
	if err != nil {
		return nil, err
	}
	if err := initRuntime(ctx, cacheDir); err != nil {
		return nil, err
	}
	raw, err := ONNX(ctx, cacheDir, spec)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
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
	// On some inputs mobilefacenet's activations go denormal, which x86
	// computes far slower (3x per image on a synthetic input, measured with
	// ORT's profiler). Flushing them to zero changes features by under 1e-38.
	if err := opts.AddSessionConfigEntry("session.set_denormal_as_zero", "1"); err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(batched, []string{spec.InputName}, []string{cut.Output}, opts)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	return &Model{Spec: spec, Cut: cut, session: s}, nil
}

// ONNX returns the backbone as an ONNX model: the fetched file itself, or its
// conversion, made once and kept in the cache under the backbone's identity.
func ONNX(ctx context.Context, cacheDir string, spec Spec) ([]byte, error) {
	files, err := Fetch(ctx, cacheDir, spec.Source)
	if err != nil {
		return nil, err
	}
	if spec.Convert == nil {
		return os.ReadFile(files[0])
	}
	path := filepath.Join(cacheDir, "converted", spec.Name+"-"+spec.SHA256()[:16]+".onnx")
	if b, err := os.ReadFile(path); err == nil {
		return b, nil
	}
	b, err := spec.Convert(files)
	if err != nil {
		return nil, fmt.Errorf("converting %s: %w", spec.Source, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return b, writeChecked(bytes.NewReader(b), path, sha256Hex(b))
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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

// Forward runs n images laid out back to back in input and returns n*Cut.Dim features.
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
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n), int64(m.Cut.Dim)))
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
