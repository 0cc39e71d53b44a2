package schemas

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// CanonicalJSON is a deterministic JSON encoding of the config, for hashing:
// fields in declaration order (as encoding/json writes a struct), empty lists
// as [], and without the fields tagged nohash:
//   - Name and Description: renaming or re-describing an experiment does not
//     change what is computed, so cached results stay valid;
//   - Dataset.Path: the same photos can live at different paths; the data is
//     identified by a content fingerprint elsewhere.
//
// File is never encoded. For a Trial's Config (Sweep nil, one seed) this
// identifies exactly one training run.
func (e Experiment) CanonicalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeCanonical(&b, reflect.ValueOf(e)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeCanonical(b *bytes.Buffer, v reflect.Value) error {
	if _, ok := v.Interface().(json.Marshaler); !ok {
		switch v.Kind() {
		case reflect.Struct:
			return writeStruct(b, v)
		case reflect.Slice:
			if v.Len() == 0 {
				b.WriteString("[]") // nil and empty mean the same here
				return nil
			}
		}
	}
	data, err := json.Marshal(v.Interface())
	if err != nil {
		return err
	}
	b.Write(data)
	return nil
}

func writeStruct(b *bytes.Buffer, v reflect.Value) error {
	b.WriteByte('{')
	first := true
	for _, f := range fieldsOf(v.Type()) {
		if f.spec.nohash {
			continue
		}
		sf := v.Type().Field(f.index)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fv := v.Field(f.index)
		if strings.Contains(opts, "omitempty") && (fv.IsZero() || fv.Kind() == reflect.Slice && fv.Len() == 0) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(name)
		b.Write(key)
		b.WriteByte(':')
		if err := writeCanonical(b, fv); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}
