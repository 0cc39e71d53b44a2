package metrics

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var approx = cmp.Options{cmpopts.EquateApprox(0, 1e-12), cmpopts.EquateNaNs()}

// Probabilities are dyadic so float32 holds them exactly and the expected
// log loss can be written in float64.
func TestEvaluateThreeClasses(t *testing.T) {
	labels := []int{0, 0, 1, 1, 2, 0}
	probs := [][]float32{
		{0.75, 0.125, 0.125}, // true 0, pred 0, p(true)=.75
		{0.25, 0.5, 0.25},    // true 0, pred 1, p(true)=.25
		{0.125, 0.75, 0.125}, // true 1, pred 1, p(true)=.75
		{0.25, 0.25, 0.5},    // true 1, pred 2, p(true)=.25
		{0.25, 0.25, 0.5},    // true 2, pred 2, p(true)=.5
		{0.5, 0.25, 0.25},    // true 0, pred 0, p(true)=.5
	}
	names := []string{"rex", "fido", "max, jr"}
	got, err := Evaluate(labels, probs, names)
	if err != nil {
		t.Fatal(err)
	}
	// Confusion [true][pred]: row 0 = 2,1,0; row 1 = 0,1,1; row 2 = 0,0,1.
	// Column sums (times predicted): 2, 2, 2. Diagonal: 2, 1, 1.
	// class 0: P = 2/2 = 1,   R = 2/3, F1 = 2·1·(2/3)/(1+2/3) = 0.8
	// class 1: P = 1/2,       R = 1/2, F1 = 0.5
	// class 2: P = 1/2,       R = 1/1, F1 = 2·.5·1/1.5 = 2/3
	// macro:    P = (1+.5+.5)/3 = 2/3, R = (2/3+.5+1)/3 = 13/18,
	//           F1 = (.8+.5+2/3)/3 = 59/90
	// weighted: P = (3·1+2·.5+1·.5)/6 = .75, R = (3·2/3+2·.5+1·1)/6 = 4/6,
	//           F1 = (3·.8+2·.5+1·2/3)/6 = 61/90
	// accuracy = 4/6; top-k uses k = 3 = all classes, so top5 = 1.
	// log loss = -(2ln.75 + 2ln.25 + 2ln.5)/6.
	want := Report{
		N:        6,
		Accuracy: 4.0 / 6,
		Top5:     1,
		LogLoss:  -(math.Log(0.75) + math.Log(0.25) + math.Log(0.5)) / 3,
		PerClass: []ClassScore{
			{Class: 0, Name: "rex", Precision: 1, Recall: 2.0 / 3, F1: 0.8, Support: 3},
			{Class: 1, Name: "fido", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2},
			{Class: 2, Name: "max, jr", Precision: 0.5, Recall: 1, F1: 2.0 / 3, Support: 1},
		},
		Macro:     Averages{Precision: 2.0 / 3, Recall: 13.0 / 18, F1: 59.0 / 90},
		Weighted:  Averages{Precision: 0.75, Recall: 4.0 / 6, F1: 61.0 / 90},
		Confusion: [][]int{{2, 1, 0}, {0, 1, 1}, {0, 0, 1}},
	}
	if d := cmp.Diff(want, got, approx); d != "" {
		t.Errorf("Evaluate (-want +got):\n%s", d)
	}

	var b strings.Builder
	if err := WriteClassificationCSV(&b, got); err != nil {
		t.Fatal(err)
	}
	wantCSV := `class,precision,recall,f1-score,support
rex,1.000000,0.666667,0.800000,3
fido,0.500000,0.500000,0.500000,2
"max, jr",0.500000,1.000000,0.666667,1
accuracy,,,0.666667,6
macro avg,0.666667,0.722222,0.655556,6
weighted avg,0.750000,0.666667,0.677778,6
`
	if d := cmp.Diff(wantCSV, b.String()); d != "" {
		t.Errorf("classification CSV (-want +got):\n%s", d)
	}

	b.Reset()
	if err := WriteConfusionCSV(&b, got); err != nil {
		t.Fatal(err)
	}
	wantConf := `true\pred,rex,fido,"max, jr"
rex,2,1,0
fido,0,1,1
"max, jr",0,0,1
`
	if d := cmp.Diff(wantConf, b.String()); d != "" {
		t.Errorf("confusion CSV (-want +got):\n%s", d)
	}
}

