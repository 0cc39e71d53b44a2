package schemas

import (
	"reflect"
	"strconv"
)

// Freeze is backbone.freeze, the original Keras scripts' nb_freeze: "all" (or unset) keeps
// every backbone layer frozen; an integer N > 0 freezes the first N layers,
// -N all but the last N, 0 none. YAML integers are kept as their decimal
// text, so the field stays a string and unset stays out of trial hashes.
type Freeze string

var freezeType = reflect.TypeFor[Freeze]()

// Depth returns the freeze depth as an integer, or all for "" and "all".
func (f Freeze) Depth() (depth int, all bool) {
	if f == "" || f == "all" {
		return 0, true
	}
	n, err := strconv.Atoi(string(f))
	if err != nil {
		return 0, true // unreachable after validation (pattern)
	}
	return n, false
}

// freezeSchema is Freeze's JSON Schema: the string all or an integer.
func freezeSchema(sp spec) object {
	str := object{{"type", "string"}}
	if sp.pattern != nil {
		str = append(str, member{"pattern", sp.pattern.String()})
	}
	return object{{"anyOf", []object{str, {{"type", "integer"}}}}}
}
