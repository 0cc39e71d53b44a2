//go:build !amd64

package backbone

// flushDenormals is a no-op off amd64, where ONNX Runtime's own setting is
// all there is.
func flushDenormals() {}
