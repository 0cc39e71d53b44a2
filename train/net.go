package train

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// net is a head without a trunk, trained and run natively: dense layers with
// an activation and dropout, then a dense or cosine output layer. Its weights
// live in one flat slice, tensor after tensor, so the optimiser, the weight
// decay and the best-epoch snapshot each are one loop or one copy. Tensor
// names and shapes are GoMLX's (the checkpoint format predates this engine).
type net struct {
	dims    []int // input, hidden..., classes
	cosine  bool
	dropout float32
	act     activation
	params  []float32
	tensors []tensor
	// per layer, the offsets of its weights and of its biases (or, for a
	// cosine output, of its log scale)
	w, b []int
}

type tensor struct {
	name  string
	shape []int
	off   int
}

func (t tensor) size() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// newNet lays out the weights of cfg's head, all zero. A prototype head is
// a cosine output layer (see Prototype); a cosine+prototype head's net is
// its trained cosine part.
func newNet(cfg Config, dim, classes int) (*net, error) {
	return newNetScoped(cfg, dim, classes, "/logits/")
}

// newNetScoped is newNet with the output layer's variables under outScope.
func newNetScoped(cfg Config, dim, classes int, outScope string) (*net, error) {
	act, err := activationOf(cfg.Activation)
	if err != nil {
		return nil, err
	}
	cosine := false
	switch cfg.Type {
	case "", "dense":
	case "cosine", CosinePrototype:
		cosine = true
	case Prototype:
		if len(cfg.Hidden) > 0 {
			return nil, fmt.Errorf("head: a prototype head has no hidden layers, got %v", cfg.Hidden)
		}
		cosine = true
	default:
		return nil, fmt.Errorf("head: unknown type %q", cfg.Type)
	}
	n := &net{dims: append(append([]int{dim}, cfg.Hidden...), classes), cosine: cosine,
		dropout: float32(cfg.Dropout), act: act}
	add := func(name string, shape ...int) int {
		t := tensor{name: name, shape: shape, off: len(n.params)}
		n.tensors = append(n.tensors, t)
		n.params = append(n.params, make([]float32, t.size())...)
		return t.off
	}
	for l := 0; l+1 < len(n.dims); l++ {
		scope := outScope
		if l < len(cfg.Hidden) {
			scope = fmt.Sprintf("/dense_%d/", l)
		}
		n.w = append(n.w, add(scope+"weights", n.dims[l], n.dims[l+1]))
		if n.cosine && scope == outScope {
			n.b = append(n.b, add(scope+"log_scale"))
		} else {
			n.b = append(n.b, add(scope+"biases", n.dims[l+1]))
		}
	}
	return n, nil
}

func (n *net) layers() int { return len(n.dims) - 1 }

func (n *net) weights(p []float32, l int) []float32 {
	return p[n.w[l] : n.w[l]+n.dims[l]*n.dims[l+1]]
}

func (n *net) biases(p []float32, l int) []float32 {
	return p[n.b[l] : n.b[l]+n.dims[l+1]]
}

// logScale is the cosine output's learned scale, in log space.
func (n *net) logScale(p []float32) *float32 { return &p[n.b[n.layers()-1]] }

// initialise draws every weight matrix Glorot-uniform, as Keras' Dense
// starts, from seed; biases start at zero and a cosine scale at cosineScale.
func (n *net) initialise(seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x696e6974)) // "init"
	for l := 0; l < n.layers(); l++ {
		limit := math.Sqrt(6 / float64(n.dims[l]+n.dims[l+1]))
		w := n.weights(n.params, l)
		for i := range w {
			w[i] = float32((2*rng.Float64() - 1) * limit)
		}
	}
	if n.cosine {
		*n.logScale(n.params) = float32(math.Log(cosineScale))
	}
}

// work holds one goroutine's buffers for passes of up to rows rows.
type work struct {
	rows int
	// in[l] is layer l's input: the batch, then each hidden layer's output
	// after dropout; z and a are each hidden layer's pre-activation and
	// activation, keep its dropout mask (nil without dropout).
	in, z, a [][]float32
	keep     [][]bool
	logits   []float32
	grad     []float32 // a layer's output gradient
	inGrad   []float32 // the gradient of a layer's input
	gT, iT   []float32 // batchProduct's transposes
	// the cosine output: unit-length rows of its input and their lengths,
	// unit-length weight columns and their lengths, the cosines
	unit, rowLen, wUnit, colLen, cos []float32
	dUnit, dWUnit                    []float32
	gemm                             gemmScratch
}

