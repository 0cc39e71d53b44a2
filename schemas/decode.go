package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Load reads and decodes an experiment file; File is set to path.
func Load(path string) (*Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(path, data)
}

// Decode strictly decodes an experiment, applies defaults and validates the
// base config and every swept value. file is used in error messages and as
// the base for a relative dataset path.
//
// go-yaml parses (syntax and duplicate-key errors come from it) but the
// mapping onto the Go types is done here over its AST: go-yaml's decoder
// stops at the first problem and does not know the dotted field path, while
// users should see every problem at once, each with file:line:col and field.
func Decode(file string, data []byte) (*Experiment, error) {
	d := &decoder{
		file:   file,
		key:    map[string]ast.Node{},
		val:    map[string]ast.Node{},
		failed: map[string]bool{},
	}
	body, err := d.document(data)
	if err != nil {
		return nil, err
	}
	e := Default()
	e.File = file
	d.decodeStruct(body, reflect.ValueOf(&e).Elem(), "")
	d.optionalDefaults(reflect.ValueOf(&e).Elem(), "")

	// Validation problems in fields that already failed to decode are noise.
	for _, p := range validateBase(&e) {
		if d.hasFailed(p.path) {
			continue
		}
		line, col := d.pos(p.path)
		d.errs = append(d.errs, &Error{File: file, Line: line, Column: col, Field: p.path, Msg: p.msg})
	}
	for _, p := range checkSweep(&e) {
		d.errs = append(d.errs, sweepError(&e, p, d))
	}
	for _, p := range checkSpace(&e) {
		d.errs = append(d.errs, spaceError(&e, p, d))
	}
	d.checkMethodKeys(&e)
	if err := joinErrors(d.errs); err != nil {
		return nil, err
	}
	return &e, nil
}

// ErrorAt is an error about field found by checks outside this package (an
// unknown backbone, say), placed where the field is set: on a swept or
// searched field, the sweep or search entry; else where the file sets it, or
// its nearest enclosing key. The file is parsed again: positions are not
// worth carrying in every Experiment.
func (e *Experiment) ErrorAt(field, msg string) *Error {
	err := &Error{File: e.File, Field: field, Msg: msg}
	for _, a := range e.Sweep {
		if a.Path == field {
			err.Line, err.Column = a.Line, a.Column
			return err
		}
	}
	for _, d := range e.Search.Space {
		if d.Path == field || strings.HasPrefix(field, d.Path+"[") {
			err.Line, err.Column = d.Line, d.Column
			return err
		}
	}
	data, rerr := os.ReadFile(e.File)
	if rerr != nil {
		return err
	}
	d := &decoder{file: e.File, key: map[string]ast.Node{}, val: map[string]ast.Node{}, failed: map[string]bool{}}
	body, perr := d.document(data)
	if perr != nil {
		return err
	}
	scratch := Default()
	d.decodeStruct(body, reflect.ValueOf(&scratch).Elem(), "")
	err.Line, err.Column = d.pos(field)
	return err
}

// DatasetDir is Dataset.Path resolved against the experiment file's folder
// when relative.
func DatasetDir(e *Experiment) string {
	p := e.Dataset.Path
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(e.File), p)
}

type decoder struct {
	file      string
	errs      []*Error
	key       map[string]ast.Node // field path -> its key node
	val       map[string]ast.Node // field path -> its value node
	sweepVals [][]ast.Node        // per kept sweep axis, its value nodes
	spaceVals [][]ast.Node        // per kept search range, its bound or choice nodes
	failed    map[string]bool     // paths that failed to decode
	anchors   map[string]ast.Node
	root      ast.Node // the document's top-level mapping
	values    int      // nodes value has converted; see maxValues
}

// maxValues bounds the nodes one file may make value convert: nested aliases
// ("billion laughs") otherwise expand a few hundred bytes into billions.
const maxValues = 100_000

func (d *decoder) errorAt(n ast.Node, field, msg string) {
	line, col := nodePos(n)
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Column: col, Field: field, Msg: msg})
}

func (d *decoder) fail(n ast.Node, path, msg string) {
	d.failed[path] = true
	d.errorAt(n, path, msg)
}

