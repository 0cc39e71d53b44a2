package schemas

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// SchemaID is the $id of the generated JSON Schema.
const SchemaID = "https://github.com/dogrun/dogrun/schemas/experiment.schema.json"

// sweepKeyPattern is the shape of a dotted field path.
const sweepKeyPattern = `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`

// JSONSchema generates the draft 2020-12 JSON Schema of an experiment file
// from the Go types and their `dogrun`/`doc` tags, the same tags Decode
// validates with. Rules spanning fields (test + val < 1, zoom min <= max,
// swept values passing their field's checks) are only in Decode.
func JSONSchema() ([]byte, error) {
	root := object{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", SchemaID},
		{"title", "dogrun experiment"},
		{"description", "A transfer-learning experiment for identifying individual dogs: a base config, an optional sweep of variants, and the seeds each variant is trained with."},
	}
	root = append(root, structSchema(reflect.TypeFor[Experiment]())...)
	// seeds may be left out when settle gives the seeds.
	root = append(root, member{"anyOf", []object{{{"required", []string{"seeds"}}}, {{"required", []string{"settle"}}}}})
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// object is a JSON object that keeps its keys in the order given, so the
// generated file is stable and reads top-down like the Go types.
type object []member

type member struct {
	key string
	val any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := encodeRaw(&b, m.key); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := encodeRaw(&b, m.val); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeRaw appends x as JSON without HTML escaping, so "<=" stays readable.
func encodeRaw(b *bytes.Buffer, x any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

func structSchema(t reflect.Type) object {
	var props object
	var required []string
	for _, f := range fieldsOf(t) {
		props = append(props, member{f.name, fieldSchema(f)})
		if requiredField(f) {
			required = append(required, f.name)
		}
	}
	o := object{{"type", "object"}, {"additionalProperties", false}}
	if required != nil {
		o = append(o, member{"required", required})
	}
	return append(o, member{"properties", props})
}

// requiredField is a field the file must set: tagged required, or a group
// holding one (unless the whole group is optional).
func requiredField(f field) bool {
	if f.spec.required {
		return true
	}
	if f.typ.Kind() != reflect.Struct || f.spec.optional {
		return false
	}
	for _, sub := range fieldsOf(f.typ) {
		if requiredField(sub) {
			return true
		}
	}
	return false
}

func fieldSchema(f field) object {
	var o object
	if f.doc != "" {
		o = append(o, member{"description", f.doc})
	}
	switch {
	case f.typ == sweepType:
		o = append(o, sweepSchema()...)
	case f.typ == spaceType:
		o = append(o, spaceSchema()...)
	case f.typ.Kind() == reflect.Struct:
		o = append(o, structSchema(f.typ)...)
	default:
		o = append(o, valueSchema(f.typ, f.spec)...)
	}
	if d, ok := defaultValue(f); ok {
		o = append(o, member{"default", d.Interface()})
	}
	return o
}

// valueSchema describes a leaf field: its JSON type and constraints.
func valueSchema(t reflect.Type, sp spec) object {
	var o object
	switch t {
	case freezeType:
		return freezeSchema(sp)
	case labelType:
		return object{{"type", []string{"number", "string", "boolean", "array"}}}
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		o = append(o, member{"type", "integer"})
		o = append(o, bounds(sp)...)
	case reflect.Float32, reflect.Float64:
		o = append(o, member{"type", "number"})
		o = append(o, bounds(sp)...)
	case reflect.Bool:
		o = append(o, member{"type", "boolean"})
	case reflect.String:
		o = append(o, member{"type", "string"})
		if sp.enum != nil {
			o = append(o, member{"enum", sp.enum})
		}
		if sp.pattern != nil {
			o = append(o, member{"pattern", sp.pattern.String()})
		} else if sp.required {
			o = append(o, member{"minLength", 1})
		}
	case reflect.Slice, reflect.Array:
		o = append(o, member{"type", "array"})
		o = append(o, member{"items", valueSchema(t.Elem(), spec{min: sp.min, max: sp.max, minExcl: sp.minExcl, maxExcl: sp.maxExcl, enum: sp.enum})})
		n := max(sp.items, 0)
		if sp.required {
			n = max(n, 1)
		}
		if t.Kind() == reflect.Array {
			n = t.Len()
		}
		if n > 0 {
			o = append(o, member{"minItems", n})
		}
		if t.Kind() == reflect.Array {
			o = append(o, member{"maxItems", t.Len()})
		}
		if sp.unique {
			o = append(o, member{"uniqueItems", true})
		}
	}
	return o
}

func bounds(sp spec) object {
	var o object
	if sp.min != nil {
		k := "minimum"
		if sp.minExcl {
			k = "exclusiveMinimum"
		}
		o = append(o, member{k, *sp.min})
	}
	if sp.max != nil {
		k := "maximum"
		if sp.maxExcl {
			k = "exclusiveMaximum"
		}
		o = append(o, member{k, *sp.max})
	}
	return o
}

// sweepSchema lists every sweepable path with the schema of its values, so
// editors can complete and check sweeps too.
func sweepSchema() object {
	paths := sweepablePaths()
	var props object
	for _, p := range paths {
		chain, _ := lookupPath(p)
		f := chain[len(chain)-1]
		v := object{}
		if f.doc != "" {
			v = append(v, member{"description", f.doc})
		}
		v = append(v,
			member{"type", "array"},
			member{"minItems", 1},
			member{"uniqueItems", true},
			member{"items", valueSchema(f.typ, f.spec)})
		props = append(props, member{p, v})
	}
	return object{
		{"type", "object"},
		{"propertyNames", object{{"pattern", sweepKeyPattern}, {"enum", paths}}},
		{"additionalProperties", object{{"type", "array"}, {"minItems", 1}}},
		{"properties", props},
	}
}
