package train

import (
	"errors"
	"math"
	"slices"
)

// blockWeightGrid is the weights a block may get; 1 is where every block
// starts.
var blockWeightGrid = []float32{0, 0.25, 0.5, 0.75, 1, 1.5, 2}

// chooseBlockWeights picks a weight per block of the rows (each block at
// unit length already) by the validation rows' nearest-class-mean accuracy,
// the mean margin of the true class's cosine over the best other's breaking
// ties: one block at a time, every weight of the grid with the others held,
// keeping a change only when it scores better, for up to three rounds. A
// weighted block's class mean is the weighted mean, so each try costs a sum
// over blocks of cosines worked out once. The largest weight comes out
// as 1. Nil for fewer than two blocks.
func chooseBlockWeights(trainSet, valSet Data) ([]float32, error) {
	blocks := trainSet.Blocks
	if len(blocks) < 2 {
		return nil, nil
	}
	if valSet.Rows() == 0 {
		return nil, errors.New("head: block weights chosen on validation need validation photos")
	}
	classes := 0
	for _, y := range trainSet.Y {
		classes = max(classes, int(y)+1)
	}
	means, err := classMeans(trainSet, classes)
	if err != nil {
		return nil, err
	}
	nb, rows, dim := len(blocks), valSet.Rows(), valSet.Dim
	// Per block: dot[b][r*classes+c] = x_b(r)·m_b(c), norm2 of each class
	// mean's block and of each row's block.
	dot := make([][]float64, nb)
	meanNorm := make([][]float64, nb)
	rowNorm := make([][]float64, nb)
	start := 0
	for b, width := range blocks {
		dot[b], meanNorm[b], rowNorm[b] = make([]float64, rows*classes), make([]float64, classes), make([]float64, rows)
		for j := start; j < start+width; j++ {
			for c := range classes {
				m := float64(means[j*classes+c])
				meanNorm[b][c] += m * m
			}
		}
		for r := range rows {
			x := valSet.X[r*dim : (r+1)*dim]
			for j := start; j < start+width; j++ {
				v := float64(x[j])
				rowNorm[b][r] += v * v
				if v == 0 {
					continue
				}
				for c := range classes {
					dot[b][r*classes+c] += v * float64(means[j*classes+c])
				}
			}
		}
		start += width
	}
	score := func(w []float32) (acc, margin float64) {
		sq := make([]float64, nb)
		for b, v := range w {
			sq[b] = float64(v) * float64(v)
		}
		cos := make([]float64, classes)
		for r, y := range valSet.Y {
			var xn float64
			for b := range nb {
				xn += sq[b] * rowNorm[b][r]
			}
			for c := range classes {
				var num, mn float64
				for b := range nb {
					num += sq[b] * dot[b][r*classes+c]
					mn += sq[b] * meanNorm[b][c]
				}
				if den := math.Sqrt(xn * mn); den > 0 {
					cos[c] = num / den
				} else {
					cos[c] = 0
				}
			}
			other := math.Inf(-1)
			for c, v := range cos {
				if c != int(y) {
					other = math.Max(other, v)
				}
			}
			if cos[y] > other {
				acc++
			}
			margin += cos[y] - other
		}
		return acc / float64(rows), margin / float64(rows)
	}
	w := make([]float32, nb)
	for b := range w {
		w[b] = 1
	}
	bestAcc, bestMargin := score(w)
	for range 3 {
		changed := false
		for b := range nb {
			for _, v := range blockWeightGrid {
				old := w[b]
				if v == old {
					continue
				}
				w[b] = v
				acc, margin := score(w)
				if allZero(w) || acc < bestAcc || acc == bestAcc && margin <= bestMargin {
					w[b] = old
					continue
				}
				bestAcc, bestMargin, changed = acc, margin, true
			}
		}
		if !changed {
			break
		}
	}
	// Only the ratios count (cosines do not see a common factor): the
	// largest weight is 1.
	top := slices.Max(w)
	for b := range w {
		w[b] /= top
	}
	return w, nil
}

func allZero(w []float32) bool {
	for _, v := range w {
		if v != 0 {
			return false
		}
	}
	return true
}