func newWork(n *net, rows int) *work {
	w := &work{rows: rows}
	widest := 0
	for l, d := range n.dims {
		widest = max(widest, d)
		if l < n.layers() {
			w.in = append(w.in, make([]float32, rows*d))
		}
		if l > 0 && l < n.layers() {
			w.z = append(w.z, make([]float32, rows*d))
			w.a = append(w.a, make([]float32, rows*d))
			var keep []bool
			if n.dropout > 0 {
				keep = make([]bool, rows*d)
			}
			w.keep = append(w.keep, keep)
		}
	}
	classes, last := n.dims[n.layers()], n.dims[n.layers()-1]
	w.logits = make([]float32, rows*classes)
	w.grad, w.gT = make([]float32, rows*widest), make([]float32, rows*widest)
	w.inGrad, w.iT = make([]float32, rows*widest), make([]float32, rows*widest)
	if n.cosine {
		w.unit, w.rowLen = make([]float32, rows*last), make([]float32, rows)
		w.wUnit, w.colLen = make([]float32, last*classes), make([]float32, classes)
		w.cos = make([]float32, rows*classes)
		w.dUnit, w.dWUnit = make([]float32, rows*last), make([]float32, last*classes)
	}
	return w
}

// forward computes the logits of rows rows of input, already copied into
// w.in[0]. With drop set, dropout draws its masks from it (training); without,
// it is off (evaluation).
func (n *net) forward(p []float32, w *work, rows int, drop *rand.Rand) []float32 {
	hidden := n.layers() - 1
	for l := 0; l < hidden; l++ {
		in, out := n.dims[l], n.dims[l+1]
		z, a := w.z[l][:rows*out], w.a[l][:rows*out]
		batchProduct(z, w.in[l], rows, in, out, n.weights(p, l), 1, out, w)
		b := n.biases(p, l)
		for r := 0; r < rows; r++ {
			for j, v := range b {
				z[r*out+j] += v
			}
		}
		n.act.forward(a, z)
		next := w.in[l+1][:rows*out]
		if drop == nil || n.dropout == 0 {
			copy(next, a)
			continue
		}
		// Inverted dropout: kept units are scaled by 1/(1-rate), so
		// evaluation needs no rescaling.
		keep, scale := w.keep[l][:rows*out], 1/(1-n.dropout)
		threshold := uint64(float64(n.dropout) * (1 << 32))
		for i := 0; i < len(a); i += 2 {
			bits := drop.Uint64()
			keep[i] = bits&0xffffffff >= threshold
			if i+1 < len(a) {
				keep[i+1] = bits>>32 >= threshold
			}
		}
		for i, v := range a {
			if keep[i] {
				next[i] = v * scale
			} else {
				next[i] = 0
			}
		}
	}
	in, classes := n.dims[hidden], n.dims[hidden+1]
	logits := w.logits[:rows*classes]
	x := w.in[hidden][:rows*in]
	if !n.cosine {
		batchProduct(logits, x, rows, in, classes, n.weights(p, hidden), 1, classes, w)
		b := n.biases(p, hidden)
		for r := 0; r < rows; r++ {
			for j, v := range b {
				logits[r*classes+j] += v
			}
		}
		return logits
	}
	// Cosine: s·cos(x, w_c) with s = exp(log scale).
	unitRows(w.unit[:rows*in], w.rowLen[:rows], x, rows, in)
	unitColumns(w.wUnit, w.colLen, n.weights(p, hidden), in, classes)
	cos := w.cos[:rows*classes]
	batchProduct(cos, w.unit, rows, in, classes, w.wUnit, 1, classes, w)
	s := float32(math.Exp(float64(*n.logScale(p))))
	for i, c := range cos {
		logits[i] = s * c
	}
	return logits
}