func TestEvaluateZeroDivisionAndTop5(t *testing.T) {
	// Six classes, so top-k uses k = 5. Both samples predict class 0
	// (0.25 tie between 0 and 1 goes to the lower index); the top 5 are
	// classes 0..4, so the sample of class 5 misses it.
	p := []float32{0.25, 0.25, 0.125, 0.125, 0.125, 0.125}
	got, err := Evaluate([]int{5, 0}, [][]float32{p, p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// class 0: predicted twice, right once: P = 1/2, R = 1/1, F1 = 2/3.
	// class 5: never predicted: P = 0 (zero_division=0), R = 0/1, F1 = 0.
	// classes 1..4: neither true nor predicted: all 0, left out of macro.
	// macro over {0, 5}: P = .25, R = .5, F1 = 1/3.
	// weighted (support 1 each of 2): P = .25, R = .5, F1 = 1/3.
	// log loss = -(ln .125 + ln .25)/2.
	want := Report{
		N:        2,
		Accuracy: 0.5,
		Top5:     0.5,
		LogLoss:  -(math.Log(0.125) + math.Log(0.25)) / 2,
		PerClass: []ClassScore{
			{Class: 0, Name: "0", Precision: 0.5, Recall: 1, F1: 2.0 / 3, Support: 1},
			{Class: 1, Name: "1"},
			{Class: 2, Name: "2"},
			{Class: 3, Name: "3"},
			{Class: 4, Name: "4"},
			{Class: 5, Name: "5", Support: 1},
		},
		Macro:    Averages{Precision: 0.25, Recall: 0.5, F1: 1.0 / 3},
		Weighted: Averages{Precision: 0.25, Recall: 0.5, F1: 1.0 / 3},
		Confusion: [][]int{
			{1, 0, 0, 0, 0, 0},
			{0, 0, 0, 0, 0, 0},
			{0, 0, 0, 0, 0, 0},
			{0, 0, 0, 0, 0, 0},
			{0, 0, 0, 0, 0, 0},
			{1, 0, 0, 0, 0, 0},
		},
	}
	if d := cmp.Diff(want, got, approx); d != "" {
		t.Errorf("Evaluate (-want +got):\n%s", d)
	}
}

func TestEvaluateClipsZeroProbability(t *testing.T) {
	got, err := Evaluate([]int{1}, [][]float32{{1, 0}}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	// p(true) = 0 is clipped to 1e-12: loss = -ln(1e-12) = 27.631...
	if d := cmp.Diff(-math.Log(1e-12), got.LogLoss, approx); d != "" {
		t.Errorf("LogLoss (-want +got):\n%s", d)
	}
}

func TestEvaluateErrors(t *testing.T) {
	cases := map[string]struct {
		labels []int
		probs  [][]float32
		names  []string
	}{
		"empty":          {nil, nil, nil},
		"length":         {[]int{0}, nil, nil},
		"label range":    {[]int{2}, [][]float32{{0.5, 0.5}}, nil},
		"negative label": {[]int{-1}, [][]float32{{0.5, 0.5}}, nil},
		"ragged":         {[]int{0, 0}, [][]float32{{0.5, 0.5}, {1}}, nil},
		"names":          {[]int{0}, [][]float32{{0.5, 0.5}}, []string{"a"}},
		"no classes":     {[]int{0}, [][]float32{{}}, nil},
	}
	for name, c := range cases {
		if _, err := Evaluate(c.labels, c.probs, c.names); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

func TestTopK(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		probs []float32
		k     int
		want  []int
	}{
		{[]float32{0.1, 0.5, 0.2, 0.2}, 3, []int{1, 2, 3}},
		{[]float32{0.1, 0.5, 0.2, 0.2}, 10, []int{1, 2, 3, 0}},
		{[]float32{0.3, 0.3, 0.3}, 2, []int{0, 1}},
		{[]float32{nan, 0.1, 0.2}, 3, []int{2, 1, 0}},
		{[]float32{0.1}, 0, []int{}},
		{[]float32{0.1}, -1, []int{}},
	}
	for _, c := range cases {
		if d := cmp.Diff(c.want, TopK(c.probs, c.k)); d != "" {
			t.Errorf("TopK(%v, %d) (-want +got):\n%s", c.probs, c.k, d)
		}
	}
}

func TestArgmaxAgreesWithTopK(t *testing.T) {
	nan := float32(math.NaN())
	for _, probs := range [][]float32{
		{0.1, 0.7, 0.2},
		{0.4, 0.4, 0.2}, // tie: the lower index
		{nan, 0.3, 0.5}, // NaN loses to numbers
		{0.2, nan, 0.1},
		{nan, nan, 0.0},
	} {
		if got, want := Argmax(probs), TopK(probs, 1)[0]; got != want {
			t.Errorf("Argmax(%v) = %d, TopK names %d", probs, got, want)
		}
	}
}
