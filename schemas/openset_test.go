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

// TestOpenSetPoolAndScores checks the calibration and score settings and
// the evaluation block: errors carry file, line, column and field, and an
// evaluation experiment refuses what it cannot do.
func TestOpenSetPoolAndScores(t *testing.T) {
	base := "name: x\ndataset: {path: d}\nbackbone: {name: mobilefacenet}\nseeds: [1]\n"
	ok, err := Decode("x.yaml", []byte(base+"open_set: {unknown_dogs: 10, target_far: 0.05, calibrate_on: pool, scores: [energy, centroid_cosine_minus_cohort]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := ok.CanonicalJSON(); !bytes.Contains(js, []byte(`"calibrate_on":"pool","scores":["energy","centroid_cosine_minus_cohort"]`)) {
		t.Errorf("canonical JSON lacks the pool and scores: %s", js)
	}
	ev, err := Decode("x.yaml", []byte(base+"evaluation: {dogs: 30}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e := ev.Evaluation; e.Dogs != 30 || e.GenuinePairs != 2500 || e.ImpostorPairs != 25000 || len(e.TargetFARs) != 2 || e.MaxRank != 5 {
		t.Errorf("evaluation with defaults: %+v", e)
	}
	if js, _ := ok.CanonicalJSON(); bytes.Contains(js, []byte("evaluation")) {
		t.Errorf("canonical JSON without evaluation mentions it: %s", js)
	}
	for yaml, want := range map[string]string{
		"open_set: {unknown_dogs: 4, target_far: 0.05, scores: [max_logit, softmax]}":                    "x.yaml:5:67: open_set.scores[1]: \"softmax\" is not one of max_softmax, max_logit",
		"open_set: {unknown_dogs: 4, target_far: 0.05, scores: [energy, energy]}":                        "open_set.scores[1]: duplicate value",
		"open_set: {unknown_dogs: 4, target_far: 0.05, calibrate_on: all}":                               "x.yaml:5:61: open_set.calibrate_on: \"all\" is not one of task, pool",
		"open_set: {unknown_dogs: 4, target_far: 0.05, scores: [centroid_cosine_minus_cohort]}":          "open_set.scores[0]: centroid_cosine_minus_cohort needs calibrate_on: pool",
		"open_set: {calibrate_on: pool}":                                                                 "open_set.unknown_dogs: is required with open_set's other settings",
		"evaluation: {dogs: 1}":                                                                          "x.yaml:5:20: evaluation.dogs: 1 is out of range [2, 100000]",
		"evaluation: {dogs: 10, target_fars: [0.01, 1]}":                                                 "evaluation.target_fars[1]: 1 is out of range (0, 1)",
		"evaluation: {dogs: 10}\nopen_set: {unknown_dogs: 4, target_far: 0.05}":                          "open_set: cannot be combined with evaluation",
		"evaluation: {dogs: 10}\nsplit: {kfold: 5}":                                                      "split.kfold: cannot be combined with evaluation",
		"evaluation: {dogs: 10}\nfeatures: {normalize: standardize}":                                     "features.normalize: cannot be combined with evaluation",
		"evaluation: {dogs: 10}\ndataset: {path: d, max_classes: 20}\nbackbone: {name: mobilefacenet}\n": "dataset.max_classes: cannot be combined with evaluation",
		"sweep: {evaluation.dogs: [10, 20]}":                                                             "evaluation cannot be swept",
	} {
		doc := base + yaml + "\n"
		if strings.Contains(yaml, "dataset:") {
			doc = "name: x\nseeds: [1]\n" + yaml
		}
		_, err := Decode("x.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", yaml, err, want)
		}
	}
}
