package schemas

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// spec is the parsed `dogrun` tag of one field.
type spec struct {
	required, unique, ordered, nosweep, nohash bool
	optional                                   bool
	def                                        string
	hasDef                                     bool
	min, max                                   *float64
	minExcl, maxExcl                           bool
	enum                                       []string
	items                                      int
	pattern                                    *regexp.Regexp
}

// field is one struct field as seen from YAML.
type field struct {
	name  string // yaml key
	index int
	typ   reflect.Type
	spec  spec
	doc   string
}

var (
	sweepType  = reflect.TypeFor[Sweep]()
	fieldCache sync.Map // reflect.Type -> []field
)

// fieldsOf lists the YAML-visible fields of a struct type, in declaration order.
func fieldsOf(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		sp, err := parseSpec(sf.Tag.Get("dogrun"))
		if err != nil {
			// Tags are constants: a bad one is a programming error caught by any test.
			panic(fmt.Sprintf("schemas: %s.%s: %v", t.Name(), sf.Name, err))
		}
		fs = append(fs, field{name: name, index: i, typ: sf.Type, spec: sp, doc: sf.Tag.Get("doc")})
	}
	fieldCache.Store(t, fs)
	return fs
}

func parseSpec(tag string) (spec, error) {
	var sp spec
	for tag != "" {
		var opt string
		if strings.HasPrefix(tag, "pattern=") {
			opt, tag = tag, "" // the pattern may contain commas
		} else {
			opt, tag, _ = strings.Cut(tag, ",")
		}
		key, val, _ := strings.Cut(opt, "=")
		var err error
		switch key {
		case "required":
			sp.required = true
		case "unique":
			sp.unique = true
		case "ordered":
			sp.ordered = true
		case "nosweep":
			sp.nosweep = true
		case "nohash":
			sp.nohash = true
		case "optional":
			sp.optional = true
		case "default":
			sp.def, sp.hasDef = val, true
		case "min", "gt":
			sp.min, err = parseBound(val)
			sp.minExcl = key == "gt"
		case "max", "lt":
			sp.max, err = parseBound(val)
			sp.maxExcl = key == "lt"
		case "enum":
			sp.enum = strings.Split(val, "|")
		case "items":
			sp.items, err = strconv.Atoi(val)
		case "pattern":
			sp.pattern, err = regexp.Compile(val)
		default:
			err = fmt.Errorf("unknown dogrun tag option %q", opt)
		}
		if err != nil {
			return sp, err
		}
	}
	return sp, nil
}

func parseBound(s string) (*float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	return &f, err
}

// setDefaults fills every field that has a default tag, recursively, but
// for optional groups: those stay zero unless the file writes them.
func setDefaults(v reflect.Value) {
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		if f.typ.Kind() == reflect.Struct {
			if !f.spec.optional {
				setDefaults(fv)
			}
			continue
		}
		if d, ok := defaultValue(f); ok {
			fv.Set(d)
		}
	}
}

// defaultValue is the value of f's default tag, if it has one.
func defaultValue(f field) (reflect.Value, bool) {
	if !f.spec.hasDef {
		return reflect.Value{}, false
	}
	d, err := parseDefault(f.typ, f.spec.def)
	if err != nil {
		// Tags are constants: a bad one is a programming error caught by any test.
		panic(fmt.Sprintf("schemas: default of %s: %v", f.name, err))
	}
	return d, true
}

// parseDefault converts a default tag text to a value of type t.
func parseDefault(t reflect.Type, s string) (reflect.Value, error) {
	var raw any
	switch t.Kind() {
	case reflect.Array, reflect.Slice:
		list := []any{}
		for _, w := range strings.Fields(s) {
			f, err := strconv.ParseFloat(w, 64)
			if err != nil {
				return reflect.Value{}, err
			}
			list = append(list, f)
		}
		raw = list
	case reflect.String:
		raw = s
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return reflect.Value{}, err
		}
		raw = b
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return reflect.Value{}, err
		}
		raw = n
	default:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return reflect.Value{}, err
		}
		raw = f
	}
	v := reflect.New(t).Elem()
	if ce := assign(v, raw); ce != nil {
		return reflect.Value{}, fmt.Errorf("%s%s", ce.sub, ce.msg)
	}
	return v, nil
}

// Default returns an experiment with every default applied and nothing else set.
func Default() Experiment {
	var e Experiment
	setDefaults(reflect.ValueOf(&e).Elem())
	return e
}

// lookupPath finds the field for a dotted yaml path below Experiment. It
// returns the fields along the way (the last one is the target).
func lookupPath(path string) ([]field, error) {
	t := reflect.TypeFor[Experiment]()
	var chain []field
	for _, seg := range strings.Split(path, ".") {
		if t.Kind() != reflect.Struct || t == sweepType {
			return nil, fmt.Errorf("no such field")
		}
		f, ok := findField(t, seg)
		if !ok {
			return nil, fmt.Errorf("no such field")
		}
		chain = append(chain, f)
		t = f.typ
	}
	return chain, nil
}

func findField(t reflect.Type, name string) (field, bool) {
	for _, f := range fieldsOf(t) {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for _, f := range fieldsOf(t) {
		names = append(names, f.name)
	}
	return names
}

// sweepablePaths lists every leaf path a sweep may name, in declaration order.
func sweepablePaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for _, f := range fieldsOf(t) {
			if f.spec.nosweep {
				continue
			}
			if f.typ.Kind() == reflect.Struct {
				walk(f.typ, prefix+f.name+".")
				continue
			}
			out = append(out, prefix+f.name)
		}
	}
	walk(reflect.TypeFor[Experiment](), "")
	return out
}