// hasFailed reports whether path or one of its parents failed to decode.
func (d *decoder) hasFailed(path string) bool {
	for {
		if d.failed[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
}

// document parses data and returns the single document's body.
func (d *decoder) document(data []byte) (ast.Node, error) {
	empty := &Error{File: d.file, Line: 1, Column: 1, Msg: "empty file: expected an experiment (name, dataset, backbone, ..., seeds)"}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, empty
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			tk := ye.GetToken()
			return nil, &Error{File: d.file, Line: tk.Position.Line, Column: tk.Position.Column, Msg: ye.GetMessage()}
		}
		return nil, &Error{File: d.file, Msg: err.Error()}
	}
	var bodies []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			bodies = append(bodies, doc.Body)
		}
	}
	switch {
	case len(bodies) == 0:
		return nil, empty
	case len(bodies) > 1:
		line, col := nodePos(bodies[1])
		return nil, &Error{File: d.file, Line: line, Column: col, Msg: "expected one YAML document, found another after ---"}
	}
	d.anchors = map[string]ast.Node{}
	d.collectAnchors(bodies[0])
	body := d.deref(bodies[0])
	if !isMapping(body) {
		line, col := nodePos(body)
		v, _ := d.value(body)
		return nil, &Error{File: d.file, Line: line, Column: col, Msg: "expected a mapping of experiment fields, got " + describeValue(v)}
	}
	d.root = body
	return body, nil
}

func (d *decoder) collectAnchors(n ast.Node) {
	switch x := n.(type) {
	case *ast.AnchorNode:
		d.anchors[x.Name.GetToken().Value] = x.Value
		d.collectAnchors(x.Value)
	case *ast.MappingNode:
		for _, mv := range x.Values {
			d.collectAnchors(mv)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(x.Value)
	case *ast.SequenceNode:
		for _, v := range x.Values {
			d.collectAnchors(v)
		}
	case *ast.TagNode:
		d.collectAnchors(x.Value)
	}
}

// deref looks through anchors and aliases to the node holding the value.
func (d *decoder) deref(n ast.Node) ast.Node {
	for range 100 { // bounded: a self-referencing alias must not hang us
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			target, ok := d.anchors[x.Value.GetToken().Value]
			if !ok {
				return n
			}
			n = target
		default:
			return n
		}
	}
	return n
}

func isMapping(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	}
	return false
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

// entries lists a mapping's key/value pairs, merge keys (<<) first so that
// explicit keys override merged ones as YAML specifies.
func (d *decoder) entries(n ast.Node) []*ast.MappingValueNode {
	var all []*ast.MappingValueNode
	switch x := n.(type) {
	case *ast.MappingNode:
		all = x.Values
	case *ast.MappingValueNode:
		all = []*ast.MappingValueNode{x}
	}
	var merged, own []*ast.MappingValueNode
	for _, mv := range all {
		if !mv.Key.IsMergeKey() {
			own = append(own, mv)
			continue
		}
		src := d.deref(mv.Value)
		if seq, ok := src.(*ast.SequenceNode); ok {
			for _, s := range seq.Values {
				merged = append(merged, d.entries(d.deref(s))...)
			}
		} else {
			merged = append(merged, d.entries(src)...)
		}
	}
	return append(merged, own...)
}

// decodeStruct decodes a mapping node into the struct rv at path.
func (d *decoder) decodeStruct(n ast.Node, rv reflect.Value, path string) {
	n = d.deref(n)
	if isNull(n) {
		return // an empty section keeps its defaults
	}
	if !isMapping(n) {
		v, _ := d.value(n)
		d.fail(n, path, fmt.Sprintf("expected a mapping of fields (%s), got %s", strings.Join(fieldNames(rv.Type()), ", "), describeValue(v)))
		return
	}
	for _, mv := range d.entries(n) {
		name := keyString(mv.Key)
		fpath := joinPath(path, name)
		f, ok := findField(rv.Type(), name)
		if !ok {
			// Named by its section (the message quotes the unknown key).
			d.failed[fpath] = true
			d.errorAt(mv.Key, path, unknownFieldMsg(rv.Type(), name))
			continue
		}
		vn := d.deref(mv.Value)
		d.key[fpath], d.val[fpath] = mv.Key, vn
		fv := rv.Field(f.index)
		switch {
		case f.typ == sweepType:
			d.decodeSweep(vn, fv)
		case f.typ == spaceType:
			d.decodeSpace(vn, fv, fpath)
		case f.typ.Kind() == reflect.Struct:
			d.decodeStruct(vn, fv, fpath)
		case isNull(vn):
			// "key:" with no value: keep the default (required checks catch it).
		default:
			v, err := d.value(vn)
			if err != nil {
				d.fail(vn, fpath, err.Error())
				continue
			}
			if ce := assign(fv, v); ce != nil {
				// The whole field is left unset: mark it, not just the element.
				d.failed[fpath] = true
				d.errorAt(elemNode(d, vn, ce.sub), fpath+ce.sub, ce.msg)
			}
		}
	}
}

