package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// UnmarshalYAML decodes a mapping of dotted path -> list of values, keeping
// the order as written (go-yaml calls it with the node, so positions are kept).
// Paths and values are checked by Decode, which knows the Experiment.
func (s *Sweep) UnmarshalYAML(n ast.Node) error {
	d := &decoder{failed: map[string]bool{}, anchors: map[string]ast.Node{}}
	d.collectAnchors(n)
	d.decodeSweep(n, reflect.ValueOf(s).Elem())
	return joinErrors(d.errs)
}

// MarshalYAML writes the sweep back as an ordered mapping.
func (s Sweep) MarshalYAML() (any, error) {
	m := make(yaml.MapSlice, len(s))
	for i, a := range s {
		m[i] = yaml.MapItem{Key: a.Path, Value: a.Values}
	}
	return m, nil
}

// MarshalJSON writes the sweep as a JSON object in axis order, matching the
// YAML form and the JSON Schema.
func (s Sweep) MarshalJSON() ([]byte, error) {
	return orderedJSON(len(s), func(i int) (string, any) { return s[i].Path, s[i].Values })
}

// UnmarshalJSON reads the object form, keeping key order.
func (s *Sweep) UnmarshalJSON(data []byte) error {
	var out Sweep
	err := readOrderedJSON(data, "sweep", func(key string, v any) error {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("sweep %q: expected a list of values", key)
		}
		out = append(out, Axis{Path: key, Values: list})
		return nil
	})
	*s = out
	return err
}

// orderedJSON writes n members as a JSON object, in order; member gives
// each one's key and value.
func orderedJSON(n int, member func(i int) (string, any)) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range n {
		key, val := member(i)
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(val)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// readOrderedJSON reads a JSON object (what names it in errors) member by
// member, in order, numbers as fromJSON gives them; null has no members.
func readOrderedJSON(data []byte, what string, each func(key string, v any) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%s: expected an object, got %v", what, tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var raw any
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := each(tok.(string), fromJSON(raw)); err != nil {
			return err
		}
	}
	return nil
}

// fromJSON maps json.Number to int64/uint64/float64 like the YAML decoder,
// in lists and objects too.
func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fromJSON(x[k])
		}
	}
	return v
}

// decodeSweep checks the shape of the sweep mapping and stores it in fv.
func (d *decoder) decodeSweep(n ast.Node, fv reflect.Value) {
	d.sweepVals = nil
	n = d.deref(n)
	if isNull(n) {
		return
	}
	if !isMapping(n) {
		v, _ := d.value(n)
		d.fail(n, "sweep", "expected a mapping of field path to list of values, e.g. {head.dropout: [0, 0.5]}, got "+describeValue(v))
		return
	}
	var s Sweep
	for _, mv := range d.entries(n) {
		path := keyString(mv.Key)
		label := fmt.Sprintf("sweep %q", path)
		vn := d.deref(mv.Value)
		seq, ok := vn.(*ast.SequenceNode)
		if !ok {
			v, _ := d.value(vn)
			d.errorAt(vn, label, "expected a list of values, got "+describeValue(v))
			continue
		}
		if len(seq.Values) == 0 {
			d.errorAt(vn, label, "needs at least one value")
			continue
		}
		ax := Axis{Path: path}
		ax.Line, ax.Column = nodePos(mv.Key)
		var nodes []ast.Node
		bad := false
		for _, en := range seq.Values {
			en = d.deref(en)
			v, err := d.value(en)
			if err == nil && hasMapping(v) {
				err = fmt.Errorf("values must be numbers, strings, booleans or lists, got a mapping")
			}
			if err != nil {
				d.errorAt(en, label, err.Error())
				bad = true
				continue
			}
			ax.Values = append(ax.Values, v)
			nodes = append(nodes, en)
		}
		if !bad {
			s = append(s, ax)
			d.sweepVals = append(d.sweepVals, nodes)
		}
	}
	fv.Set(reflect.ValueOf(s))
}

func hasMapping(v any) bool {
	switch x := v.(type) {
	case mappingValue:
		return true
	case []any:
		for _, e := range x {
			if hasMapping(e) {
				return true
			}
		}
	}
	return false
}

// sweepProblem is a bad axis (value < 0) or a bad value of an axis; sub
// locates an element inside the value ("[0]").
type sweepProblem struct {
	axis, value int
	sub, msg    string
}

