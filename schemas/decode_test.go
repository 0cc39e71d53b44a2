package schemas

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		file string
		want []*Error // File is filled in from file
	}{
		{"unknown_field.yaml", []*Error{
			{Line: 3, Column: 3, Field: "head", Msg: `unknown field "hiden", did you mean "hidden"? (known: hidden, dropout, activation, type)`},
		}},
		{"wrong_type.yaml", []*Error{
			{Line: 4, Column: 13, Field: "train.lr", Msg: `expected a number, got string "fast"`},
			{Line: 4, Column: 27, Field: "train.epochs", Msg: `expected an integer, got float 2.5`},
			{Line: 6, Column: 17, Field: "head.hidden[1]", Msg: `expected an integer, got string "x"`},
		}},
		{"bad_sweep_path.yaml", []*Error{
			{Line: 7, Column: 3, Field: `sweep "head.dropot"`, Msg: `no such field, did you mean "head.dropout"?`},
			{Line: 8, Column: 3, Field: `sweep "dataset.test"`, Msg: "the dataset cannot be swept: its photos and split must be the same for every trial so variants are compared on the same test photos (write a separate experiment instead)"},
			{Line: 9, Column: 3, Field: `sweep "head"`, Msg: "is a group of fields; sweep one of head.hidden, head.dropout, head.activation, head.type"},
			{Line: 10, Column: 3, Field: `sweep "seeds"`, Msg: "seeds cannot be swept"},
		}},
		{"out_of_range.yaml", []*Error{
			{Line: 2, Column: 41, Field: "dataset.val", Msg: "test + val must be < 1 to leave photos for training, got 0.6 + 0.5"},
			{Line: 5, Column: 12, Field: "head.dropout", Msg: "1.5 is out of range [0, 1)"},
			{Line: 6, Column: 16, Field: "head.hidden[1]", Msg: "0 is out of range (must be >= 1)"},
			{Line: 7, Column: 15, Field: "head.activation", Msg: `"elu" is not one of relu, gelu, tanh, sigmoid, swish`},
			{Line: 8, Column: 22, Field: "augmentation.zoom", Msg: "min 1.2 is greater than max 0.9"},
			{Line: 8, Column: 41, Field: "augmentation.views", Msg: "65 is out of range [0, 64]"},
			{Line: 9, Column: 13, Field: "train.lr", Msg: "0 is out of range (0, 10]"},
			{Line: 9, Column: 27, Field: "train.optimizer", Msg: `"rmsprop" is not one of adam, sgd, adamw`},
		}},
		{"swept_out_of_range.yaml", []*Error{
			{Line: 7, Column: 28, Field: "sweep head.hidden[1][1]", Msg: "0 is out of range (must be >= 1)"},
			{Line: 8, Column: 35, Field: "sweep augmentation.zoom[1]", Msg: "expected a list of 2 numbers, got a list of 3"},
			{Line: 9, Column: 28, Field: "sweep head.dropout[2]", Msg: "1.5 is out of range [0, 1)"},
			{Line: 10, Column: 27, Field: "sweep head.activation[1]", Msg: "expected a string, got integer 3"},
			{Line: 10, Column: 30, Field: "sweep head.activation[2]", Msg: "duplicate value relu (same as [0])"},
			{Line: 11, Column: 13, Field: `sweep "train.lr"`, Msg: "needs at least one value"},
		}},
		{"search_bad.yaml", []*Error{
			{Line: 6, Column: 11, Field: "search.trials", Msg: "0 is out of range [1, 100000]"},
			{Line: 7, Column: 3, Field: "search.startup_trials", Msg: "applies to method tpe, not random"},
			{Line: 9, Column: 5, Field: `search.space "train.lr"`, Msg: "loguniform needs 0 < low < high, got [0, 0.1]"},
			{Line: 10, Column: 33, Field: "search.space head.dropout", Msg: "high: 1 is out of range [0, 1)"},
			{Line: 11, Column: 33, Field: "search.space head.hidden[1][0]", Msg: "0 is out of range (must be >= 1)"},
			{Line: 11, Column: 37, Field: "search.space head.hidden[2]", Msg: "duplicate value [] (same as [0])"},
			{Line: 12, Column: 5, Field: `search.space "train.epochs"`, Msg: "takes whole numbers: use int: [low, high] (with log: true for a logarithmic scale), not uniform"},
			{Line: 13, Column: 5, Field: `search.space "augmentation.views"`, Msg: "int high 7 is not low 0 plus a multiple of step 2"},
			{Line: 14, Column: 5, Field: `search.space "head.activation"`, Msg: "takes a string: list them with choice: [...], not int"},
			{Line: 15, Column: 5, Field: `search.space "head.dropot"`, Msg: `no such field, did you mean "head.dropout"?`},
			{Line: 16, Column: 5, Field: `search.space "dataset.test"`, Msg: "the dataset cannot be searched: its photos and split must be the same for every trial so variants are compared on the same test photos (write a separate experiment instead)"},
			{Line: 17, Column: 49, Field: `search.space "train.batch_size"`, Msg: `unknown key "steep", did you mean "step"? (known: uniform, loguniform, int, choice, step, log)`},
			{Line: 18, Column: 26, Field: `search.space "train.weight_decay"`, Msg: `unknown key "unifrom", did you mean "uniform"? (known: uniform, loguniform, int, choice, step, log)`},
			{Line: 19, Column: 42, Field: `search.space "head.type"`, Msg: "gives both choice and uniform: a range has one kind"},
			{Line: 20, Column: 25, Field: `search.space "augmentation.shift"`, Msg: "expected a range such as {uniform: [0, 0.5]}, {loguniform: [1e-4, 0.1]}, {int: [1, 8]} or {choice: [a, b]}, got a list"},
			{Line: 21, Column: 46, Field: `search.space "augmentation.rotation_deg"`, Msg: `high: expected a number, got string "x"`},
			{Line: 22, Column: 25, Field: "prune.reduction_factor", Msg: "applies to method asha, not median"},
		}},
		{"search_rules.yaml", []*Error{
			{Line: 2, Column: 30, Field: "dataset.val", Msg: "is 0, but a search picks its settings on the validation photos: give it a share, e.g. 0.1"},
			{Line: 2, Column: 43, Field: "dataset.resample", Msg: "cannot be combined with split.kfold"},
			{Line: 3, Column: 16, Field: "split.kfold", Msg: "cannot be combined with search: each trial of a search trains once, on one split"},
			{Line: 8, Column: 10, Field: "confirm", Msg: "cannot be combined with dataset.resample: confirmation re-runs the search's best settings with new seeds on its own split, and under resample each seed draws other dogs"},
			{Line: 9, Column: 8, Field: "sweep", Msg: "cannot be combined with search: a search draws the settings a sweep would list (a swept field's values can be a choice: [...] in search.space)"},
			{Line: 10, Column: 8, Field: "seeds", Msg: "lists 2 seeds, but confirm re-runs the best settings of one search: list one seed"},
		}},
		{"search_empty.yaml", []*Error{
			{Line: 4, Column: 28, Field: "search.space", Msg: "is required: the fields to search and their ranges, e.g. {train.lr: {loguniform: [1e-4, 0.1]}}"},
		}},
		{"prune_alone.yaml", []*Error{
			{Line: 4, Column: 8, Field: "prune", Msg: "needs a search block: pruning stops the trials of a search"},
			{Line: 5, Column: 10, Field: "confirm", Msg: "needs a search block: it re-runs the best trials of a search"},
		}},
		{"malformed.yaml", []*Error{
			{Line: 3, Column: 1, Msg: "',' or '}' must be specified"},
		}},
		{"duplicate_key.yaml", []*Error{
			{Line: 2, Column: 1, Msg: `mapping key "name" already defined at [1:1]`},
		}},
		{"empty.yaml", []*Error{
			{Line: 1, Column: 1, Msg: "empty file: expected an experiment (name, dataset, backbone, ..., seeds)"},
		}},
		{"list.yaml", []*Error{
			{Line: 1, Column: 1, Msg: "expected a mapping of experiment fields, got a list"},
		}},
		{"missing_required.yaml", []*Error{
			{Line: 1, Column: 1, Field: "name", Msg: "is required"},
			{Line: 1, Column: 1, Field: "seeds", Msg: "is required (at least 1 value)"},
			{Line: 2, Column: 1, Field: "dataset.path", Msg: "is required"},
			{Line: 4, Column: 1, Field: "backbone.name", Msg: "is required"},
		}},
		{"seeds_dup.yaml", []*Error{
			{Line: 4, Column: 15, Field: "seeds[2]", Msg: "duplicate value 1 (same as [0])"},
		}},
		{"bad_features.yaml", []*Error{
			{Line: 3, Column: 35, Field: "backbone.names[1]", Msg: `"vggface2-mobilenet:" is not a backbone name or name:cut`},
			{Line: 4, Column: 57, Field: "features.gem_p", Msg: "is the exponent of pool: gem"},
			{Line: 4, Column: 75, Field: "features.block_weights", Msg: "validation weighs unit-length blocks: it needs normalize: l2 (standardize would undo the weights)"},
			{Line: 4, Column: 87, Field: "features.whiten.pca", Msg: "is required with fit_on: how many principal axes to keep"},
			{Line: 5, Column: 16, Field: "head.hidden", Msg: "a prototype head has no layers: it compares each photo with every dog's mean training row"},
		}},
		{"seeds_type.yaml", []*Error{
			{Line: 6, Column: 5, Field: "seeds[1]", Msg: "expected an integer, got float 0.5"},
		}},
		{"settle_bad.yaml", []*Error{
			{Line: 5, Column: 14, Field: "settle.by", Msg: `head.dropot is not swept, did you mean "head.dropout"? (swept: head.dropout, train.lr)`},
			{Line: 5, Column: 51, Field: "settle.metric", Msg: `"top3" is not one of top1, top5`},
			{Line: 5, Column: 65, Field: "settle.margin", Msg: "is required: the smallest difference in accuracy that matters, e.g. 0.01"},
			{Line: 5, Column: 75, Field: "settle.alpha", Msg: "0.5 is out of range (0, 0.5)"},
			{Line: 5, Column: 87, Field: "settle.round", Msg: "1 is out of range [2, 200]"},
			{Line: 5, Column: 101, Field: "settle.max_seeds", Msg: "201 is out of range [0, 200]"},
			{Line: 5, Column: 116, Field: "settle.spending", Msg: `"linear" is not one of obrien-fleming, pocock`},
		}},
		{"settle_values.yaml", []*Error{
			{Line: 6, Column: 1, Field: "settle.margin", Msg: "is required: the smallest difference in accuracy that matters, e.g. 0.01"},
			{Line: 8, Column: 14, Field: "settle.reference", Msg: "0.3 is not a value of head.dropout (its values: 0, 0.25, 0.5)"},
			{Line: 9, Column: 14, Field: "settle.max_seeds", Msg: "10 is not a multiple of settle.round 4: looks fall every round seeds, the last at max_seeds"},
		}},
		{"settle_empty.yaml", []*Error{
			{Line: 5, Column: 1, Field: "settle.by", Msg: "is required"},
			{Line: 5, Column: 1, Field: "settle.margin", Msg: "is required: the smallest difference in accuracy that matters, e.g. 0.01"},
			{Line: 5, Column: 1, Field: "settle.max_seeds", Msg: "is required: the most seeds a variant may take, e.g. 48"},
		}},
		{"settle_nosweep.yaml", []*Error{
			{Line: 4, Column: 14, Field: "settle.by", Msg: "head.dropout is not swept, and there is no sweep: settle compares the values of a swept field, e.g. sweep: {head.dropout: [0, 0.5]}"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			e, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want errors", path, e)
			}
			for _, w := range tt.want {
				w.File = path
			}
			if diff := cmp.Diff(tt.want, Errors(err)); diff != "" {
				t.Errorf("Load(%s) errors (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	_, err := Load("testdata/out_of_range.yaml")
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"testdata/out_of_range.yaml:2:41: dataset.val: test + val must be < 1 to leave photos for training, got 0.6 + 0.5",
		"testdata/out_of_range.yaml:5:12: head.dropout: 1.5 is out of range [0, 1)",
		"testdata/out_of_range.yaml:6:16: head.hidden[1]: 0 is out of range (must be >= 1)",
		`testdata/out_of_range.yaml:7:15: head.activation: "elu" is not one of relu, gelu, tanh, sigmoid, swish`,
		"testdata/out_of_range.yaml:8:22: augmentation.zoom: min 1.2 is greater than max 0.9",
		"testdata/out_of_range.yaml:8:41: augmentation.views: 65 is out of range [0, 64]",
		"testdata/out_of_range.yaml:9:13: train.lr: 0 is out of range (0, 10]",
		`testdata/out_of_range.yaml:9:27: train.optimizer: "rmsprop" is not one of adam, sgd, adamw`,
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("error text (-want +got):\n%s", diff)
	}

	// A single problem comes back as a bare *Error.
	_, err = Decode("x.yaml", []byte("name: x\ndataset: {path: p}\nbackbone: {name: b}\ntrain:\n  lr: fast\nseeds: [1]\n"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Decode error %T is not *Error", err)
	}
	if got, want := err.Error(), `x.yaml:5:7: train.lr: expected a number, got string "fast"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}

	// Without a position (built in code), the position is left out.
	for _, tc := range []struct {
		err  Error
		want string
	}{
		{Error{File: "f.yaml", Field: "head.dropout", Msg: "bad"}, "f.yaml: head.dropout: bad"},
		{Error{Field: "head.dropout", Msg: "bad"}, "head.dropout: bad"},
		{Error{Line: 2, Column: 3, Msg: "bad"}, "2:3: bad"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	got, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Experiment{
		Name: "minimal",
		Dataset: Dataset{
			Path: "/data/dogs", MinImagesPerClass: 2, MaxClasses: 0, Seed: 1, Test: 0.2, Val: 0.1,
		},
		Split:        Split{Group: "phash", Threshold: 8},
		Backbone:     Backbone{Name: "mobilefacenet"},
		Head:         Head{Hidden: []int{}, Dropout: 0, Activation: "relu"},
		Augmentation: Augmentation{Views: 0, Zoom: [2]float64{1, 1}, Brightness: [2]float64{1, 1}},
		Train: Train{
			Optimizer: "adam", LR: 0.001, BatchSize: 32, Epochs: 40,
			EarlyStopping: EarlyStopping{Monitor: "val_loss", Patience: 5},
		},
		Seeds: []int64{42},
		File:  "testdata/minimal.yaml",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}

	// Explicit zeros are kept, not replaced by defaults.
	e, err := Decode("z.yaml", []byte("name: z\ndataset: {path: p, seed: 0}\nbackbone: {name: b}\ntrain: {early_stopping: {patience: 0}}\nhead: {activation: }\nseeds: [0]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{int64(0), 0, "relu"}, []any{e.Dataset.Seed, e.Train.EarlyStopping.Patience, e.Head.Activation}); diff != "" {
		t.Errorf("explicit zeros / empty value (-want +got):\n%s", diff)
	}
}

func TestDecodeFull(t *testing.T) {
	got, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Experiment{
		Name:        "grid",
		Description: "two axes",
		Dataset:     Dataset{Path: "photos", MinImagesPerClass: 8, MaxClasses: 20, Seed: 7, Test: 0.25, Val: 0.15},
		Split:       Split{Group: "phash", Threshold: 8},
		Backbone:    Backbone{Name: "mobilefacenet"},
		Head:        Head{Hidden: []int{512, 256}, Dropout: 0.1, Activation: "gelu"},
		Augmentation: Augmentation{
			Views: 4, RotationDeg: 15, Shift: 0.05, Zoom: [2]float64{0.9, 1.25}, Brightness: [2]float64{0.8, 1.2}, HFlip: true,
		},
		Train: Train{
			Optimizer: "adamw", LR: 0.001, WeightDecay: 0.0001, BatchSize: 64, Epochs: 30,
			EarlyStopping: EarlyStopping{Monitor: "val_accuracy", Patience: 0, MinDelta: 0.01},
		},
		Sweep: Sweep{
			{Path: "head.hidden", Values: []any{[]any{int64(128)}, []any{int64(256), int64(128)}}, Line: 9, Column: 3},
			{Path: "train.lr", Values: []any{int64(1), 0.01, 1e-4}, Line: 10, Column: 3},
		},
		Seeds: []int64{3, 1, 2},
		File:  "testdata/valid.yaml",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decode (-want +got):\n%s", diff)
	}
}

func TestAnchorsMergeAndExponents(t *testing.T) {
	e, err := Load("testdata/anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := []any{e.Train.LR, e.Train.EarlyStopping, e.Sweep[0].Values, e.Sweep[1].Values}
	want := []any{
		1e-4,
		EarlyStopping{Monitor: "val_accuracy", Patience: 9},
		[]any{[]any{int64(32)}, []any{int64(128), int64(64)}},
		[]any{int64(0), 5e-4},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Quoted, an exponent is a string, as YAML says.
	_, err = Decode("q.yaml", []byte("name: q\ndataset: {path: p}\nbackbone: {name: b}\ntrain: {lr: \"1e-4\"}\nseeds: [1]\n"))
	if diff := cmp.Diff([]*Error{{File: "q.yaml", Line: 4, Column: 13, Field: "train.lr", Msg: `expected a number, got string "1e-4"`}}, Errors(err)); diff != "" {
		t.Errorf("quoted exponent (-want +got):\n%s", diff)
	}
}

func TestNameAndTypes(t *testing.T) {
	base := "dataset: {path: p}\nbackbone: {name: b}\nseeds: [1]\n"
	tests := []struct {
		yaml string
		want []*Error
	}{
		{"name: my dog\n" + base, []*Error{{File: "n.yaml", Line: 1, Column: 7, Field: "name", Msg: `"my dog" does not match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`}}},
		{"name: ok\n" + base + "head: [1]\n", []*Error{{File: "n.yaml", Line: 5, Column: 7, Field: "head", Msg: "expected a mapping of fields (hidden, dropout, activation, type), got a list"}}},
		{"name: ok\n" + base + "train: {epochs: 99999999999999999999}\n", []*Error{{File: "n.yaml", Line: 5, Column: 17, Field: "train.epochs", Msg: "99999999999999999999 is too large"}}},
		{"name: ok\n" + base + "augmentation: {hflip: yes, zoom: 1}\n", []*Error{
			{File: "n.yaml", Line: 5, Column: 23, Field: "augmentation.hflip", Msg: `expected true or false, got string "yes"`},
			{File: "n.yaml", Line: 5, Column: 34, Field: "augmentation.zoom", Msg: "expected a list of 2 numbers, got integer 1"},
		}},
		{"name: ok\n" + base + "head: {dropout: .nan}\n", []*Error{{File: "n.yaml", Line: 5, Column: 17, Field: "head.dropout", Msg: "expected a finite number, got NaN"}}},
		{"# leading comment\n" + base, []*Error{{File: "n.yaml", Line: 2, Column: 1, Field: "name", Msg: "is required"}}},
		{"name: ok\n" + base + "sweep: {head.dropout: [{a: 1}]}\n", []*Error{{File: "n.yaml", Line: 5, Column: 24, Field: `sweep "head.dropout"`, Msg: "values must be numbers, strings, booleans or lists, got a mapping"}}},
		{"name: ok\n" + base + "sweep: [head.dropout]\n", []*Error{{File: "n.yaml", Line: 5, Column: 8, Field: "sweep", Msg: "expected a mapping of field path to list of values, e.g. {head.dropout: [0, 0.5]}, got a list"}}},
		{"name: ok\n" + base + "---\nname: two\n", []*Error{{File: "n.yaml", Line: 6, Column: 1, Msg: "expected one YAML document, found another after ---"}}},
	}
	for _, tt := range tests {
		_, err := Decode("n.yaml", []byte(tt.yaml))
		if diff := cmp.Diff(tt.want, Errors(err)); diff != "" {
			t.Errorf("Decode(%q) (-want +got):\n%s", tt.yaml, diff)
		}
	}
}

func TestExamplesDecode(t *testing.T) {
	files, err := filepath.Glob("../experiments/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example files in ../experiments")
	}
	counts := map[string]int{}
	for _, f := range files {
		e, err := Load(f)
		if err != nil {
			t.Errorf("example %s:\n%v", f, err)
			continue
		}
		trials, err := e.Trials()
		if err != nil {
			t.Errorf("example %s trials: %v", f, err)
		}
		counts[filepath.Base(f)] = len(trials)
	}
	for name, want := range map[string]int{"quickstart.yaml": 4, "dropout.yaml": 24, "leaky.yaml": 12, "dropout-settle.yaml": 144} {
		if counts[name] != want {
			t.Errorf("%s: %d trials, want %d", name, counts[name], want)
		}
	}
}

func TestDatasetDir(t *testing.T) {
	tests := []struct{ file, path, want string }{
		{"experiments/x.yaml", "../../shared/data/dogfacenet", "../shared/data/dogfacenet"},
		{"/work/main/experiments/x.yaml", "../../shared/data/dogfacenet", "/work/shared/data/dogfacenet"},
		{"experiments/x.yaml", "/abs/photos", "/abs/photos"},
		{"", "photos", "photos"},
	}
	for _, tt := range tests {
		e := &Experiment{File: tt.file, Dataset: Dataset{Path: tt.path}}
		if got := DatasetDir(e); got != tt.want {
			t.Errorf("DatasetDir(file %q, path %q) = %q, want %q", tt.file, tt.path, got, tt.want)
		}
	}
}
