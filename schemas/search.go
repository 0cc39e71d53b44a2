package schemas

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/dogrun/dogrun/search"
)

// Space is a search's ranges, one per field, in the order the file lists
// them (the draws do not depend on that order: search sorts by path).
type Space []Dimension

// Dimension is the range one field is drawn from.
type Dimension struct {
	Path      string
	Kind      string  // uniform, loguniform, int or choice
	Low, High float64 // uniform, loguniform, int: inclusive bounds
	Step      int     // int: distance between values; 0 means 1
	Log       bool    // int: uniform in the logarithm
	Choices   []any   // choice: the values as decoded (int64, float64, string, bool, []any)
	// Position of the key in the file (0 when built in code).
	Line, Column int
}

var spaceType = reflect.TypeFor[Space]()

// rangeKinds are the kinds of range, as the file names them.
var rangeKinds = map[string]search.Kind{
	"uniform": search.Uniform, "loguniform": search.LogUniform, "int": search.Int, "choice": search.Choice,
}

// Declared reports whether the experiment has a search block.
func (s Search) Declared() bool { return !reflect.ValueOf(s).IsZero() }

// Declared reports whether the experiment has a prune block.
func (p Prune) Declared() bool { return p != Prune{} }

// Declared reports whether the experiment has a confirm block.
func (c Confirm) Declared() bool { return c != Confirm{} }

// SearchSpace is the space of the experiment's search, for the samplers.
func (e *Experiment) SearchSpace() (search.Space, error) {
	params := make([]search.Param, len(e.Search.Space))
	for i, d := range e.Search.Space {
		params[i] = d.param()
	}
	return search.NewSpace(params...)
}

// Searcher is the sampler and pruner (nil without prune) the experiment
// declares, and which way its metric is better.
func (e *Experiment) Searcher() (search.Sampler, search.Pruner, search.Direction) {
	sc, pr := e.Search, e.Prune
	dir := search.Maximize
	if sc.Metric == "val_loss" {
		dir = search.Minimize
	}
	var sampler search.Sampler = search.Random{}
	if sc.Method == "tpe" {
		tpe := search.NewTPE()
		tpe.StartupTrials, tpe.Direction = sc.StartupTrials, dir
		sampler = tpe
	}
	var pruner search.Pruner
	switch pr.Method {
	case "median":
		pruner = search.Median{StartupTrials: pr.StartupTrials, WarmupEpochs: pr.WarmupEpochs, Interval: pr.Interval,
			MinTrials: pr.MinTrials, Direction: dir}
	case "asha":
		pruner = search.ASHA{MinResource: pr.MinEpochs, ReductionFactor: pr.ReductionFactor,
			MinEarlyStoppingRate: pr.MinEarlyStoppingRate, Direction: dir}
	}
	return sampler, pruner, dir
}

// String is the range as the file gives it, e.g. "loguniform [0.0001, 0.1]"
// or "choice of [], [256]".
func (d Dimension) String() string {
	if d.Kind == "choice" {
		vals := make([]string, len(d.Choices))
		for i, c := range d.Choices {
			vals[i] = formatValue(c)
		}
		return "choice of " + strings.Join(vals, ", ")
	}
	s := fmt.Sprintf("%s [%s, %s]", d.Kind, formatValue(d.Low), formatValue(d.High))
	if d.Step > 1 {
		s += fmt.Sprintf(" step %d", d.Step)
	}
	if d.Log {
		s += " log"
	}
	return s
}

func (d Dimension) param() search.Param {
	k, ok := rangeKinds[d.Kind]
	if !ok {
		k = search.Kind(-1) // refused by checkSpace with the kinds it knows
	}
	return search.Param{Name: d.Path, Kind: k, Low: d.Low, High: d.High, Step: d.Step, Log: d.Log, Choices: d.Choices}
}

