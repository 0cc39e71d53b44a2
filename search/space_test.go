package search

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// issueSpace is the space of the issue's example.
func issueSpace(t *testing.T) Space {
	t.Helper()
	s, err := NewSpace(
		Param{Name: "train.lr", Kind: LogUniform, Low: 1e-4, High: 1e-1},
		Param{Name: "head.dropout", Kind: Uniform, Low: 0, High: 0.6},
		Param{Name: "head.hidden", Kind: Choice, Choices: []any{[]any{}, []any{256}, []any{512, 256}}},
		Param{Name: "augmentation.views", Kind: Int, Low: 0, High: 8},
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSpaceSortsByNameAndDefaultsStep(t *testing.T) {
	s := issueSpace(t)
	var names []string
	for _, p := range s.Params() {
		names = append(names, p.Name)
	}
	if want := []string{"augmentation.views", "head.dropout", "head.hidden", "train.lr"}; !cmp.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	if s.Params()[0].Step != 1 {
		t.Errorf("int step %d, want the default 1", s.Params()[0].Step)
	}
	got := s.Values(Point{3, 0.25, 2, 0.01})
	want := map[string]any{"augmentation.views": 3, "head.dropout": 0.25, "head.hidden": []any{512, 256}, "train.lr": 0.01}
	if !cmp.Equal(got, want) {
		t.Errorf("Values: %s", cmp.Diff(want, got))
	}
}

func TestSpaceRejects(t *testing.T) {
	for _, c := range []struct {
		p    Param
		want string
	}{
		{Param{Name: "a", Kind: Uniform, Low: 1, High: 1}, "a: uniform needs finite low < high, got [1, 1]"},
		{Param{Name: "a", Kind: Uniform, Low: 0, High: math.Inf(1)}, "a: uniform needs finite low < high"},
		{Param{Name: "a", Kind: Uniform, Low: math.NaN(), High: 1}, "a: uniform needs finite low < high"},
		{Param{Name: "lr", Kind: LogUniform, Low: 0, High: 0.1}, "lr: loguniform needs 0 < low < high, got [0, 0.1]"},
		{Param{Name: "v", Kind: Int, Low: 0.5, High: 8}, "v: int needs whole numbers low < high, got [0.5, 8]"},
		{Param{Name: "v", Kind: Int, Low: 8, High: 0}, "v: int needs whole numbers low < high"},
		{Param{Name: "v", Kind: Int, Low: 0, High: 9, Step: 2}, "v: int high 9 is not low 0 plus a multiple of step 2"},
		{Param{Name: "v", Kind: Int, Low: 0, High: 8, Step: -2}, "v: int step must be at least 1, got -2"},
		{Param{Name: "v", Kind: Int, Low: 2, High: 64, Step: 2, Log: true}, "v: int cannot be log with step 2"},
		{Param{Name: "v", Kind: Int, Low: 0, High: 64, Log: true}, "v: int log needs low >= 1, got 0"},
		{Param{Name: "h", Kind: Choice}, "h: choice needs at least one value"},
		{Param{Name: "d", Kind: Uniform, Low: 0, High: 1, Step: 1}, "d: uniform takes no step or log"},
		{Param{Name: "d", Kind: LogUniform, Low: 1, High: 2, Log: true}, "d: loguniform takes no step or log"},
		{Param{Name: "d", Kind: Uniform, Low: 0, High: 1, Choices: []any{1}}, "d: uniform takes no choices"},
		{Param{Name: "d", Kind: Kind(9)}, "d: unknown kind 9"},
		{Param{Kind: Uniform, Low: 0, High: 1}, "a parameter has no name"},
	} {
		_, err := NewSpace(c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.p, err, c.want)
		}
	}
	if _, err := NewSpace(); err == nil || !strings.Contains(err.Error(), "no parameters") {
		t.Errorf("empty space: error %v", err)
	}
	a := Param{Name: "x", Kind: Uniform, Low: 0, High: 1}
	if _, err := NewSpace(a, a); err == nil || !strings.Contains(err.Error(), "x is given twice") {
		t.Errorf("duplicate: error %v", err)
	}
}

// A stored point that the space cannot have drawn (the space was edited
// between runs of a search) is an error, never a silent draw.
func TestSampleRejectsForeignHistory(t *testing.T) {
	s := issueSpace(t)
	for _, c := range []struct {
		pt   Point
		want string
	}{
		{Point{3, 0.25, 2}, "a point has 3 values for 4 parameters"},
		{Point{9, 0.25, 2, 0.01}, "augmentation.views = 9 is outside the space (int [0, 8] step 1)"},
		{Point{2.5, 0.25, 2, 0.01}, "augmentation.views = 2.5 is outside"},
		{Point{3, 0.7, 2, 0.01}, "head.dropout = 0.7 is outside the space (uniform [0, 0.6])"},
		{Point{3, 0.25, 3, 0.01}, "head.hidden = 3 is outside the space (choice of 3)"},
		{Point{3, 0.25, 1, 0.5}, "train.lr = 0.5 is outside the space (loguniform [0.0001, 0.1])"},
	} {
		_, err := NewTPE().Sample(s, 1, 1, []Trial{{N: 0, Point: c.pt, Value: 0.5}})
		if err == nil || !strings.Contains(err.Error(), "trial 0: search: "+c.want) {
			t.Errorf("%v: error %v, want %q", c.pt, err, c.want)
		}
	}
	ok := Point{3, 0.25, 1, 0.01}
	for _, c := range []struct {
		h    []Trial
		want string
	}{
		{[]Trial{{N: 1, Point: ok}}, "trial 1 cannot be in the history of claim 1"},
		{[]Trial{{N: -1, Point: ok}}, "trial -1 cannot be in the history of claim 1"},
		{[]Trial{{N: 0, Point: ok}, {N: 0, Point: ok}}, "trial 0 is in the history twice"},
	} {
		_, err := NewTPE().Sample(s, 1, 1, c.h)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}