// backward sets grad (laid out as the weights) to the gradient of the mean
// loss whose gradient with respect to the logits of the last forward pass is
// dLogits, which it overwrites.
func (n *net) backward(p, grad []float32, w *work, rows int, dLogits []float32) {
	hidden := n.layers() - 1
	in, classes := n.dims[hidden], n.dims[hidden+1]
	x := w.in[hidden][:rows*in]
	dx := w.inGrad[:rows*in]
	if n.cosine {
		n.cosineBackward(p, grad, w, rows, dLogits)
	} else {
		gemm(in, classes, rows, x, 1, in, dLogits, classes, n.weights(grad, hidden), classes, &w.gemm)
		columnSums(n.biases(grad, hidden), dLogits, rows, classes)
		batchProduct(dx, dLogits, rows, classes, in, n.weights(p, hidden), classes, 1, w)
	}
	for l := hidden - 1; l >= 0; l-- {
		in, out := n.dims[l], n.dims[l+1]
		dz := w.grad[:rows*out]
		copy(dz, w.inGrad[:rows*out])
		if n.dropout > 0 {
			keep, scale := w.keep[l][:rows*out], 1/(1-n.dropout)
			for i := range dz {
				if keep[i] {
					dz[i] *= scale
				} else {
					dz[i] = 0
				}
			}
		}
		n.act.backward(dz, w.z[l][:rows*out], w.a[l][:rows*out])
		gemm(in, out, rows, w.in[l], 1, in, dz, out, n.weights(grad, l), out, &w.gemm)
		columnSums(n.biases(grad, l), dz, rows, out)
		if l > 0 {
			batchProduct(w.inGrad[:rows*in], dz, rows, out, in, n.weights(p, l), out, 1, w)
		}
	}
}

// batchProduct sets y (rows x n) to x·M for a batch x (rows x k) and a
// weight matrix M (k x n) whose element (p, j) is at m[j*jStride+p*pStride]:
// the weights (jStride 1, pStride n) or, for gradients, their transpose. It
// computes yᵀ = Mᵀ·xᵀ, so the weights are the kernel's A, read in place
// through strides, and only the batch-sized matrices are laid out anew (the
// kernel wants B's rows contiguous, and B is copied panel by panel).
func batchProduct(y, x []float32, rows, k, n int, m []float32, jStride, pStride int, w *work) {
	xT, yT := w.gT[:k*rows], w.iT[:n*rows]
	transpose(xT, x[:rows*k], rows, k)
	gemm(n, rows, k, m, jStride, pStride, xT, rows, yT, rows, &w.gemm)
	transpose(y[:rows*n], yT, n, rows)
}

// cosineBackward is backward's output layer for a cosine head. With u the
// unit-length input rows and v the unit-length weight columns, logits are
// s·u·v: the gradient reaches s, then u and v, then through each
// normalisation y = x/|x| as (dy - y(y·dy))/|x|.
func (n *net) cosineBackward(p, grad []float32, w *work, rows int, dLogits []float32) {
	hidden := n.layers() - 1
	in, classes := n.dims[hidden], n.dims[hidden+1]
	s := float32(math.Exp(float64(*n.logScale(p))))
	var dLogScale float64
	for i, g := range dLogits[:rows*classes] {
		dLogScale += float64(g * w.cos[i])
		dLogits[i] = g * s
	}
	*n.logScale(grad) = float32(dLogScale) * s
	dCos := dLogits[:rows*classes]
	gemm(in, classes, rows, w.unit, 1, in, dCos, classes, w.dWUnit, classes, &w.gemm)
	batchProduct(w.dUnit[:rows*in], dCos, rows, classes, in, w.wUnit, classes, 1, w)
	dx := w.inGrad[:rows*in]
	for r := 0; r < rows; r++ {
		unitGrad(dx[r*in:(r+1)*in], w.dUnit[r*in:(r+1)*in], w.unit[r*in:(r+1)*in], 1, w.rowLen[r])
	}
	dW := n.weights(grad, hidden)
	for c := 0; c < classes; c++ {
		unitGrad(dW[c:], w.dWUnit[c:], w.wUnit[c:], classes, w.colLen[c])
	}
}