// checkSweep checks every axis path and every value: that it converts to
// the field's type, is not repeated and passes the field's constraints.
func checkSweep(e *Experiment) []sweepProblem {
	var out []sweepProblem
	base := baseProblems(e)
	seen := map[string]bool{}
	for ai, ax := range e.Sweep {
		axisErr := func(msg string) { out = append(out, sweepProblem{ai, -1, "", msg}) }
		if seen[ax.Path] {
			axisErr("listed twice")
			continue
		}
		seen[ax.Path] = true
		chain, err := sweepTarget(ax.Path)
		if err != nil {
			axisErr(err.Error())
			continue
		}
		if len(ax.Values) == 0 {
			axisErr("needs at least one value")
			continue
		}
		for _, p := range checkValues(e, ax.Path, chain, ax.Values, base) {
			out = append(out, sweepProblem{ai, p.value, p.sub, p.msg})
		}
	}
	return out
}

// baseProblems are the problems of e's base config, which values set on one
// field are not blamed for.
func baseProblems(e *Experiment) map[problem]bool {
	base := map[problem]bool{}
	for _, p := range validateBase(e) {
		base[p] = true
	}
	return base
}

// valueProblem is a bad value of a list of values for one field; sub
// locates an element inside the value ("[0]").
type valueProblem struct {
	value    int
	sub, msg string
}

// checkValues checks values that the field at path (resolved to chain) is
// to take in turn: each converts to the field's type, is not repeated, and
// brings no problem the base config does not have.
func checkValues(e *Experiment, path string, chain []field, values []any, base map[problem]bool) []valueProblem {
	var out []valueProblem
	var kept []reflect.Value
	var keptIdx []int
values:
	for vi, v := range values {
		c := e.clone()
		fv := fieldValue(&c, chain)
		if ce := assign(fv, v); ce != nil {
			out = append(out, valueProblem{vi, ce.sub, ce.msg})
			continue
		}
		for k, prev := range kept {
			if reflect.DeepEqual(prev.Interface(), fv.Interface()) {
				out = append(out, valueProblem{vi, "", fmt.Sprintf("duplicate value %s (same as [%d])", formatValue(fv.Interface()), keptIdx[k])})
				continue values
			}
		}
		kept, keptIdx = append(kept, fv), append(keptIdx, vi)
		// Problems the base config does not have come from this value.
		for _, p := range validateBase(&c) {
			switch {
			case base[p]:
			case p.path == path || strings.HasPrefix(p.path, path+"["):
				out = append(out, valueProblem{vi, p.path[len(path):], p.msg})
			default:
				out = append(out, valueProblem{vi, "", p.path + ": " + p.msg})
			}
		}
	}
	return out
}

// sweepTarget resolves a sweep path to the chain of fields down to a leaf
// that may be swept.
func sweepTarget(path string) ([]field, error) {
	return target(path, "swept", "sweep")
}

