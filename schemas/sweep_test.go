package schemas

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

func TestTrialsOrder(t *testing.T) {
	e, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := e.Trials()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Index int
		Seed  int64
		Key   string
	}
	var got []row
	for _, tr := range trials {
		got = append(got, row{tr.Index, tr.Seed, tr.VariantKey()})
	}
	var want []row
	for _, hidden := range []string{"[128]", "[256,128]"} {
		for _, lr := range []string{"1", "0.01", "0.0001"} {
			for _, seed := range []int64{3, 1, 2} {
				want = append(want, row{len(want), seed, "head.hidden=" + hidden + ", train.lr=" + lr})
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expansion (-want +got):\n%s", diff)
	}

	// One trial in full: the swept values land in their fields, typed.
	tr := trials[5] // hidden [128], lr 0.01, seed 2
	wantCfg := *e
	wantCfg.Head.Hidden = []int{128}
	wantCfg.Train.LR = 0.01
	wantCfg.Sweep = nil
	wantCfg.Seeds = []int64{2}
	if diff := cmp.Diff(wantCfg, tr.Config); diff != "" {
		t.Errorf("trial 5 config (-want +got):\n%s", diff)
	}
	wantVar := []Setting{{"head.hidden", []int{128}}, {"train.lr", 0.01}}
	if diff := cmp.Diff(wantVar, tr.Variant); diff != "" {
		t.Errorf("trial 5 variant (-want +got):\n%s", diff)
	}

	// Trials do not share slices with each other or the experiment.
	trials[0].Config.Head.Hidden[0] = -1
	if trials[1].Config.Head.Hidden[0] != 128 || e.Head.Hidden[0] != 512 {
		t.Errorf("trials share the hidden slice")
	}
}

func TestTrialsNoSweep(t *testing.T) {
	e, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e.Seeds = []int64{5, 6}
	trials, err := e.Trials()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var seeds []int64
	for _, tr := range trials {
		keys = append(keys, tr.VariantKey())
		seeds = append(seeds, tr.Config.Seeds...)
		if tr.Variant != nil {
			t.Errorf("trial %d: variant %v, want none", tr.Index, tr.Variant)
		}
	}
	if diff := cmp.Diff([]string{"base", "base"}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{5, 6}, seeds); diff != "" {
		t.Errorf("seeds (-want +got):\n%s", diff)
	}
}

// base is a valid experiment built in code.
func base() Experiment {
	e := Default()
	e.Name = "t"
	e.Dataset.Path = "p"
	e.Backbone.Name = "b"
	e.Seeds = []int64{1}
	return e
}

func TestSweptValueConversion(t *testing.T) {
	tests := []struct {
		path  string
		value any
		want  any // Setting.Value
		get   func(Experiment) any
		key   string // VariantKey
	}{
		{"train.epochs", int64(12), 12, func(e Experiment) any { return e.Train.Epochs }, "train.epochs=12"},
		{"train.epochs", uint64(13), 13, func(e Experiment) any { return e.Train.Epochs }, "train.epochs=13"},
		{"train.lr", int64(1), 1.0, func(e Experiment) any { return e.Train.LR }, "train.lr=1"},
		{"train.lr", 1e-5, 1e-5, func(e Experiment) any { return e.Train.LR }, "train.lr=1e-05"},
		{"head.hidden", []any{int64(64), uint64(32)}, []int{64, 32}, func(e Experiment) any { return e.Head.Hidden }, "head.hidden=[64,32]"},
		{"head.hidden", []any{}, []int{}, func(e Experiment) any { return e.Head.Hidden }, "head.hidden=[]"},
		{"augmentation.zoom", []any{0.9, int64(1)}, [2]float64{0.9, 1}, func(e Experiment) any { return e.Augmentation.Zoom }, "augmentation.zoom=[0.9,1]"},
		{"backbone.name", "facenet", "facenet", func(e Experiment) any { return e.Backbone.Name }, "backbone.name=facenet"},
		{"augmentation.hflip", true, true, func(e Experiment) any { return e.Augmentation.HFlip }, "augmentation.hflip=true"},
		{"train.early_stopping.patience", int64(0), 0, func(e Experiment) any { return e.Train.EarlyStopping.Patience }, "train.early_stopping.patience=0"},
	}
	for _, tt := range tests {
		e := base()
		e.Sweep = Sweep{{Path: tt.path, Values: []any{tt.value}}}
		trials, err := e.Trials()
		if err != nil {
			t.Errorf("%s=%v: %v", tt.path, tt.value, err)
			continue
		}
		tr := trials[0]
		if diff := cmp.Diff([]Setting{{tt.path, tt.want}}, tr.Variant); diff != "" {
			t.Errorf("%s=%v variant (-want +got):\n%s", tt.path, tt.value, diff)
		}
		if diff := cmp.Diff(tt.want, tt.get(tr.Config)); diff != "" {
			t.Errorf("%s=%v field (-want +got):\n%s", tt.path, tt.value, diff)
		}
		if got := tr.VariantKey(); got != tt.key {
			t.Errorf("%s=%v VariantKey = %q, want %q", tt.path, tt.value, got, tt.key)
		}
	}
}

func TestSweptValueRejected(t *testing.T) {
	tests := []struct {
		path  string
		value any
		want  string
	}{
		{"train.epochs", 2.5, "f.yaml: sweep train.epochs[0]: expected an integer, got float 2.5"},
		{"train.epochs", uint64(math.MaxUint64), "f.yaml: sweep train.epochs[0]: 18446744073709551615 is too large"},
		{"train.lr", "fast", `f.yaml: sweep train.lr[0]: expected a number, got string "fast"`},
		{"train.lr", int64(1) << 60, "f.yaml: sweep train.lr[0]: 1152921504606846976 cannot be represented exactly as a number"},
		{"train.lr", nil, "f.yaml: sweep train.lr[0]: expected a number, got null"},
		{"augmentation.zoom", []any{1.0, 1.0, 1.0}, "f.yaml: sweep augmentation.zoom[0]: expected a list of 2 numbers, got a list of 3"},
		{"augmentation.zoom", []any{1.5, 1.0}, "f.yaml: sweep augmentation.zoom[0]: min 1.5 is greater than max 1"},
		{"head.hidden", []any{int64(8), "x"}, `f.yaml: sweep head.hidden[0][1]: expected an integer, got string "x"`},
		{"augmentation.hflip", "yes", `f.yaml: sweep augmentation.hflip[0]: expected true or false, got string "yes"`},
		{"dataset.seed", int64(2), `f.yaml: sweep "dataset.seed": the dataset cannot be swept: its photos and split must be the same for every trial so variants are compared on the same test photos (write a separate experiment instead)`},
		{"name", "x", `f.yaml: sweep "name": name cannot be swept`},
		{"description", "x", `f.yaml: sweep "description": description cannot be swept`},
		{"sweep", "x", `f.yaml: sweep "sweep": sweep cannot be swept`},
		{"train.early_stopping", int64(1), `f.yaml: sweep "train.early_stopping": is a group of fields; sweep one of train.early_stopping.monitor, train.early_stopping.patience, train.early_stopping.min_delta`},
		{"head.dropout.x", 0.1, `f.yaml: sweep "head.dropout.x": no such field, did you mean "head.dropout"?`},
		{"file", "x", `f.yaml: sweep "file": no such field`},
	}
	for _, tt := range tests {
		e := base()
		e.File = "f.yaml"
		e.Sweep = Sweep{{Path: tt.path, Values: []any{tt.value}}}
		_, err := e.Trials()
		got := "<nil>"
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("sweep %s=%v:\n got %s\nwant %s", tt.path, tt.value, got, tt.want)
		}
	}

	// Duplicates (after conversion), empty axes and repeated axes.
	e := base()
	e.Sweep = Sweep{
		{Path: "train.lr", Values: []any{int64(1), 1.0}},
		{Path: "head.dropout", Values: nil},
		{Path: "train.lr", Values: []any{0.5}},
	}
	err := e.Validate()
	want := []string{
		"sweep train.lr[1]: duplicate value 1 (same as [0])",
		`sweep "head.dropout": needs at least one value`,
		`sweep "train.lr": listed twice`,
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}

func TestVariantKey(t *testing.T) {
	tests := []struct {
		variant []Setting
		want    string
	}{
		{nil, "base"},
		{[]Setting{{"head.dropout", 0.25}}, "head.dropout=0.25"},
		{[]Setting{{"head.dropout", 0.0}, {"train.optimizer", "sgd"}}, "head.dropout=0, train.optimizer=sgd"},
		{[]Setting{{"head.hidden", []int{512, 256}}, {"augmentation.zoom", [2]float64{0.9, 1.25}}}, "head.hidden=[512,256], augmentation.zoom=[0.9,1.25]"},
	}
	for _, tt := range tests {
		if got := (Trial{Variant: tt.variant}).VariantKey(); got != tt.want {
			t.Errorf("VariantKey(%v) = %q, want %q", tt.variant, got, tt.want)
		}
	}
}

func TestSweepInterop(t *testing.T) {
	// go-yaml's own decoder goes through Sweep.UnmarshalYAML and keeps order.
	var e Experiment
	src := "name: x\nsweep:\n  train.lr: [0.1, 0.01]\n  head.dropout: [0, 0.5]\n  augmentation.views: [1]\n"
	if err := yaml.UnmarshalWithOptions([]byte(src), &e, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	want := Sweep{
		{Path: "train.lr", Values: []any{0.1, 0.01}, Line: 3, Column: 3},
		{Path: "head.dropout", Values: []any{int64(0), 0.5}, Line: 4, Column: 3},
		{Path: "augmentation.views", Values: []any{int64(1)}, Line: 5, Column: 3},
	}
	if diff := cmp.Diff(want, e.Sweep); diff != "" {
		t.Errorf("yaml.Unmarshal sweep (-want +got):\n%s", diff)
	}

	// JSON: an ordered object, and back.
	data, err := json.Marshal(e.Sweep)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), `{"train.lr":[0.1,0.01],"head.dropout":[0,0.5],"augmentation.views":[1]}`; got != want {
		t.Errorf("sweep JSON = %s, want %s", got, want)
	}
	var back Sweep
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i].Line, want[i].Column = 0, 0
	}
	if diff := cmp.Diff(want, back); diff != "" {
		t.Errorf("sweep JSON round trip (-want +got):\n%s", diff)
	}

	// YAML: an ordered mapping.
	out, err := yaml.Marshal(struct {
		Sweep Sweep `yaml:"sweep"`
	}{e.Sweep})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "sweep:\n  train.lr:\n  - 0.1\n  - 0.01\n  head.dropout:\n  - 0\n  - 0.5\n  augmentation.views:\n  - 1\n"; got != want {
		t.Errorf("sweep YAML =\n%s\nwant\n%s", got, want)
	}

	// Shape errors surface through go-yaml too.
	err = yaml.Unmarshal([]byte("sweep:\n  head.dropout: 0.5\n"), &e)
	if err == nil || !strings.Contains(err.Error(), `2:17: sweep "head.dropout": expected a list of values, got float 0.5`) {
		t.Errorf("yaml.Unmarshal bad sweep: %v", err)
	}
}