// SearchTrial is the trial a search draws: the base config with each field
// of values (path -> value, as search.Space.Values gives them) set as a
// sweep sets its axes, and seed. Its settings are sorted by path.
func (e *Experiment) SearchTrial(seed int64, values map[string]any) (Trial, error) {
	cfg := e.trialBase()
	cfg.Seeds = []int64{seed}
	var settings []Setting
	for _, path := range slices.Sorted(mapKeys(values)) {
		chain, err := target(path, "searched", "search")
		if err != nil {
			return Trial{}, &Error{File: e.File, Field: fmt.Sprintf("search.space %q", path), Msg: err.Error()}
		}
		fv := fieldValue(&cfg, chain)
		v := values[path]
		if n, ok := v.(int); ok {
			v = int64(n)
		}
		if ce := assign(fv, v); ce != nil {
			return Trial{}, &Error{File: e.File, Field: "search.space " + path + ce.sub, Msg: ce.msg}
		}
		settings = append(settings, Setting{Path: path, Value: fv.Interface()})
	}
	return Trial{Seed: seed, Variant: settings, Config: cfg}, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// trialBase is e as each of its trials starts: no sweep, no search.
func (e *Experiment) trialBase() Experiment {
	c := e.clone()
	c.Sweep, c.Search, c.Prune, c.Confirm = nil, Search{}, Prune{}, Confirm{}
	return c
}

// decodeSpace checks the shape of a search space and stores it in fv; the
// fields and ranges are checked by checkSpace.
func (d *decoder) decodeSpace(n ast.Node, fv reflect.Value, path string) {
	d.spaceVals = nil
	n = d.deref(n)
	if isNull(n) {
		return
	}
	if !isMapping(n) {
		v, _ := d.value(n)
		d.fail(n, path, "expected a mapping of field path to range, e.g. {train.lr: {loguniform: [1e-4, 0.1]}}, got "+describeValue(v))
		return
	}
	var s Space
	for _, mv := range d.entries(n) {
		dim := Dimension{Path: keyString(mv.Key)}
		dim.Line, dim.Column = nodePos(mv.Key)
		nodes, ok := d.decodeRange(d.deref(mv.Value), &dim, fmt.Sprintf("%s %q", path, dim.Path))
		if !ok {
			d.failed[path] = true // its emptiness is no news
			continue
		}
		s = append(s, dim)
		d.spaceVals = append(d.spaceVals, nodes)
	}
	fv.Set(reflect.ValueOf(s))
}

// decodeRange reads one range, {kind: [...]} with step and log for int,
// into dim; it returns the nodes of its bounds or choices.
func (d *decoder) decodeRange(n ast.Node, dim *Dimension, label string) ([]ast.Node, bool) {
	if !isMapping(n) {
		v, _ := d.value(n)
		d.errorAt(n, label, "expected a range such as {uniform: [0, 0.5]}, {loguniform: [1e-4, 0.1]}, {int: [1, 8]} or {choice: [a, b]}, got "+describeValue(v))
		return nil, false
	}
	ok := true
	var list ast.Node
	for _, e := range d.entries(n) {
		key, vn := keyString(e.Key), d.deref(e.Value)
		v, err := d.value(vn)
		if err != nil {
			d.errorAt(vn, label, err.Error())
			ok = false
			continue
		}
		switch _, kind := rangeKinds[key]; {
		case kind && dim.Kind != "":
			d.errorAt(e.Key, label, fmt.Sprintf("gives both %s and %s: a range has one kind", dim.Kind, key))
			ok = false
		case kind:
			dim.Kind, list = key, vn
		case key == "step":
			n, isInt := v.(int64)
			if !isInt || n < math.MinInt32 || n > math.MaxInt32 {
				d.errorAt(vn, label, "step: expected a whole number, got "+describeValue(v))
				ok = false
				continue
			}
			dim.Step = int(n)
		case key == "log":
			b, isBool := v.(bool)
			if !isBool {
				d.errorAt(vn, label, "log: expected true or false, got "+describeValue(v))
				ok = false
				continue
			}
			dim.Log = b
		default:
			known := []string{"uniform", "loguniform", "int", "choice", "step", "log"}
			msg := fmt.Sprintf("unknown key %q", key)
			if c := Closest(key, known); c != "" {
				msg += fmt.Sprintf(", did you mean %q?", c)
			}
			d.errorAt(e.Key, label, msg+" (known: "+strings.Join(known, ", ")+")")
			ok = false
		}
	}
	if !ok {
		return nil, false
	}
	if dim.Kind == "" {
		d.errorAt(n, label, "names no kind of range: give one of uniform, loguniform, int or choice")
		return nil, false
	}
	seq, isList := list.(*ast.SequenceNode)
	if !isList {
		v, _ := d.value(list)
		d.errorAt(list, label, fmt.Sprintf("%s: expected a list, got %s", dim.Kind, describeValue(v)))
		return nil, false
	}
	nodes := make([]ast.Node, len(seq.Values))
	for i, en := range seq.Values {
		nodes[i] = d.deref(en)
	}
	if dim.Kind == "choice" {
		if len(nodes) == 0 {
			d.errorAt(list, label, "choice needs at least one value")
			return nil, false
		}
		for _, en := range nodes {
			v, err := d.value(en)
			if err == nil && hasMapping(v) {
				err = fmt.Errorf("choices must be numbers, strings, booleans or lists, got a mapping")
			}
			if err != nil {
				d.errorAt(en, label, err.Error())
				ok = false
			}
			dim.Choices = append(dim.Choices, v)
		}
		return nodes, ok
	}
	if len(nodes) != 2 {
		d.errorAt(list, label, fmt.Sprintf("%s: expected [low, high], got a list of %d", dim.Kind, len(nodes)))
		return nil, false
	}
	bounds := []*float64{&dim.Low, &dim.High}
	for i, en := range nodes {
		v, err := d.value(en)
		if err == nil {
			*bounds[i], err = finiteNumber(v)
		}
		if err != nil {
			d.errorAt(en, label, []string{"low", "high"}[i]+": "+err.Error())
			ok = false
		}
	}
	return nodes, ok
}

// finiteNumber is a decoded YAML number as a float64 that holds it exactly.
func finiteNumber(v any) (float64, error) {
	f := reflect.New(reflect.TypeFor[float64]()).Elem()
	if ce := assign(f, v); ce != nil {
		return 0, fmt.Errorf("%s", ce.msg)
	}
	return f.Float(), nil
}

// spaceProblem is a bad range (elem < 0) or a bad bound or choice (elem,
// with sub locating an element inside a choice).
type spaceProblem struct {
	dim, elem int
	sub, msg  string
}

// checkSpace checks each range: that its field may be searched and takes
// its kind, that the range itself holds (as search.NewSpace checks it), and
// that its bounds or choices pass the field's own checks.
func checkSpace(e *Experiment) []spaceProblem {
	var out []spaceProblem
	base := baseProblems(e)
	seen := map[string]bool{}
	for di, dim := range e.Search.Space {
		bad := func(msg string) { out = append(out, spaceProblem{di, -1, "", msg}) }
		if seen[dim.Path] {
			bad("listed twice")
			continue
		}
		seen[dim.Path] = true
		chain, err := target(dim.Path, "searched", "search")
		if err != nil {
			bad(err.Error())
			continue
		}
		leaf := chain[len(chain)-1].typ
		if msg := kindFits(dim.Kind, leaf); msg != "" {
			bad(msg)
			continue
		}
		if _, err := search.NewSpace(dim.param()); err != nil {
			bad(strings.TrimPrefix(err.Error(), "search: "+dim.Path+": "))
			continue
		}
		values := dim.Choices
		if dim.Kind != "choice" {
			values = []any{bound(dim.Low, leaf), bound(dim.High, leaf)}
		}
		for _, p := range checkValues(e, dim.Path, chain, values, base) {
			out = append(out, spaceProblem{di, p.value, p.sub, p.msg})
		}
	}
	return out
}

// kindFits says why a field of type t cannot take a range of kind, if so.
func kindFits(kind string, t reflect.Type) string {
	if _, ok := rangeKinds[kind]; !ok {
		return fmt.Sprintf("unknown kind of range %q (uniform, loguniform, int or choice)", kind)
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return ""
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if kind == "uniform" || kind == "loguniform" {
			return fmt.Sprintf("takes whole numbers: use int: [low, high] (with log: true for a logarithmic scale), not %s", kind)
		}
		return ""
	}
	if kind != "choice" {
		return fmt.Sprintf("takes %s: list them with choice: [...], not %s", describeType(t), kind)
	}
	return ""
}

// bound is a range's bound as the field's own type decodes it.
func bound(x float64, t reflect.Type) any {
	if k := t.Kind(); k >= reflect.Int && k <= reflect.Int64 {
		return int64(x)
	}
	return x
}

// spaceError turns a spaceProblem into an *Error, positioned when the
// experiment was decoded (d != nil).
func spaceError(e *Experiment, p spaceProblem, d *decoder) *Error {
	dim := e.Search.Space[p.dim]
	err := &Error{File: e.File, Line: dim.Line, Column: dim.Column, Msg: p.msg}
	switch {
	case p.elem < 0:
		err.Field = fmt.Sprintf("search.space %q", dim.Path)
		return err
	case dim.Kind == "choice":
		err.Field = fmt.Sprintf("search.space %s[%d]%s", dim.Path, p.elem, p.sub)
	default:
		err.Field = "search.space " + dim.Path
		err.Msg = []string{"low", "high"}[p.elem] + ": " + p.msg
	}
	if d != nil && p.dim < len(d.spaceVals) && p.elem < len(d.spaceVals[p.dim]) {
		err.Line, err.Column = nodePos(elemNode(d, d.spaceVals[p.dim][p.elem], p.sub))
	}
	return err
}

// searchProblems are the rules a search, prune or confirm block keeps with
// the rest of the experiment.
func searchProblems(e *Experiment) []problem {
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, fmt.Sprintf(format, args...)})
	}
	if !e.Search.Declared() {
		if e.Prune.Declared() {
			add("prune", "needs a search block: pruning stops the trials of a search")
		}
		if e.Confirm.Declared() {
			add("confirm", "needs a search block: it re-runs the best trials of a search")
		}
		return ps
	}
	if len(e.Search.Space) == 0 {
		add("search.space", "is required: the fields to search and their ranges, e.g. {train.lr: {loguniform: [1e-4, 0.1]}}")
	}
	if len(e.Sweep) > 0 {
		add("sweep", "cannot be combined with search: a search draws the settings a sweep would list (a swept field's values can be a choice: [...] in search.space)")
	}
	if e.Split.KFold > 0 {
		add("split.kfold", "cannot be combined with search: each trial of a search trains once, on one split")
	}
	if e.Split.Leaky {
		add("split.leaky", "cannot be combined with search, which picks settings on the validation photos of an honest split")
	}
	if e.Dataset.Val == 0 {
		add("dataset.val", "is 0, but a search picks its settings on the validation photos: give it a share, e.g. 0.1")
	}
	if !e.Confirm.Declared() {
		return ps
	}
	if e.Dataset.Resample {
		add("confirm", "cannot be combined with dataset.resample: confirmation re-runs the search's best settings with new seeds on its own split, and under resample each seed draws other dogs")
	}
	if len(e.Seeds) > 1 {
		add("seeds", "lists %d seeds, but confirm re-runs the best settings of one search: list one seed", len(e.Seeds))
	}
	return ps
}

