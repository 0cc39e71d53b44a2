package stats

import (
	"fmt"
	"math"
)

// McNemarResult is McNemar's test of two classifiers on the same photos.
type McNemarResult struct {
	Test
	// B counts photos only A got right, C photos only B got right; Items is
	// all photos compared.
	B, C, Items int
	// OddsRatio is B/C (+Inf when C is 0 and B is not, NaN when both are 0).
	OddsRatio float64
}

// McNemar is McNemar's exact test: under the null hypothesis that A and B are
// equally accurate, each photo that exactly one of them gets right is
// equally likely to favour either, so B ~ Binomial(B+C, 1/2). Photos both get
// right or both get wrong carry no information and are left out. The effect
// is the accuracy difference acc(A) - acc(B) = (B - C) / Items.
func McNemar(a, b Outcomes) (McNemarResult, error) {
	if a.Len() != b.Len() {
		return McNemarResult{}, fmt.Errorf("stats: McNemar of %d and %d outcomes", a.Len(), b.Len())
	}
	r := McNemarResult{Items: a.Len()}
	for i := range a.Len() {
		switch ca, cb := a.Correct(i), b.Correct(i); {
		case ca && !cb:
			r.B++
		case cb && !ca:
			r.C++
		}
	}
	n := r.B + r.C
	r.Test = Test{Name: "McNemar exact", N: n, Statistic: float64(r.B), P: binomTwoSided(r.B, n),
		EffectName: "accuracy difference", Effect: math.NaN()}
	if r.Items > 0 {
		r.Effect = float64(r.B-r.C) / float64(r.Items)
	}
	switch {
	case r.C > 0:
		r.OddsRatio = float64(r.B) / float64(r.C)
	case r.B > 0:
		r.OddsRatio = math.Inf(1)
	default:
		r.OddsRatio = math.NaN()
	}
	if n < 6 {
		// 2 * 0.5^n >= 0.0625 for n <= 5.
		r.Warning = fmt.Sprintf("only %d discordant photos: McNemar cannot reach p < 0.05", n)
	}
	return r, nil
}
