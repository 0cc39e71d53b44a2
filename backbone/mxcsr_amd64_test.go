package backbone

import "testing"

// Sessions run on an osThread; ONNX Runtime relies on the calling thread's
// flags for its share of the work, and sets them only for the first session.
func TestOSThreadFlushesDenormals(t *testing.T) {
	const ftzDAZ = 0x8040
	for range 2 { // a second thread too: each sets its own flags
		th := newOSThread()
		var got uint32
		th.do(func() { got = mxcsr() })
		th.stop()
		if got&ftzDAZ != ftzDAZ {
			t.Fatalf("osThread MXCSR = %#x, want FTZ and DAZ (%#x) set", got, ftzDAZ)
		}
	}
}