// unitGrad sets dx to the gradient through y = x/length, x and y read with
// stride: (dy - y(y·dy))/length.
func unitGrad(dx, dy, y []float32, stride int, length float32) {
	var dot float64
	for i := 0; i*stride < len(y); i++ {
		dot += float64(y[i*stride] * dy[i*stride])
	}
	d := float32(dot)
	for i := 0; i*stride < len(y); i++ {
		dx[i*stride] = (dy[i*stride] - y[i*stride]*d) / length
	}
}

// unitRows scales each of rows rows of x to unit length into u and records
// the lengths; a zero row stays zero with length 1, as GoMLX's L2Normalize
// treats it.
func unitRows(u, lengths, x []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		lengths[r] = unitTo(u[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols], 1)
	}
}

// unitColumns does unitRows for the columns of x (rows x cols).
func unitColumns(u, lengths, x []float32, rows, cols int) {
	for c := 0; c < cols; c++ {
		lengths[c] = unitTo(u[c:], x[c:(rows-1)*cols+c+1], cols)
	}
}

func unitTo(u, x []float32, stride int) float32 {
	var sq float64
	for i := 0; i < len(x); i += stride {
		sq += float64(x[i]) * float64(x[i])
	}
	length := float32(1)
	if sq > 0 {
		length = float32(math.Sqrt(sq))
	}
	for i := 0; i < len(x); i += stride {
		u[i] = x[i] / length
	}
	return length
}

func columnSums(dst, m []float32, rows, cols int) {
	clear(dst)
	for r := 0; r < rows; r++ {
		for j, v := range m[r*cols : (r+1)*cols] {
			dst[j] += v
		}
	}
}

// activation is a hidden layer's nonlinearity and its derivative.
type activation struct {
	forward func(a, z []float32)
	// backward multiplies d (the gradient of a) by da/dz, given z and a.
	backward func(d, z, a []float32)
}

func activationOf(name string) (activation, error) {
	switch name {
	case "", "relu":
		return activation{
			forward: func(a, z []float32) {
				for i, v := range z {
					a[i] = max(v, 0)
				}
			},
			// d survives where a > 0. a = max(z, 0) is +0 or positive, so
			// a's bits are non-zero exactly there: a mask without branches,
			// which the signs of z, random to the predictor, would cost.
			backward: func(d, _, a []float32) {
				for i, v := range a {
					bits := math.Float32bits(v)
					keep := uint32(int32(bits|-bits) >> 31)
					d[i] = math.Float32frombits(math.Float32bits(d[i]) & keep)
				}
			},
		}, nil
	case "tanh":
		return activation{
			forward: elementwise(math.Tanh),
			backward: func(d, _, a []float32) {
				for i, v := range a {
					d[i] *= 1 - v*v
				}
			},
		}, nil
	case "sigmoid":
		return activation{
			forward: elementwise(sigmoid),
			backward: func(d, _, a []float32) {
				for i, v := range a {
					d[i] *= v * (1 - v)
				}
			},
		}, nil
	case "swish":
		return activation{
			forward: elementwise(func(z float64) float64 { return z * sigmoid(z) }),
			backward: func(d, z, _ []float32) {
				for i, v := range z {
					s := sigmoid(float64(v))
					d[i] *= float32(s * (1 + float64(v)*(1-s)))
				}
			},
		}, nil
	case "gelu": // exact: z·Φ(z), as GoMLX's Gelu
		return activation{
			forward: elementwise(func(z float64) float64 { return z * normalCDF(z) }),
			backward: func(d, z, _ []float32) {
				for i, v := range z {
					x := float64(v)
					d[i] *= float32(normalCDF(x) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi))
				}
			},
		}, nil
	}
	return activation{}, fmt.Errorf("head: unknown activation %q", name)
}

func elementwise(f func(float64) float64) func(a, z []float32) {
	return func(a, z []float32) {
		for i, v := range z {
			a[i] = float32(f(float64(v)))
		}
	}
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func normalCDF(z float64) float64 { return 0.5 * (1 + math.Erf(z/math.Sqrt2)) }

// paramName names weight i as tensor[index], for messages.
func (n *net) paramName(i int) string {
	for _, t := range n.tensors {
		if i < t.off+t.size() {
			return fmt.Sprintf("%s[%d]", t.name, i-t.off)
		}
	}
	return fmt.Sprint(i)
}
