package backbone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ONNX returns the backbone as an ONNX model: the fetched file itself, or its
// conversion, made once (saying so, see WithProgress) and kept in the cache
// under the backbone's identity.
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
	w := progressOf(ctx)
	fmt.Fprintf(w, "converting %s from %s to ONNX (once; the result is kept in %s)\n", spec.Name, spec.Format, filepath.Dir(path))
	start := time.Now()
	b, err := spec.Convert(files)
	if err != nil {
		return nil, fmt.Errorf("converting %s: %w", spec.Source, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := writeChecked(bytes.NewReader(b), path, sha256Hex(b)); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "  converted %s: %s of ONNX in %.1f s\n", spec.Name, megabytes(int64(len(b))), time.Since(start).Seconds())
	return b, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
