package openset

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestCalibrate(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	for _, c := range []struct {
		name   string
		scores []float64
		far    float64
		want   float64
	}{
		// Descending 0.9 0.7 0.5 0.3 0.1; k = floor(0.2·5) = 1, so the 2nd: 0.7.
		{"one of five may pass", []float64{0.9, 0.1, 0.5, 0.7, 0.3}, 0.2, 0.7},
		// k = floor(0.1·5) = 0: the largest score, so none passes.
		{"none may pass", []float64{0.9, 0.1, 0.5, 0.7, 0.3}, 0.1, 0.9},
		// 0.29·100 is 28.999999999999996 in float64; k must still be 29,
		// so the 30th largest of 100..1, which is 71.
		{"decimal rate", hundred, 0.29, 71},
		// k = 2, the 3rd largest is 0.8: the tie at 0.8 lets none through.
		{"ties", []float64{0.8, 0.8, 0.8, 0.2}, 0.5, 0.8},
	} {
		got, err := Calibrate(c.scores, c.far)
		if err != nil || got != c.want {
			t.Errorf("%s: Calibrate = %v, %v; want %v", c.name, got, err, c.want)
		}
		r := Rule{Threshold: got}
		accepted := 0
		for _, s := range c.scores {
			if r.Accept(s) {
				accepted++
			}
		}
		if rate := float64(accepted) / float64(len(c.scores)); rate > c.far {
			t.Errorf("%s: %d of %d accepted, above the target %g", c.name, accepted, len(c.scores), c.far)
		}
	}
	if _, err := Calibrate(nil, 0.05); err == nil {
		t.Error("calibrated on no photos")
	}
	if _, err := Calibrate([]float64{1}, 0); err == nil {
		t.Error("calibrated to a zero rate")
	}
}

func TestCentroids(t *testing.T) {
	// Class 0: (3,4) and (0,2) are (0.6,0.8) and (0,1) at unit length; their
	// sum (0.6,1.8) has length √3.6, so the centroid is (0.316228, 0.948683).
	// Class 1: (-2,0) gives (-1,0). Class 2 has no rows.
	x := []float32{3, 4, -2, 0, 0, 2}
	c := NewCentroids(x, 2, []int32{0, 1, 0}, 3)
	if v := c.Vectors[0]; !near(float64(v[0]), 0.6/math.Sqrt(3.6)) || !near(float64(v[1]), 1.8/math.Sqrt(3.6)) {
		t.Errorf("centroid 0 = %v", v)
	}
	if v := c.Vectors[1]; v[0] != -1 || v[1] != 0 {
		t.Errorf("centroid 1 = %v", v)
	}
	if c.Vectors[2] != nil {
		t.Errorf("class without rows has centroid %v", c.Vectors[2])
	}
	for _, s := range []struct {
		f     []float32
		want  float64
		class int
	}{
		{[]float32{1, 0}, 0.6 / math.Sqrt(3.6), 0}, // cos to class 0 beats -1 to class 1
		{[]float32{0, -5}, 0, 1},                   // -0.948683 to class 0, 0 to class 1
		{[]float32{-7, 0}, 1, 1},                   // on class 1, whatever its length
		{[]float32{0, 0}, -1, -1},                  // no direction
	} {
		if got := c.Score(s.f); !near(got, s.want) {
			t.Errorf("Score(%v) = %v, want %v", s.f, got, s.want)
		}
		if class, cos := c.Nearest(s.f); class != s.class || !near(cos, s.want) {
			t.Errorf("Nearest(%v) = %d, %v; want %d, %v", s.f, class, cos, s.class, s.want)
		}
	}
}

func TestCountAndRates(t *testing.T) {
	r := Rule{Threshold: 0.5}
	// Known: 0.9 accepted and right, 0.6 accepted but wrong, 0.4 rejected.
	// Unknown: only 0.7 passes.
	c := Count(r, []float64{0.9, 0.6, 0.4}, []bool{true, false, true}, []float64{0.7, 0.2, 0.1, 0.3})
	want := Counts{Known: 3, KnownCorrect: 1, KnownRejected: 1, Unknown: 4, FalseAccepts: 1}
	if c != want {
		t.Fatalf("Count = %+v, want %+v", c, want)
	}
	// FAR 1/4, FRR 1/3, open-set accuracy (1 known right + 3 unknowns rejected) / 7.
	if !near(c.FAR(), 0.25) || !near(c.FRR(), 1.0/3) || !near(c.OpenAccuracy(), 4.0/7) {
		t.Errorf("FAR %v FRR %v open accuracy %v", c.FAR(), c.FRR(), c.OpenAccuracy())
	}
	if !math.IsNaN((Counts{}).FAR()) {
		t.Error("FAR without unknown photos is not NaN")
	}
	if got := Largest([]float32{0.1, 0.7, 0.2}); !near(got, 0.7) {
		t.Errorf("Largest = %v", got)
	}
}

// TestScorerByHand checks every kind on values counted on paper.
func TestScorerByHand(t *testing.T) {
	// Known dogs' centroids (1,0) and (0,1); a cohort of three other dogs.
	s := Scorer{
		Centroids: Centroids{Dim: 2, Vectors: [][]float32{{1, 0}, {0, 1}}},
		Cohort:    Cohort{K: 2, Centroids: Centroids{Dim: 2, Vectors: [][]float32{{0.6, 0.8}, {-1, 0}, nil, {0.8, -0.6}}}},
	}
	probs := []float32{0.2, 0.8}
	logits := []float32{1, 3}
	f := []float32{3, 4} // (0.6, 0.8) at unit length
	// log(e^1 + e^3) = 3 + log(1 + e^-2).
	energy := 3 + math.Log(1+math.Exp(-2))
	// Cosines to the cohort: 1, -0.6, 0 (nil skipped); the 2 largest average 0.5.
	for kind, want := range map[string]float64{
		MaxSoftmax:          0.8,
		MaxLogit:            3,
		Energy:              energy,
		CentroidCosine:      0.8,
		CentroidMinusCohort: 0.8 - 0.5,
	} {
		if got := s.Score(kind, probs, logits, f); !near(got, want) {
			t.Errorf("%s = %v, want %v", kind, got, want)
		}
	}
	if got := LogSumExp([]float32{1000, 1000}); !near(got, 1000+math.Ln2) {
		t.Errorf("LogSumExp of large logits = %v, want 1000 + ln 2 (no overflow)", got)
	}
	if got := (Cohort{K: 5, Centroids: s.Cohort.Centroids}).Score(f); !near(got, (1-0.6+0)/3) {
		t.Errorf("a cohort smaller than K: %v, want the mean of all three", got)
	}
	if got := (Cohort{}).Score(f); got != 0 {
		t.Errorf("no cohort: %v, want 0", got)
	}
	for _, kind := range AllKinds {
		if NeedsLogits(kind) != (kind == MaxLogit || kind == Energy) {
			t.Errorf("NeedsLogits(%s) = %v", kind, NeedsLogits(kind))
		}
	}
}
