package backbone

// flushDenormals sets flush-to-zero and denormals-are-zero in the calling
// thread's MXCSR register.
func flushDenormals()

// mxcsr reads the calling thread's MXCSR register.
func mxcsr() uint32
