package schemas

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dogrun/dogrun/search"
)

func TestSearchBlocks(t *testing.T) {
	e, err := Load("testdata/search.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Search{Method: "tpe", Trials: 60, Seed: 7, Metric: "val_accuracy", StartupTrials: 10, Space: Space{
		{Path: "train.lr", Kind: "loguniform", Low: 1e-4, High: 0.1, Line: 9, Column: 5},
		{Path: "head.dropout", Kind: "uniform", Low: 0, High: 0.6, Line: 10, Column: 5},
		{Path: "head.hidden", Kind: "choice", Choices: []any{[]any{}, []any{int64(256)}, []any{int64(512), int64(256)}}, Line: 11, Column: 5},
		{Path: "augmentation.views", Kind: "int", Low: 0, High: 8, Step: 2, Line: 12, Column: 5},
	}}
	if diff := cmp.Diff(want, e.Search); diff != "" {
		t.Errorf("search (-want +got):\n%s", diff)
	}
	// The keys a block leaves out take their defaults, those of both methods.
	if want := (Prune{Method: "asha", StartupTrials: 5, Interval: 1, MinTrials: 1, MinEpochs: 1, ReductionFactor: 3}); e.Prune != want {
		t.Errorf("prune %+v, want %+v", e.Prune, want)
	}
	if want := (Confirm{Top: 3, Seeds: 8}); e.Confirm != want {
		t.Errorf("confirm %+v, want %+v", e.Confirm, want)
	}

	// Unwritten, the blocks stay zero and unchecked.
	m, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Search.Declared() || m.Prune.Declared() || m.Confirm.Declared() {
		t.Errorf("minimal.yaml declares %+v %+v %+v", m.Search, m.Prune, m.Confirm)
	}

	// A search expands to one base trial per seed, without the blocks: its
	// identity is that of the same config run alone.
	trials, err := e.Trials()
	if err != nil || len(trials) != 1 {
		t.Fatalf("Trials() = %d trials, %v; want 1", len(trials), err)
	}
	js, err := trials[0].Config.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range []string{`"search"`, `"prune"`, `"confirm"`} {
		if strings.Contains(string(js), block) {
			t.Errorf("trial config holds %s: %s", block, js)
		}
	}
}

func TestSearchTrialSetsTheDrawnValues(t *testing.T) {
	e, err := Load("testdata/search.yaml")
	if err != nil {
		t.Fatal(err)
	}
	space, err := e.SearchSpace()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range space.Params() {
		names = append(names, p.Name)
	}
	if diff := cmp.Diff([]string{"augmentation.views", "head.dropout", "head.hidden", "train.lr"}, names); diff != "" {
		t.Errorf("space order (-want +got):\n%s", diff)
	}
	// views 4 (int), dropout 0.25, hidden [512, 256] (choice 2), lr 0.003.
	values := space.Values(search.Point{4, 0.25, 2, 0.003})
	tr, err := e.SearchTrial(3, values)
	if err != nil {
		t.Fatal(err)
	}
	c := tr.Config
	if c.Augmentation.Views != 4 || c.Head.Dropout != 0.25 || !cmp.Equal(c.Head.Hidden, []int{512, 256}) || c.Train.LR != 0.003 {
		t.Errorf("config views %d dropout %g hidden %v lr %g", c.Augmentation.Views, c.Head.Dropout, c.Head.Hidden, c.Train.LR)
	}
	if tr.Seed != 3 || !cmp.Equal(c.Seeds, []int64{3}) || c.Search.Declared() || c.Prune.Declared() || c.Confirm.Declared() {
		t.Errorf("trial seed %d, config seeds %v, blocks %v %v %v", tr.Seed, c.Seeds, c.Search.Declared(), c.Prune.Declared(), c.Confirm.Declared())
	}
	if got, want := tr.VariantKey(), "augmentation.views=4, head.dropout=0.25, head.hidden=[512,256], train.lr=0.003"; got != want {
		t.Errorf("variant key %q, want %q", got, want)
	}
	if err := tr.Config.Validate(); err != nil {
		t.Errorf("drawn config does not validate: %v", err)
	}
	// The base experiment is left as it was.
	if e.Train.LR != 0.001 || len(e.Head.Hidden) != 0 {
		t.Errorf("SearchTrial changed the experiment: lr %g hidden %v", e.Train.LR, e.Head.Hidden)
	}
}

func TestSpaceJSONRoundTrip(t *testing.T) {
	e, err := Load("testdata/search.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(e.Search.Space)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"train.lr":{"loguniform":[0.0001,0.1]},"head.dropout":{"uniform":[0,0.6]},"head.hidden":{"choice":[[],[256],[512,256]]},"augmentation.views":{"int":[0,8],"step":2}}`
	if string(js) != want {
		t.Errorf("JSON\n%s\nwant\n%s", js, want)
	}
	var back Space
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	orig := Space(cloneSlice(e.Search.Space))
	for i := range orig {
		orig[i].Line, orig[i].Column = 0, 0
	}
	if diff := cmp.Diff(orig, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestValidateChecksACodeBuiltSpace(t *testing.T) {
	e, err := Load("testdata/search.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e.Search.Space = append(e.Search.Space, Dimension{Path: "train.momentum", Kind: "uniform", Low: 0, High: 1},
		Dimension{Path: "head.type", Kind: "gauss", Choices: []any{"dense"}})
	got := Errors(e.Validate())
	want := []*Error{
		{File: e.File, Field: `search.space "train.momentum"`, Msg: "no such field"},
		{File: e.File, Field: `search.space "head.type"`, Msg: `unknown kind of range "gauss" (uniform, loguniform, int or choice)`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}
