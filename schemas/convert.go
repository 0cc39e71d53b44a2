package schemas

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// convError is a failed conversion; sub locates the bad element ("[1]").
type convError struct{ sub, msg string }

// mappingValue stands for a YAML mapping where a plain value was expected.
type mappingValue struct{}

// maxExact is the largest integer every float64 below it represents exactly.
const maxExact = 1 << 53

// assign stores a decoded YAML value (int64, uint64, float64, string, bool,
// []any, nil) into dst, refusing wrong types and lossy conversions.
func assign(dst reflect.Value, v any) *convError {
	t := dst.Type()
	mismatch := func() *convError {
		return &convError{msg: fmt.Sprintf("expected %s, got %s", describeType(t), describeValue(v))}
	}
	if n, ok := v.(int64); ok && t == freezeType {
		dst.SetString(strconv.FormatInt(n, 10))
		return nil
	}
	if t == labelType {
		if hasMapping(v) {
			return mismatch()
		}
		dst.SetString(formatValue(v))
		return nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case uint64:
			if x > math.MaxInt64 {
				return &convError{msg: fmt.Sprintf("%d is too large", x)}
			}
			n = int64(x)
		default:
			return mismatch()
		}
		if dst.OverflowInt(n) {
			return &convError{msg: fmt.Sprintf("%d is too large", n)}
		}
		dst.SetInt(n)
	case reflect.Float32, reflect.Float64:
		var f float64
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return &convError{msg: fmt.Sprintf("expected a finite number, got %s", formatValue(x))}
			}
			f = x
		case int64:
			if x > maxExact || x < -maxExact {
				return &convError{msg: fmt.Sprintf("%d cannot be represented exactly as a number", x)}
			}
			f = float64(x)
		case uint64:
			if x > maxExact {
				return &convError{msg: fmt.Sprintf("%d cannot be represented exactly as a number", x)}
			}
			f = float64(x)
		default:
			return mismatch()
		}
		dst.SetFloat(f)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return mismatch()
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch()
		}
		dst.SetBool(b)
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			return mismatch()
		}
		if t.Kind() == reflect.Array && len(list) != t.Len() {
			return &convError{msg: fmt.Sprintf("expected %s, got a list of %d", describeType(t), len(list))}
		}
		out := reflect.New(t).Elem()
		if t.Kind() == reflect.Slice {
			out = reflect.MakeSlice(t, len(list), len(list))
		}
		for i, x := range list {
			if ce := assign(out.Index(i), x); ce != nil {
				ce.sub = fmt.Sprintf("[%d]%s", i, ce.sub)
				return ce
			}
		}
		dst.Set(out)
	default:
		return &convError{msg: fmt.Sprintf("unsupported field type %s", t)}
	}
	return nil
}

// describeType says in words what a field of type t accepts.
func describeType(t reflect.Type) string {
	switch t {
	case freezeType:
		return "all or an integer"
	case labelType:
		return "a value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list of " + plural(t.Elem())
	case reflect.Array:
		return fmt.Sprintf("a list of %d %s", t.Len(), plural(t.Elem()))
	}
	return t.String()
}

func plural(t reflect.Type) string {
	d := describeType(t)
	switch {
	case strings.HasPrefix(d, "an "):
		return d[3:] + "s"
	case strings.HasPrefix(d, "a "):
		return d[2:] + "s"
	}
	return d
}

// describeValue says what a decoded YAML value is, for error messages.
func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", x)
	case int64, uint64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return "float " + formatValue(x)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case []any:
		return "a list"
	case mappingValue:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// formatValue renders a value compactly and canonically (floats in shortest
// form, lists as [a,b]); it is used in messages and variant keys.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case nil:
		return "null"
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k == reflect.Slice || k == reflect.Array {
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = formatValue(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}

// normalize turns decoded integers into int64 when they fit, so equal values
// compare equal whatever sign the YAML scanner gave them.
func normalize(v any) any {
	switch x := v.(type) {
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	case int:
		return int64(x)
	case uint:
		return normalize(uint64(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}