// optionalDefaults gives each optional group the file writes the defaults
// of the keys it leaves out (only then, so that an unwritten group stays
// zero and an explicit zero stays what it says).
func (d *decoder) optionalDefaults(rv reflect.Value, path string) {
	for _, f := range fieldsOf(rv.Type()) {
		fpath := joinPath(path, f.name)
		if _, written := d.key[fpath]; !written || f.typ.Kind() != reflect.Struct || f.typ == sweepType {
			continue
		}
		if !f.spec.optional {
			d.optionalDefaults(rv.Field(f.index), fpath)
			continue
		}
		group := rv.Field(f.index)
		for _, sub := range fieldsOf(f.typ) {
			if _, set := d.key[joinPath(fpath, sub.name)]; !set {
				if v, ok := defaultValue(sub); ok {
					group.Field(sub.index).Set(v)
				}
			}
		}
	}
}

func unknownFieldMsg(t reflect.Type, name string) string {
	known := fieldNames(t)
	msg := fmt.Sprintf("unknown field %q", name)
	if s := Closest(name, known); s != "" {
		msg += fmt.Sprintf(", did you mean %q?", s)
	}
	return msg + " (known: " + strings.Join(known, ", ") + ")"
}

func keyString(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	if s, ok := k.(ast.ScalarNode); ok {
		return fmt.Sprint(s.GetValue())
	}
	return k.String()
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// exponentFloat is YAML 1.2's float form with an exponent and no dot.
var (
	exponentFloat = regexp.MustCompile(`^[-+]?[0-9]+[eE][-+]?[0-9]+$`)
	bigInteger    = regexp.MustCompile(`^[-+]?[0-9]+$`)
)

// value converts a node into int64/uint64/float64/string/bool/nil/[]any
// (mappingValue for a mapping).
func (d *decoder) value(n ast.Node) (any, error) {
	if d.values++; d.values > maxValues {
		return nil, fmt.Errorf("more than %d values in the file (aliases expanding too far?)", maxValues)
	}
	n = d.deref(n)
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return nil, nil
	case *ast.SequenceNode:
		out := make([]any, len(x.Values))
		for i, e := range x.Values {
			v, err := d.value(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *ast.MappingNode, *ast.MappingValueNode:
		return mappingValue{}, nil
	case *ast.StringNode:
		// go-yaml reads plain 1e-4 as a string, but YAML 1.2 (and every ML
		// config ever written) means a number; quoted "1e-4" stays a string.
		plain := x.Token != nil && x.Token.Type == token.StringType
		if plain && exponentFloat.MatchString(x.Value) {
			if f, err := strconv.ParseFloat(x.Value, 64); err == nil {
				return f, nil
			}
		}
		// Digits only, yet not an integer to go-yaml: beyond 64 bits.
		if plain && bigInteger.MatchString(x.Value) {
			return nil, fmt.Errorf("%s is too large", x.Value)
		}
		return x.Value, nil
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return normalize(x.(ast.ScalarNode).GetValue()), nil
	}
	// Tags, block literals and the like: let go-yaml interpret them.
	var v any
	if err := yaml.NodeToValue(n, &v); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			return nil, errors.New(ye.GetMessage())
		}
		return nil, err
	}
	if _, ok := v.(map[string]any); ok {
		return mappingValue{}, nil
	}
	return normalize(v), nil
}

// elemNode finds the node of a list element given a sub-path like "[1][0]".
func elemNode(d *decoder, n ast.Node, sub string) ast.Node {
	for sub != "" {
		end := strings.IndexByte(sub, ']')
		if !strings.HasPrefix(sub, "[") || end < 0 {
			return n
		}
		i, err := strconv.Atoi(sub[1:end])
		seq, ok := d.deref(n).(*ast.SequenceNode)
		if err != nil || !ok || i >= len(seq.Values) {
			return n
		}
		n, sub = d.deref(seq.Values[i]), sub[end+1:]
	}
	return n
}

// nodePos is where a node starts (the first key for block mappings, whose
// own token is the first ':').
func nodePos(n ast.Node) (int, int) {
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		n = m.Values[0].Key
	}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		n = mv.Key
	}
	if n == nil || n.GetToken() == nil {
		return 0, 0
	}
	p := n.GetToken().Position
	return p.Line, p.Column
}

// pos locates a field path for a validation message: its value, the list
// element it names, or (for a missing field) the nearest enclosing key.
func (d *decoder) pos(path string) (int, int) {
	if n, ok := d.val[path]; ok {
		return nodePos(n)
	}
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i > 0 {
			if n, ok := d.val[path[:i]]; ok {
				return nodePos(elemNode(d, n, path[i:]))
			}
			return d.pos(path[:i])
		}
	}
	for {
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return nodePos(d.root) // a missing top-level field
		}
		path = path[:i]
		if n, ok := d.key[path]; ok {
			return nodePos(n)
		}
	}
}

// Closest suggests the known name nearest to a typo, if any is close: at
// most half its letters away. Command names are matched this way too.
func Closest(name string, known []string) string {
	best, bestD := "", len(name)/2+1
	for _, k := range known {
		if dist := editDistance(name, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
