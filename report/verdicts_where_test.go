package report

import (
	"testing"
)

func TestVerdictFilters(t *testing.T) {
	axes := []string{"backbone.names", "head.type"}
	where, err := parseWhere([]string{"backbone.names=[a,b]", " head.type = cosine "}, axes)
	if err != nil {
		t.Fatal(err)
	}
	settings, _ := ParseVariant(`{"backbone.names":["a","b"],"head.type":"cosine"}`)
	if !matches(settings, where) {
		t.Errorf("%v does not match %v", settings, where)
	}
	other, _ := ParseVariant(`{"backbone.names":["a"],"head.type":"cosine"}`)
	if matches(other, where) {
		t.Errorf("%v matches %v", other, where)
	}
	if !sameLabel(`["a","b"]`, "[a,b]") || sameLabel(`["a"]`, "[a,b]") {
		t.Error("list labels: [a,b] must match only [\"a\",\"b\"]")
	}
	if _, err := parseWhere([]string{"train.lr=0.1"}, axes); err == nil {
		t.Error("a filter on a path that is not swept was accepted")
	}
}
