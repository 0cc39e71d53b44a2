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

	session *session
}

// osThread runs functions one at a time on one locked OS thread whose
// floating-point unit flushes denormals to zero. ONNX Runtime's
// set_denormal_as_zero covers its pool threads, but the thread that calls Run
// computes too, and ONNX Runtime sets that thread's flags only when the
// process's first session is created. mobilefacenet's weights are up to 5%
// denormal: from a thread without the flags it ran at 25 img/s, with them at
// 230 (BenchmarkBackbones). The thread exits with its goroutine (it is never
// unlocked), so the flags never reach other goroutines.
type osThread struct{ calls chan func() }

func newOSThread() *osThread {
	t := &osThread{calls: make(chan func())}
	go func() {
		runtime.LockOSThread()
		flushDenormals()
		for f := range t.calls {
			f()
		}
	}()
	return t
}

// do runs f on the thread and waits for it.
func (t *osThread) do(f func()) {
	done := make(chan struct{})
	t.calls <- func() { defer close(done); f() }
	<-done
}

func (t *osThread) stop() { close(t.calls) }

// session is an ONNX Runtime session created and run on its own osThread.
type session struct {
	ort    *ort.DynamicAdvancedSession
	thread *osThread
}

func (s *session) run(inputs, outputs []ort.Value) (err error) {
	s.thread.do(func() { err = s.ort.Run(inputs, outputs) })
	return err
}

func (s *session) destroy() (err error) {
	s.thread.do(func() { err = s.ort.Destroy() })
	s.thread.stop()
	return err
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
	batched, err := BatchedONNX(ctx, cacheDir, spec)
	if err != nil {
		return nil, err
	}
	s, err := newSession(batched, spec, []string{cut.Output}, threads)
	if err != nil {
		return nil, err
	}
	return &Model{Spec: spec, Cut: cut, session: s}, nil
}

// newSession starts an ONNX Runtime session on model returning outputs, with
// threads intra-op threads (0 = one per CPU).
func newSession(model []byte, spec Spec, outputs []string, threads int) (*session, error) {
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
	// mobilefacenet's weights and some activations are denormal, which x86
	// computes far slower (see osThread). Flushing them to zero changes
	// features by under 1e-38.
	if err := opts.AddSessionConfigEntry("session.set_denormal_as_zero", "1"); err != nil {
		return nil, err
	}
	s := &session{thread: newOSThread()}
	s.thread.do(func() {
		s.ort, err = ort.NewDynamicAdvancedSessionWithONNXData(model, []string{spec.InputName}, outputs, opts)
	})
	if err != nil {
		s.thread.stop()
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	return s, nil
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
	err := m.session.destroy()
	m.session = nil
	return err
}

// InputLen is the number of floats one image takes.
func (m *Model) InputLen() int { return 3 * m.Spec.InputSize * m.Spec.InputSize }

// Forward runs n images laid out back to back in input and returns n*Cut.Dim features.
func (m *Model) Forward(input []float32, n int) ([]float32, error) {
	in, err := m.Spec.inputTensor(input, n)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n), int64(m.Cut.Dim)))
	if err != nil {
		return nil, err
	}
	defer out.Destroy()
	err = m.session.run([]ort.Value{in}, []ort.Value{out})
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", m.Spec.Name, err)
	}
	return append([]float32(nil), out.GetData()...), nil
}

// inputTensor wraps n images laid out back to back in input, as Fill writes
// them, in the tensor shape the network takes.
func (s Spec) inputTensor(input []float32, n int) (*ort.Tensor[float32], error) {
	side := int64(s.InputSize)
	if want := n * 3 * s.InputSize * s.InputSize; len(input) != want {
		return nil, fmt.Errorf("backbone %s: input has %d floats, want %d", s.Name, len(input), want)
	}
	shape := ort.NewShape(int64(n), 3, side, side)
	if s.Layout == "NHWC" {
		shape = ort.NewShape(int64(n), side, side, 3)
	}
	return ort.NewTensor(shape, input)
}

// Fill writes the network input for img, which must be InputSize square, into dst.
func (m *Model) Fill(dst []float32, img *image.RGBA) { m.Spec.Fill(dst, img) }

// Fill writes the network input for img, which must be InputSize square, into dst.
func (s Spec) Fill(dst []float32, img *image.RGBA) {
	size := s.InputSize
	if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
		panic(fmt.Sprintf("backbone %s: image is %dx%d, want %dx%d", s.Name, b.Dx(), b.Dy(), size, size))
	}
	order := [3]int{0, 1, 2}
	if s.Channels == "BGR" {
		order = [3]int{2, 1, 0}
	}
	plane := size * size
	for y := 0; y < size; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*size]
		for x := 0; x < size; x++ {
			p := row[4*x : 4*x+3]
			for c, src := range order {
				v := (float32(p[src]) - s.Mean[c]) * s.Scale[c]
				if s.Layout == "NHWC" {
					dst[(y*size+x)*3+c] = v
				} else {
					dst[c*plane+y*size+x] = v
				}
			}
		}
	}
}
