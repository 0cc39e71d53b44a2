package train

import (
	"fmt"
	"math"
	"time"
)

// A prototype head trains nothing: each dog is the mean of its training
// rows (as the head sees them, after features.normalize), and a photo's
// logits are s·cos(x, mean) for every dog, which is a cosine output layer
// whose class columns are the means. So it is stored, loaded and run as
// one. The scale s only sharpens or softens the probabilities (the ranking
// is the cosines'); it is the one of the smallest validation loss, so that
// the probabilities are as sure as they deserve and averaging them with a
// trained head's (cosine+prototype) weighs both fairly.

// Head types beyond the trained output layers.
const (
	Prototype       = "prototype"
	CosinePrototype = "cosine+prototype"
)

// prototypeScope names a cosine+prototype head's prototype variables beside
// its trained cosine layer's (/logits/...).
const prototypeScope = "/prototype/"

// scaleGrid is the scales a prototype head tries: 60 steps from 1 to 200,
// evenly spaced in log.
func scaleGrid() []float64 {
	out := make([]float64, 60)
	for i := range out {
		out[i] = math.Exp(math.Log(200) * float64(i) / float64(len(out)-1))
	}
	return out
}

// classMeans are the mean row of each class of d, laid out as a cosine
// layer's weights: dim x classes, row-major.
func classMeans(d Data, classes int) ([]float32, error) {
	sums := make([]float64, d.Dim*classes)
	counts := make([]int, classes)
	for r, y := range d.Y {
		counts[y]++
		for j, v := range d.X[r*d.Dim : (r+1)*d.Dim] {
			sums[j*classes+int(y)] += float64(v)
		}
	}
	out := make([]float32, len(sums))
	for c, n := range counts {
		if n == 0 {
			return nil, fmt.Errorf("head: class %d has no training rows to make its prototype", c)
		}
		for j := 0; j < d.Dim; j++ {
			out[j*classes+c] = float32(sums[j*classes+c] / float64(n))
		}
	}
	return out, nil
}

// newPrototype is the prototype head of trainSet's rows as a cosine layer
// named under scope, its scale chosen on valSet (or cosineScale without
// validation rows), and its one epoch: the loss and accuracy on both sets.
func newPrototype(trainSet, valSet Data, classes int, scope string) (*net, Epoch, error) {
	start := time.Now()
	n, err := newNetScoped(Config{Type: "cosine"}, trainSet.Dim, classes, scope)
	if err != nil {
		return nil, Epoch{}, err
	}
	means, err := classMeans(trainSet, classes)
	if err != nil {
		return nil, Epoch{}, err
	}
	copy(n.weights(n.params, 0), means)
	scale := float64(cosineScale)
	if valSet.Rows() > 0 {
		cos := cosines(n, valSet)
		best := math.Inf(1)
		for _, s := range scaleGrid() {
			if loss := scaledLoss(cos, valSet.Y, classes, s); loss < best {
				best, scale = loss, s
			}
		}
	}
	*n.logScale(n.params) = float32(math.Log(scale))
	e := Epoch{Epoch: 1}
	w := newWork(n, max(1, min(evalRows, trainSet.Rows())))
	e.TrainLoss, e.TrainAccuracy = evaluate(n, n.params, w, trainSet)
	if valSet.Rows() > 0 {
		e.ValLoss, e.ValAccuracy = evaluate(n, n.params, w, valSet)
	}
	e.Seconds = time.Since(start).Seconds()
	return n, e, nil
}

// cosines are the cosines of d's rows to the columns of n's output layer,
// rows x classes, at scale 1.
func cosines(n *net, d Data) []float32 {
	saved := *n.logScale(n.params)
	*n.logScale(n.params) = 0
	defer func() { *n.logScale(n.params) = saved }()
	classes := n.dims[n.layers()]
	out := make([]float32, 0, d.Rows()*classes)
	w := newWork(n, max(1, min(evalRows, d.Rows())))
	for start := 0; start < d.Rows(); start += w.rows {
		rows := min(w.rows, d.Rows()-start)
		copy(w.in[0], d.X[start*d.Dim:(start+rows)*d.Dim])
		out = append(out, n.forward(n.params, w, rows, nil)[:rows*classes]...)
	}
	return out
}

// scaledLoss is the mean cross-entropy of the softmax of s·cos.
func scaledLoss(cos []float32, labels []int32, classes int, s float64) float64 {
	var loss float64
	for r, y := range labels {
		row := cos[r*classes : (r+1)*classes]
		hi := math.Inf(-1)
		for _, c := range row {
			hi = math.Max(hi, s*float64(c))
		}
		var sum float64
		for _, c := range row {
			sum += math.Exp(s*float64(c) - hi)
		}
		loss += hi + math.Log(sum) - s*float64(row[y])
	}
	return loss / float64(len(labels))
}

// averaged is the epoch record of a cosine+prototype head: the loss and
// accuracy of the mean of both heads' probabilities, after the cosine
// head's epochs (its number follows theirs).
func averaged(h *Head, trainSet, valSet Data, epoch int) (Epoch, error) {
	start := time.Now()
	e := Epoch{Epoch: epoch}
	for _, part := range []struct {
		d         Data
		loss, acc *float64
	}{{trainSet, &e.TrainLoss, &e.TrainAccuracy}, {valSet, &e.ValLoss, &e.ValAccuracy}} {
		if part.d.Rows() == 0 {
			continue
		}
		probs, err := h.predictPrepared(part.d)
		if err != nil {
			return e, err
		}
		*part.loss, *part.acc = LossAndAccuracy(probs, part.d.Y, h.Classes)
	}
	e.Seconds = time.Since(start).Seconds()
	return e, nil
}