// target resolves the path of a field that trials set differently (swept,
// or searched) to the chain of fields down to its leaf.
func target(path, verbed, verb string) ([]field, error) {
	chain, err := lookupPath(path)
	if err != nil {
		msg := "no such field"
		if s := Closest(path, sweepablePaths()); s != "" {
			msg += fmt.Sprintf(", did you mean %q?", s)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	for _, f := range chain {
		if !f.spec.nosweep {
			continue
		}
		if chain[0].name == "split" {
			return nil, fmt.Errorf("%s cannot be %s: grouping and folds must be the same for every trial (only split.leaky may be swept, to show the leaky protocol beside the honest one)", path, verbed)
		}
		if chain[0].name == "dataset" {
			return nil, fmt.Errorf("the dataset cannot be %s: its photos and split must be the same for every trial so variants are compared on the same test photos (write a separate experiment instead)", verbed)
		}
		return nil, fmt.Errorf("%s cannot be %s", chain[0].name, verbed)
	}
	if last := chain[len(chain)-1]; last.typ.Kind() == reflect.Struct {
		var leaves []string
		for _, p := range sweepablePaths() {
			if strings.HasPrefix(p, path+".") {
				leaves = append(leaves, p)
			}
		}
		return nil, fmt.Errorf("is a group of fields; %s one of %s", verb, strings.Join(leaves, ", "))
	}
	return chain, nil
}

// sweepError turns a sweepProblem into an *Error, positioned when the
// experiment was decoded (d != nil).
func sweepError(e *Experiment, p sweepProblem, d *decoder) *Error {
	ax := e.Sweep[p.axis]
	err := &Error{File: e.File, Line: ax.Line, Column: ax.Column, Msg: p.msg}
	if p.value < 0 {
		err.Field = fmt.Sprintf("sweep %q", ax.Path)
		return err
	}
	err.Field = fmt.Sprintf("sweep %s[%d]%s", ax.Path, p.value, p.sub)
	if d != nil && p.axis < len(d.sweepVals) && p.value < len(d.sweepVals[p.axis]) {
		err.Line, err.Column = nodePos(elemNode(d, d.sweepVals[p.axis][p.value], p.sub))
	}
	return err
}

// fieldValue walks a field chain from the experiment to the target field.
func fieldValue(e *Experiment, chain []field) reflect.Value {
	v := reflect.ValueOf(e).Elem()
	for _, f := range chain {
		v = v.Field(f.index)
	}
	return v
}

// clone deep-copies the slices so trials never share backing arrays.
func (e Experiment) clone() Experiment {
	c := e
	c.Head.Hidden = cloneSlice(e.Head.Hidden)
	c.Backbone.Names = cloneSlice(e.Backbone.Names)
	c.Seeds = cloneSlice(e.Seeds)
	c.Search.Space = cloneSlice(e.Search.Space)
	if e.Sweep != nil {
		c.Sweep = make(Sweep, len(e.Sweep))
		for i, a := range e.Sweep {
			a.Values = append([]any(nil), a.Values...)
			c.Sweep[i] = a
		}
	}
	return c
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// maxTrials bounds an expansion; far beyond anything that could be trained.
const maxTrials = 1_000_000

// Trials expands the experiment: the cartesian product of the sweep axes
// (first axis outermost) times the seeds (innermost). A settled experiment
// expands every seed up to settle.max_seeds, seeds outermost, so that each
// round's trials follow the last round's and keep their numbers.
func (e *Experiment) Trials() ([]Trial, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	seeds := e.Seeds
	if e.Settle.Declared() {
		seeds = e.SettleSeeds()
	}
	chains := make([][]field, len(e.Sweep))
	total := len(seeds)
	for i, ax := range e.Sweep {
		chains[i], _ = sweepTarget(ax.Path) // Validate checked it
		total *= len(ax.Values)
		if total > maxTrials { // checked as we go so the product cannot overflow
			return nil, &Error{File: e.File, Field: "sweep", Msg: fmt.Sprintf("more than %d trials", maxTrials)}
		}
	}
	type variant struct {
		cfg      Experiment
		settings []Setting
	}
	var variants []variant
	idx := make([]int, len(e.Sweep)) // odometer over the axes, last fastest
	for {
		cfg := e.trialBase()
		var settings []Setting
		for i, ax := range e.Sweep {
			fv := fieldValue(&cfg, chains[i])
			if ce := assign(fv, ax.Values[idx[i]]); ce != nil {
				return nil, &Error{File: e.File, Field: fmt.Sprintf("sweep %s[%d]%s", ax.Path, idx[i], ce.sub), Msg: ce.msg}
			}
			settings = append(settings, Setting{Path: ax.Path, Value: fv.Interface()})
		}
		variants = append(variants, variant{cfg, settings})
		k := len(idx) - 1
		for ; k >= 0; k-- {
			if idx[k]++; idx[k] < len(e.Sweep[k].Values) {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			break
		}
	}
	trials := make([]Trial, 0, total)
	add := func(v variant, seed int64) {
		c := v.cfg.clone()
		c.Seeds = []int64{seed}
		trials = append(trials, Trial{Index: len(trials), Seed: seed, Variant: cloneSlice(v.settings), Config: c})
	}
	if e.Settle.Declared() {
		for _, seed := range seeds {
			for _, v := range variants {
				add(v, seed)
			}
		}
		return trials, nil
	}
	for _, v := range variants {
		for _, seed := range seeds {
			add(v, seed)
		}
	}
	return trials, nil
}

// Label is the value as the variant key shows it.
func (s Setting) Label() string { return formatValue(s.Value) }

// VariantKey names the swept settings, e.g. "head.dropout=0.25, train.lr=0.001",
// or "base" without a sweep; trials differing only by seed share it.
func (t Trial) VariantKey() string {
	if len(t.Variant) == 0 {
		return "base"
	}
	parts := make([]string, len(t.Variant))
	for i, s := range t.Variant {
		parts[i] = s.Path + "=" + s.Label()
	}
	return strings.Join(parts, ", ")
}
