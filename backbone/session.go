package backbone

import (
	"context"
	"errors"
	"fmt"
	"image"
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

// Model is one backbone cut at one or more outputs, loaded into a few ONNX
// Runtime sessions that serve Forward calls concurrently.
type Model struct {
	Spec Spec
	Cut  Cut   // Cuts[0]
	Cuts []Cut // each output a forward pass returns, computed together

	sessions []*session
	idle     chan *session
}

// maxSessions bounds the weights held in memory once per session; past it,
// the threads are split among the sessions.
const maxSessions = 4

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

// Open fetches, verifies and if needed converts the backbone, and starts
// sessions that return the named cut ("" = default) on threads CPU threads in
// all (0 = one per CPU): one single-threaded session per thread, up to
// maxSessions. Extract gives each session a worker that decodes its next
// batch while the other sessions infer. That beats one session whose threads
// split every operator: a thread that stops to decode a JPEG stalls its peer
// at the operator's end, which cost 10-15% of extraction throughput on 2
// cores (docs/backbones.md, "Sessions").
func Open(ctx context.Context, cacheDir string, spec Spec, cutName string, threads int) (*Model, error) {
	cut, err := spec.Cut(cutName)
	if err != nil {
		return nil, err
	}
	return OpenCuts(ctx, cacheDir, spec, []Cut{cut}, threads)
}

// OpenCuts is Open for several cuts of one backbone at once (map cuts
// pooled, see Cut.Pooled): one pass through the network computes them all,
// so that extracting several depths costs about what one does.
func OpenCuts(ctx context.Context, cacheDir string, spec Spec, cuts []Cut, threads int) (*Model, error) {
	if len(cuts) == 0 {
		return nil, fmt.Errorf("backbone %s: no cut to open", spec.Name)
	}
	outputs := make([]string, len(cuts))
	for i, c := range cuts {
		if c.Map && c.Pool == "" {
			return nil, fmt.Errorf("backbone %s: cut %s is an inner map [batch, %d, H, W]; pool it to a vector first (features.pool)", spec.Name, c.Name, c.Dim)
		}
		outputs[i] = c.sessionOutput()
	}
	if err := initRuntime(ctx, cacheDir); err != nil {
		return nil, err
	}
	batched, err := BatchedONNX(ctx, cacheDir, spec)
	if err != nil {
		return nil, err
	}
	if batched, err = withPooling(batched, cuts); err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	n := min(threads, maxSessions)
	m := &Model{Spec: spec, Cut: cuts[0], Cuts: cuts, idle: make(chan *session, n)}
	for i := range n {
		sessionThreads := threads / n
		if i < threads%n { // the threads left over go to the first sessions
			sessionThreads++
		}
		s, err := newSession(batched, spec, outputs, sessionThreads)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.sessions = append(m.sessions, s)
		m.idle <- s
	}
	return m, nil
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

// Close frees the sessions; no Forward may be running.
func (m *Model) Close() error {
	var errs []error
	for _, s := range m.sessions {
		errs = append(errs, s.destroy())
	}
	m.sessions = nil
	return errors.Join(errs...)
}

// Sessions is how many Forward calls run at once.
func (m *Model) Sessions() int { return len(m.sessions) }

// InputLen is the number of floats one image takes.
func (m *Model) InputLen() int { return m.Spec.InputLen() }

// InputLen is the number of floats one image takes.
func (s Spec) InputLen() int { return 3 * s.InputSize * s.InputSize }

// Forward runs n images laid out back to back in input and returns n*Cut.Dim
// features. Calls from several goroutines run on different sessions.
func (m *Model) Forward(input []float32, n int) ([]float32, error) {
	feats, err := m.ForwardCuts(input, n)
	if err != nil {
		return nil, err
	}
	return feats[0], nil
}

// ForwardCuts is Forward for every cut of the model: n*Cuts[i].Dim features
// for each cut i, from one pass.
func (m *Model) ForwardCuts(input []float32, n int) ([][]float32, error) {
	in, err := m.Spec.inputTensor(input, n)
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(m.Cuts))
	tensors := make([]*ort.Tensor[float32], len(m.Cuts))
	for i, c := range m.Cuts {
		if tensors[i], err = ort.NewEmptyTensor[float32](ort.NewShape(int64(n), int64(c.Dim))); err != nil {
			return nil, err
		}
		defer tensors[i].Destroy()
		outs[i] = tensors[i]
	}
	s := <-m.idle
	err = s.run([]ort.Value{in}, outs)
	m.idle <- s
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", m.Spec.Name, err)
	}
	feats := make([][]float32, len(m.Cuts))
	for i, t := range tensors {
		feats[i] = append([]float32(nil), t.GetData()...)
	}
	return feats, nil
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
	// Every input value is one of 256 per channel: a table lookup per value,
	// computed as the arithmetic would, so the result is bit-identical.
	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			lut[c][v] = (float32(v) - s.Mean[c]) * s.Scale[c]
		}
	}
	c0, c1, c2 := &lut[0], &lut[1], &lut[2]
	o0, o1, o2 := order[0], order[1], order[2]
	plane := size * size
	if s.Layout == "NHWC" {
		out := dst[:3*plane]
		for y := range size {
			row := img.Pix[y*img.Stride : y*img.Stride+4*size]
			o := out[3*y*size : 3*(y+1)*size]
			for x := range size {
				p := row[4*x : 4*x+4 : 4*x+4]
				q := o[3*x : 3*x+3 : 3*x+3]
				q[0], q[1], q[2] = c0[p[o0]], c1[p[o1]], c2[p[o2]]
			}
		}
		return
	}
	d0, d1, d2 := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	for y := range size {
		row := img.Pix[y*img.Stride : y*img.Stride+4*size]
		i := y * size
		r0, r1, r2 := d0[i:i+size], d1[i:i+size], d2[i:i+size]
		for x := range size {
			p := row[4*x : 4*x+4 : 4*x+4]
			r0[x], r1[x], r2[x] = c0[p[o0]], c1[p[o1]], c2[p[o2]]
		}
	}
}
