// Package whiten fits PCA whitening of feature vectors on one set of photos
// (dogs other than those measured) and applies it to others. Whitening
// divides each principal axis by its standard deviation, so that a cosine
// between two whitened vectors weighs every kept direction of variation
// alike instead of letting the few directions in which all dog faces differ
// most (light, pose, breed) drown the rest.
//
// The project's measurement (docs/verification.md) fits it on the dogs below
// dataset.min_images_per_class, which no experiment trains or tests on.
package whiten

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"
)

// PCA maps a row x of Dim values to W·(x - Mean): its coordinates along the
// Keep principal axes of the rows it was fitted on, largest variance first,
// each divided by that axis's standard deviation. The fitted rows come out
// centred, uncorrelated and of unit variance along every kept axis.
type PCA struct {
	Dim      int
	Mean     []float64
	W        []float64 // Keep x Dim, row-major: axis k over its standard deviation
	Variance []float64 // along each kept axis, descending
}

// Keep is how many values a whitened row has.
func (p *PCA) Keep() int { return len(p.Variance) }

// FitPCA fits the whitening of the rows of x (dim values each) keeping the
// keep axes of largest variance. The variance is the population one (divided
// by the number of rows). An axis with no variance to speak of (below 1e-9
// of the largest) cannot be whitened, so keep must not exceed the rows' rank.
func FitPCA(x []float32, dim, keep int) (*PCA, error) {
	return fit(x, dim, keep, 1e-9, false)
}

// FitPCAUpTo is FitPCA keeping at most most axes: fewer than the rows, and
// fewer when the rows vary along fewer, stopping at the first axis whose
// variance is below 1e-6 of
// the largest. Rows of float32 carry about 7 digits, so such an axis is
// rounding, and whitening would blow it up to as much weight as the
// largest. Features concatenated from a network's layers are often of
// lower rank than their width (mobilefacenet's 512-d embedding varies
// along 488 axes over the shared set's dogs).
func FitPCAUpTo(x []float32, dim, most int) (*PCA, error) {
	return fit(x, dim, most, 1e-6, true)
}

// fit fits the whitening keeping keep axes, or with upTo fewer when the
// next one's variance is below least times the largest.
func fit(x []float32, dim, keep int, least float64, upTo bool) (*PCA, error) {
	if upTo && dim > 0 && len(x)/dim > 1 {
		keep = min(keep, len(x)/dim-1)
	}
	switch {
	case dim <= 0 || len(x)%dim != 0:
		return nil, fmt.Errorf("whiten: %d values are not rows of %d", len(x), dim)
	case keep < 1 || keep > dim:
		return nil, fmt.Errorf("whiten: keep %d of %d axes", keep, dim)
	case len(x)/dim <= keep:
		return nil, fmt.Errorf("whiten: %d rows cannot span %d axes (need more rows than axes kept)", len(x)/dim, keep)
	}
	n := len(x) / dim
	p := &PCA{Dim: dim, Mean: make([]float64, dim)}
	for r := range n {
		for j, v := range x[r*dim : (r+1)*dim] {
			p.Mean[j] += float64(v)
		}
	}
	for j := range p.Mean {
		p.Mean[j] /= float64(n)
	}
	centred := mat.NewDense(n, dim, nil)
	for r := range n {
		for j, v := range x[r*dim : (r+1)*dim] {
			centred.Set(r, j, float64(v)-p.Mean[j])
		}
	}
	cov := mat.NewSymDense(dim, nil)
	cov.SymOuterK(1/float64(n), centred.T())
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return nil, fmt.Errorf("whiten: the eigendecomposition of the %dx%d covariance did not converge", dim, dim)
	}
	values := eig.Values(nil) // ascending
	var vectors mat.Dense
	eig.VectorsTo(&vectors)
	largest := values[dim-1]
	p.W = make([]float64, 0, keep*dim)
	for k := range keep {
		col := dim - 1 - k
		v := values[col]
		if !(v > least*largest) {
			if upTo && k > 0 {
				break
			}
			return nil, fmt.Errorf("whiten: only %d of the %d axes of %d rows have variance; keep at most that many", k, dim, n)
		}
		p.Variance = append(p.Variance, v)
		// An eigenvector's sign is arbitrary: make its largest entry
		// positive, so the same rows always give the same transform.
		sign, big := 1.0, 0.0
		for j := range dim {
			if e := vectors.At(j, col); math.Abs(e) > big {
				big, sign = math.Abs(e), math.Copysign(1, e)
			}
		}
		scale := sign / math.Sqrt(v)
		for j := range dim {
			p.W = append(p.W, vectors.At(j, col)*scale)
		}
	}
	return p, nil
}

// Apply whitens the rows of x (Dim values each) into rows of Keep values.
func (p *PCA) Apply(x []float32) ([]float32, error) {
	if len(x)%p.Dim != 0 {
		return nil, fmt.Errorf("whiten: %d values are not rows of %d", len(x), p.Dim)
	}
	n, keep := len(x)/p.Dim, p.Keep()
	out := make([]float32, n*keep)
	centred := make([]float64, p.Dim)
	for r := range n {
		for j, v := range x[r*p.Dim : (r+1)*p.Dim] {
			centred[j] = float64(v) - p.Mean[j]
		}
		for k := range keep {
			var s float64
			for j, w := range p.W[k*p.Dim : (k+1)*p.Dim] {
				s += w * centred[j]
			}
			out[r*keep+k] = float32(s)
		}
	}
	return out, nil
}

// First is the whitening that keeps only the first k of p's axes: the same
// as fitting with keep = k, without a second eigendecomposition.
func (p *PCA) First(k int) (*PCA, error) {
	if k < 1 || k > p.Keep() {
		return nil, fmt.Errorf("whiten: first %d of %d kept axes", k, p.Keep())
	}
	return &PCA{Dim: p.Dim, Mean: p.Mean, W: p.W[:k*p.Dim], Variance: p.Variance[:k]}, nil
}

const fileMagic = "DOGWHIT1"

// Save writes p to path (made atomically: a reader never sees half a file),
// so that a whitening fitted once is not fitted again by the next run.
func (p *PCA) Save(path string) error {
	b := make([]byte, 0, 16+8*(len(p.Mean)+len(p.Variance)+len(p.W)))
	b = append(b, fileMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(p.Dim))
	b = binary.LittleEndian.AppendUint32(b, uint32(p.Keep()))
	for _, part := range [][]float64{p.Mean, p.Variance, p.W} {
		for _, v := range part {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".whiten-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Load reads a whitening Save wrote.
func Load(path string) (*PCA, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 16 || string(b[:8]) != fileMagic {
		return nil, fmt.Errorf("whiten: %s is not a saved whitening", path)
	}
	dim, keep := int(binary.LittleEndian.Uint32(b[8:])), int(binary.LittleEndian.Uint32(b[12:]))
	if want := 16 + 8*(dim+keep+keep*dim); len(b) != want {
		return nil, fmt.Errorf("whiten: %s has %d bytes, a whitening of %d axes of %d values has %d", path, len(b), keep, dim, want)
	}
	vals := make([]float64, (len(b)-16)/8)
	for i := range vals {
		vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[16+8*i:]))
	}
	return &PCA{Dim: dim, Mean: vals[:dim], Variance: vals[dim : dim+keep], W: vals[dim+keep:]}, nil
}
