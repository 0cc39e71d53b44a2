package dedupe

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
)

func TestParseLabelledPairsErrors(t *testing.T) {
	for _, tc := range []struct{ csv, want string }{
		{"a,b,label\n", "pairs.csv: record on line 1: wrong number of fields"},
		{"x,b,label,kind,mined\n", `pairs.csv:1: header "x,b,label,kind,mined", want a,b,label,kind,mined`},
		{"a,b,label,kind,mined\n39/39.1.jpg,39/39.4.jpg,same,,issue\n", `pairs.csv:2: field kind: "", want realigned or burst for a same pair`},
		{"a,b,label,kind,mined\n39/39.1.jpg,39/39.4.jpg,maybe,,issue\n", `pairs.csv:2: field label: "maybe", want same, different or unsure`},
		{"a,b,label,kind,mined\n39/39.1.jpg,39/39.4.jpg,different,burst,issue\n", `pairs.csv:2: field kind: "burst", want it empty for a different pair`},
		{"a,b,label,kind,mined\n39.1.jpg,39/39.4.jpg,different,,issue\n", `pairs.csv:2: field a: "39.1.jpg" is not a dog-relative photo path like 39/39.1.jpg`},
		{"a,b,label,kind,mined\n39/39.1.jpg,40/40.4.jpg,different,,issue\n", "pairs.csv:2: field b: 40/40.4.jpg is not filed under a's dog 39"},
		{"a,b,label,kind,mined\n39/39.1.jpg,39/39.1.jpg,different,,issue\n", "pairs.csv:2: field b: the same photo as a (39/39.1.jpg)"},
		{"a,b,label,kind,mined\n39/39.1.jpg,39/39.4.jpg,different,,issue\n39/39.4.jpg,39/39.1.jpg,same,burst,issue\n", "pairs.csv:3: pair 39/39.4.jpg, 39/39.1.jpg already labelled on line 2"},
	} {
		_, err := ParseLabelledPairs(strings.NewReader(tc.csv), "pairs.csv")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: error %v, want %s", tc.csv, err, tc.want)
		}
	}
}

// TestLabelledPairs checks the embedded list: at least 200 same-shot and 400
// different-shot pairs, with the four examples among the same.
func TestLabelledPairs(t *testing.T) {
	ps, err := LabelledPairs()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	same := map[string]bool{}
	for _, p := range ps {
		count[p.Label]++
		if p.Label == "same" {
			same[p.A+" "+p.B] = true
		}
	}
	if count["same"] < 200 || count["different"] < 400 {
		t.Errorf("%v: want >= 200 same and >= 400 different", count)
	}
	for _, p := range []string{"39/39.1.jpg 39/39.4.jpg", "646/646.0.jpg 646/646.1.jpg", "909/909.0.jpg 909/909.4.jpg", "519/519.2.jpg 519/519.3.jpg"} {
		if !same[p] {
			t.Errorf("the issue's example %s is not labelled same", p)
		}
	}
}

// TestAlignOnLabelledPairs re-measures the align method at its default
// threshold on every third labelled real pair (docs/dedupe.md has the whole
// list): recall on same-shot pairs and false merges of different shots of
// one dog, beside phash at its default. The goal (recall >= 95% with
// false merges <= 2%) is not met; this asserts the measured level so that a
// regression fails.
func TestAlignOnLabelledPairs(t *testing.T) {
	root := needs.Photos(t)
	ps, err := LabelledPairs()
	if err != nil {
		t.Fatal(err)
	}
	var labels []Label
	var subset []LabelledPair
	n := 0
	for _, p := range ps {
		l, ok := p.calibrationLabel()
		if !ok {
			continue
		}
		if n++; n%3 == 0 {
			labels = append(labels, l)
			subset = append(subset, p)
		}
	}
	align := make([]float64, len(subset))
	phash := make([]float64, len(subset))
	if err := forEach(len(subset), nil, func(i int) error {
		a, err := dataset.Decode(filepath.Join(root, filepath.FromSlash(subset[i].A)))
		if err != nil {
			return err
		}
		b, err := dataset.Decode(filepath.Join(root, filepath.FromSlash(subset[i].B)))
		if err != nil {
			return err
		}
		align[i] = AlignCompare(a, b).Similarity()
		sa, sb := Sign(a), Sign(b)
		phash[i] = -float64(SignatureDistance(&sa, &sb))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := Evaluate(labels, align, AlignThreshold)
	p := Evaluate(labels, phash, -PHashThreshold)
	t.Logf("%d same, %d different: align >= %g recall %.3f (%v), false merges %.3f; phash <= %d recall %.3f, false merges %.3f",
		r.Positives, r.Negatives, AlignThreshold, r.Recall, r.RecallByKind, r.FalseMerge, PHashThreshold, p.Recall, p.FalseMerge)
	if r.Recall < 0.72 || r.FalseMerge > 0.03 {
		t.Errorf("align: recall %.3f (want >= 0.72), false merges %.3f (want <= 0.03)", r.Recall, r.FalseMerge)
	}
	if r.Recall < p.Recall+0.3 {
		t.Errorf("align recall %.3f is not well above phash's %.3f", r.Recall, p.Recall)
	}
}