// methodKeys are the keys of a block that apply to one of its methods only.
var methodKeys = map[string]map[string]string{
	"search": {"startup_trials": "tpe"},
	"prune": {"startup_trials": "median", "warmup_epochs": "median", "interval": "median", "min_trials": "median",
		"min_epochs": "asha", "reduction_factor": "asha", "min_early_stopping_rate": "asha"},
}

// checkMethodKeys refuses keys the file writes for another method than the
// block's: they would be ignored without a word.
func (d *decoder) checkMethodKeys(e *Experiment) {
	methods := map[string]string{"search": e.Search.Method, "prune": e.Prune.Method}
	for _, block := range []string{"search", "prune"} {
		for key, method := range methodKeys[block] {
			path := block + "." + key
			n, written := d.key[path]
			if !written || methods[block] == method || d.hasFailed(block+".method") {
				continue
			}
			d.errorAt(n, path, fmt.Sprintf("applies to method %s, not %s", method, methods[block]))
		}
	}
}

// MarshalJSON writes the space as a JSON object in the file's order, as the
// file and the JSON Schema have it.
func (s Space) MarshalJSON() ([]byte, error) {
	return orderedJSON(len(s), func(i int) (string, any) {
		d := s[i]
		r := map[string]any{} // keys sorted by encoding/json: a stable encoding
		switch d.Kind {
		case "choice":
			r[d.Kind] = d.Choices
		case "int":
			r[d.Kind] = []int64{int64(d.Low), int64(d.High)}
			if d.Step != 0 {
				r["step"] = d.Step
			}
			if d.Log {
				r["log"] = true
			}
		default:
			r[d.Kind] = []float64{d.Low, d.High}
		}
		return d.Path, r
	})
}

