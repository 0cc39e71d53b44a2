package schemas

import (
	"strings"
	"testing"
)

func TestFreezeDecodeSweepAndHash(t *testing.T) {
	const base = "name: f\ndataset: {path: d}\nbackbone: {name: mobilenetv2-imagenet%s}\nseeds: [1]\n"
	decode := func(extra, sweep string) (*Experiment, error) {
		return Decode("f.yaml", []byte(strings.Replace(base, "%s", extra, 1)+sweep))
	}
	plain, err := decode("", "")
	if err != nil {
		t.Fatal(err)
	}
	js, err := plain.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "freeze") {
		t.Errorf("unset freeze is in the canonical JSON, so old trial hashes would change: %s", js)
	}
	if depth, all := plain.Backbone.Freeze.Depth(); !all || depth != 0 {
		t.Errorf("unset freeze: depth %d all %v, want all", depth, all)
	}
	for in, want := range map[string]int{"-2": -2, "152": 152, "+3": 3, "0": 0, `"-7"`: -7} {
		e, err := decode(", freeze: "+in, "")
		if err != nil {
			t.Fatalf("freeze: %s: %v", in, err)
		}
		if depth, all := e.Backbone.Freeze.Depth(); all || depth != want {
			t.Errorf("freeze: %s = depth %d all %v, want %d", in, depth, all, want)
		}
	}
	for _, bad := range []string{"some", "1.5", "[1]"} {
		if _, err := decode(", freeze: "+bad, ""); err == nil || !strings.Contains(err.Error(), "backbone.freeze") {
			t.Errorf("freeze: %s: error %v, want one on backbone.freeze", bad, err)
		}
	}
	e, err := decode("", "sweep: {backbone.freeze: [all, -2]}\n")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := e.Trials()
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 2 || trials[0].VariantKey() != "backbone.freeze=all" || trials[1].VariantKey() != "backbone.freeze=-2" || trials[1].Config.Backbone.Freeze != "-2" {
		t.Errorf("sweep [all, -2]: %d trials %v", len(trials), trials)
	}
}
