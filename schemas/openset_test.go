package schemas

import (
	"bytes"
	"strings"
	"testing"
)

func TestOpenSet(t *testing.T) {
	base := "name: x\ndataset: {path: d}\nbackbone: {name: mobilefacenet}\nseeds: [1]\n"
	plain, err := Decode("x.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	js, err := plain.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// Absent, it leaves the canonical config (and so every trial hash) as before.
	if bytes.Contains(js, []byte("open_set")) {
		t.Errorf("canonical JSON without open_set mentions it: %s", js)
	}
	withIt, err := Decode("x.yaml", []byte(base+"open_set: {unknown_dogs: 10, target_far: 0.05}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := withIt.CanonicalJSON(); !bytes.Contains(js, []byte(`"open_set":{"unknown_dogs":10,"target_far":0.05}`)) {
		t.Errorf("canonical JSON lacks the open set: %s", js)
	}
	for yaml, want := range map[string]string{
		"open_set: {unknown_dogs: 1, target_far: 0.05}": "open_set.unknown_dogs: 1 is too few",
		"open_set: {unknown_dogs: 4}":                   "open_set.target_far: is required with open_set.unknown_dogs",
		"open_set: {target_far: 0.05}":                  "open_set.unknown_dogs: is required with open_set.target_far",
		"open_set: {unknown_dogs: 4, target_far: 1}":    "open_set.target_far: 1 is out of range [0, 1)",
		"sweep: {open_set.unknown_dogs: [2, 4]}":        "open_set cannot be swept",
	} {
		_, err := Decode("x.yaml", []byte(base+yaml+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", yaml, err, want)
		}
	}
}