// UnmarshalJSON reads the object form, keeping key order.
func (s *Space) UnmarshalJSON(data []byte) error {
	var out Space
	err := readOrderedJSON(data, "search.space", func(path string, v any) error {
		r, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("search.space %q: expected a range", path)
		}
		d := Dimension{Path: path}
		for key, v := range r {
			switch _, kind := rangeKinds[key]; {
			case kind && key == "choice":
				d.Kind, d.Choices = key, v.([]any)
			case kind:
				list, ok := v.([]any)
				if !ok || len(list) != 2 {
					return fmt.Errorf("search.space %q: %s expects [low, high]", path, key)
				}
				d.Kind = key
				var err error
				if d.Low, err = finiteNumber(list[0]); err == nil {
					d.High, err = finiteNumber(list[1])
				}
				if err != nil {
					return fmt.Errorf("search.space %q: %w", path, err)
				}
			case key == "step":
				n, _ := v.(int64)
				d.Step = int(n)
			case key == "log":
				d.Log, _ = v.(bool)
			}
		}
		out = append(out, d)
		return nil
	})
	*s = out
	return err
}

// spaceSchema describes search.space: every searchable path, each with one
// kind of range.
func spaceSchema() object {
	pair := func(typ string) object {
		return object{{"type", "array"}, {"minItems", 2}, {"maxItems", 2}, {"items", object{{"type", typ}}}}
	}
	kind := func(name string, value object, extra ...member) object {
		props := append(object{{name, value}}, extra...)
		return object{{"type", "object"}, {"additionalProperties", false}, {"required", []string{name}}, {"properties", props}}
	}
	ranges := []object{
		kind("uniform", pair("number")),
		kind("loguniform", pair("number")),
		kind("int", pair("integer"),
			member{"step", object{{"type", "integer"}, {"minimum", 1}}},
			member{"log", object{{"type", "boolean"}}}),
		kind("choice", object{{"type", "array"}, {"minItems", 1}}),
	}
	return object{
		{"type", "object"},
		{"minProperties", 1},
		{"propertyNames", object{{"pattern", sweepKeyPattern}, {"enum", sweepablePaths()}}},
		{"additionalProperties", object{{"oneOf", ranges}}},
	}
}