func TestCanonicalJSON(t *testing.T) {
	e, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"dataset":{"min_images_per_class":2,"max_classes":0,"seed":1,"test":0.2,"val":0.1},` +
		`"split":{"group":"phash","threshold":8,"kfold":0,"leaky":false},` +
		`"backbone":{"name":"mobilefacenet"},"head":{"hidden":[],"dropout":0,"activation":"relu"},` +
		`"augmentation":{"views":0,"rotation_deg":0,"shift":0,"zoom":[1,1],"brightness":[1,1],"hflip":false},` +
		`"train":{"optimizer":"adam","lr":0.001,"weight_decay":0,"batch_size":32,"epochs":40,` +
		`"early_stopping":{"monitor":"val_loss","patience":5,"min_delta":0}},"seeds":[42]}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("CanonicalJSON (-want +got):\n%s", diff)
	}

	hash := func(e Experiment) string {
		b, err := e.CanonicalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// Name, description, dataset path, file and nil-vs-empty lists don't matter.
	same := *e
	same.Name, same.Description, same.Dataset.Path, same.File = "other", "words", "/elsewhere", "x.yaml"
	same.Head.Hidden = nil
	if diff := cmp.Diff(hash(*e), hash(same)); diff != "" {
		t.Errorf("hash changed by excluded fields (-want +got):\n%s", diff)
	}
	// Anything that changes training does.
	for name, change := range map[string]func(*Experiment){
		"lr":      func(x *Experiment) { x.Train.LR = 0.01 },
		"hidden":  func(x *Experiment) { x.Head.Hidden = []int{8} },
		"seed":    func(x *Experiment) { x.Seeds = []int64{43} },
		"split":   func(x *Experiment) { x.Dataset.Seed = 2 },
		"classes": func(x *Experiment) { x.Dataset.MaxClasses = 5 },
		"sweep":   func(x *Experiment) { x.Sweep = Sweep{{Path: "head.dropout", Values: []any{0.1}}} },
	} {
		c := e.clone()
		change(&c)
		if hash(c) == hash(*e) {
			t.Errorf("changing %s did not change CanonicalJSON", name)
		}
	}
	// Stable across decodes and trials.
	e2, _ := Load("testdata/minimal.yaml")
	trials, _ := e2.Trials()
	if diff := cmp.Diff(hash(*e), hash(trials[0].Config)); diff != "" {
		t.Errorf("trial config hash differs from its experiment (-want +got):\n%s", diff)
	}
}
