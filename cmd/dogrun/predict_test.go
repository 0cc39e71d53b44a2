package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/results"
)

// TestPredictTrialIDs checks how -trial is resolved, on a store without
// any trained trial.
func TestPredictTrialIDs(t *testing.T) {
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, e := range []struct {
		name   string
		hashes []string
	}{{"one", []string{"abc123", "abd456"}}, {"two", []string{"abc123"}}} {
		id, err := st.PutExperiment(ctx, results.Experiment{Name: e.name})
		if err != nil {
			t.Fatal(err)
		}
		var trials []results.Trial
		for i, h := range e.hashes {
			trials = append(trials, results.Trial{Hash: h + strings.Repeat("0", 58), Index: i, Seed: int64(i + 1)})
		}
		if _, err := st.RegisterTrials(ctx, id, trials); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	var got strings.Builder
	for _, args := range [][]string{
		{"-trial", "ab"},                         // three trials in two experiments
		{"-trial", "abc1"},                       // one hash in two experiments
		{"-trial", "ABC1", "-experiment", "two"}, // found, but not trained
		{"-trial", "abd", "-experiment", "two"},
		{"-trial", "99"},
		{"-trial", "xyz"},
	} {
		_, _, err := dogrun(t, append(append([]string{"predict", "-runs", runs}, args...), "dog.jpg")...)
		if err == nil {
			t.Fatalf("predict %v succeeded", args)
		}
		got.WriteString(strings.Join(args, " ") + ": " + strings.ReplaceAll(err.Error(), runs, "$RUNS") + "\n")
	}
	golden(t, "predict_trial_ids", got.String())
	if _, stderr, err := dogrun(t, "predict", "-runs", runs, "dog.jpg"); !errors.Is(err, errUsage) || !strings.Contains(stderr, "Usage") {
		t.Errorf("predict without -trial: %v", err)
	}
}

// TestPredictUnknownDog trains a tiny open-set experiment on the shared
// photos. predict must answer every photo of the held-out test dogs as the
// run measured them (as many named as the stored false accepts), and its
// JSON for a rejected unseen dog and a known dog is golden.
func TestPredictUnknownDog(t *testing.T) {
	if testing.Short() {
		t.Skip("real end-to-end run")
	}
	data := needs.Photos(t)
	runs := t.TempDir()
	if out, _, err := dogrun(t, "run", realExperiment(t, "openset_tiny.yaml"), "-runs", runs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exp, err := st.Experiment(ctx, "openset-tiny")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	open, err := st.OpenSet(ctx, trials[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	_, classes, err := st.TrialReport(ctx, trials[0].ID)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	photos := func(dog string) []string {
		names, err := os.ReadDir(filepath.Join(data, dog))
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, n := range names {
			files = append(files, filepath.ToSlash(filepath.Join(data, dog, n.Name())))
		}
		sort.Strings(files)
		return files
	}
	predict := func(images ...string) (string, []struct{ Image, Decision string }) {
		out, _, err := dogrun(t, append([]string{"predict", "-runs", runs, "-trial", trials[0].Hash[:12]}, images...)...)
		if err != nil {
			t.Fatal(err)
		}
		var got []struct{ Image, Decision string }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		return out, got
	}
	var unseen []string
	for _, dog := range open.UnknownTest {
		unseen = append(unseen, photos(dog)...)
	}
	_, got := predict(unseen...)
	measured, _ := open.Result(open.Rule.Kind, results.PartTest)
	named, rejected := 0, ""
	for _, p := range got {
		if p.Decision != "unknown" {
			named++
		} else if rejected == "" {
			rejected = p.Image
		}
	}
	if len(got) != measured.Unknown || named != measured.FalseAccepts {
		t.Errorf("predict named %d of %d unseen photos; the run measured %d of %d", named, len(got), measured.FalseAccepts, measured.Unknown)
	}
	if rejected == "" {
		t.Fatal("no unseen photo answered unknown")
	}
	out, _ := predict(rejected, photos(classes[0])[0])
	golden(t, "predict_unknown_dog", strings.ReplaceAll(out, data, "$PHOTOS"))

	// A missing file and one that is not a photo get an error each; the
	// photo between them is still answered, and the exit status says so.
	dir := t.TempDir()
	missing, notes := filepath.Join(dir, "missing.jpg"), filepath.Join(dir, "notes.jpg")
	writeFile(t, notes, []byte("not a photo\n"))
	out, _, err = dogrun(t, "predict", "-runs", runs, "-trial", trials[0].Hash[:12], missing, photos(classes[0])[0], notes)
	if err == nil || exitCode(err) != 1 {
		t.Errorf("predict with two bad files: %v, want exit status 1", err)
	}
	var answers []map[string]any
	if jerr := json.Unmarshal([]byte(out), &answers); jerr != nil || len(answers) != 3 || answers[1]["decision"] == nil {
		t.Fatalf("want three answers, the middle one a decision: %v\n%s", jerr, out)
	}
	golden(t, "predict_bad_files", strings.NewReplacer(data, "$PHOTOS", dir, "$DIR").Replace(out+errText(err)))
}
