package schemas

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const splitBase = `name: s
dataset: {path: d}
backbone: {name: mobilefacenet}
seeds: [1, 2]
`

func TestSplitBlock(t *testing.T) {
	e, err := Decode("s.yaml", []byte(splitBase+"split: {group: none, kfold: 5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Split{Group: "none", Threshold: 8, KFold: 5}, e.Split); diff != "" {
		t.Errorf("split (-want +got):\n%s", diff)
	}
	// split.leaky may be swept, to put the two protocols side by side.
	e, err = Decode("s.yaml", []byte(splitBase+"sweep: {split.leaky: [false, true]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	trials, err := e.Trials()
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 4 || !trials[2].Config.Split.Leaky || trials[0].Config.Split.Leaky {
		t.Errorf("leaky sweep expanded wrongly: %d trials", len(trials))
	}
	if got := trials[3].VariantKey(); got != "split.leaky=true" {
		t.Errorf("variant key %q", got)
	}
}

// TestSplitAlignThreshold: align's threshold is a correlation, so leaving it
// out gives align's default, not phash's 8 bits; a phash file without one
// keeps 8 (and its trial hashes).
func TestSplitAlignThreshold(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want Split
	}{
		{"split: {group: align}\n", Split{Group: "align", Threshold: 0.75}},
		{"split: {group: align, threshold: 0.6}\n", Split{Group: "align", Threshold: 0.6}},
		{"split: {group: phash}\n", Split{Group: "phash", Threshold: 8}},
		{"", Split{Group: "phash", Threshold: 8}},
	} {
		e, err := Decode("s.yaml", []byte(splitBase+tc.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if diff := cmp.Diff(tc.want, e.Split); diff != "" {
			t.Errorf("%q: split (-want +got):\n%s", tc.yaml, diff)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"split: {kfold: 1}\n", "s.yaml:5:16: split.kfold: 1 is not a number of folds"},
		{"split: {group: ssim}\n", `split.group: "ssim" is not one of phash, align, none`},
		{"split: {group: align, threshold: 8}\n", "s.yaml:5:34: split.threshold: align takes a correlation from 0 to 1, got 8 (leave it out for 0.75)"},
		{"sweep: {split.kfold: [0, 5]}\n", "split.kfold cannot be swept: grouping and folds must be the same for every trial"},
		{"sweep: {split.group: [phash, none]}\n", "split.group cannot be swept"},
	} {
		_, err := Decode("s.yaml", []byte(splitBase+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
