package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// packageDir is the package's folder, for tests that change the working
// directory.
var packageDir, _ = os.Getwd()

// dogrun runs the CLI in-process and returns what it printed.
func dogrun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), &out, &errOut, args)
	return out.String(), errOut.String(), err
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(packageDir, "testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/dogrun -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got); go test ./cmd/dogrun -update rewrites it:\n%s", path, d)
	}
}

// TestValidateQuickstart validates the quickstart against the shared photos,
// which validate counts as run would load them.
func TestValidateQuickstart(t *testing.T) {
	validateShipped(t, "quickstart.yaml", "validate_quickstart")
}

// validateShipped validates experiments/name against the shared photos and
// compares the output with the golden file.
func validateShipped(t *testing.T, name, goldenName string) {
	t.Helper()
	file := shippedExperiment(t, name)
	out, _, err := dogrun(t, "validate", file)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, goldenName, strings.NewReplacer(file, "$FILE", needs.Photos(t), "$PHOTOS").Replace(out))
}

// TestValidateSearch describes a search: its space, where ASHA may stop a
// trial, the draws per seed.
func TestValidateSearch(t *testing.T) {
	file := shippedExperiment(t, "search-tpe.yaml")
	out, _, err := dogrun(t, "validate", file)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "validate_search", strings.NewReplacer(file, "$FILE", needs.Photos(t), "$PHOTOS").Replace(out))
}

func TestValidateReportsEveryProblemWithPosition(t *testing.T) {
	_, _, err := dogrun(t, "validate", filepath.Join("testdata", "bad_field.yaml"))
	if err == nil {
		t.Fatal("a bad file validated")
	}
	golden(t, "validate_bad_field", err.Error()+"\n")
}

func TestValidateUnknownBackboneAndCut(t *testing.T) {
	for _, name := range []string{"bad_backbone", "bad_swept_backbone", "bad_searched_backbone"} {
		_, _, err := dogrun(t, "validate", filepath.Join("testdata", name+".yaml"))
		if err == nil {
			t.Fatalf("%s validated", name)
		}
		golden(t, "validate_"+name, err.Error()+"\n")
	}
}

func TestValidateMissingFile(t *testing.T) {
	_, _, err := dogrun(t, "validate", "no/such.yaml")
	if err == nil || !strings.Contains(err.Error(), "no/such.yaml") {
		t.Fatalf("got %v, want an error naming the file", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"run"}, {"report"}, {"validate"}, {"status", "-frob"}, {"status", "a", "b"}} {
		_, stderr, err := dogrun(t, args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("dogrun %v: got %v, want a usage error", args, err)
		}
		if !strings.Contains(stderr, "Usage") {
			t.Errorf("dogrun %v printed no usage:\n%s", args, stderr)
		}
		if exitCode(err) != 2 {
			t.Errorf("dogrun %v exits %d, want 2", args, exitCode(err))
		}
	}
}

func TestBackbones(t *testing.T) {
	out, _, err := dogrun(t, "backbones")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "backbones", out)
	for _, line := range strings.Split(out, "\n") {
		if len(line) > width {
			t.Errorf("%d columns, more than %d: %s", len(line), width, line)
		}
	}
}

// TestRunStatusReport drives the CLI through a tiny real sweep: run, rerun
// (nothing to do), status and report.
func TestRunStatusReport(t *testing.T) {
	if testing.Short() {
		t.Skip("real end-to-end run")
	}
	runs := t.TempDir()
	exp := realExperiment(t, "tiny.yaml")
	out, _, err := dogrun(t, "run", exp, "-runs", runs)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"trial 1/2", "trial 2/2", "epoch 1/8", "done: 2 trained, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	again, _, err := dogrun(t, "run", exp, "-runs", runs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again, "done: 0 trained, 0 failed, 2 already done, 0 features computed") || strings.Contains(again, "extracting") {
		t.Errorf("rerun did work:\n%s", again)
	}
	status, _, err := dogrun(t, "status", "tiny", "-runs", runs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(status, " done ") != 2 {
		t.Errorf("status does not show 2 done trials:\n%s", status)
	}
	rep, _, err := dogrun(t, "report", "tiny", "-runs", runs)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "report.html", "learning_curve.png", "confusion.png", "variants.png"} {
		if _, err := os.Stat(filepath.Join(runs, "tiny", f)); err != nil {
			t.Errorf("report did not write %s: %v\n%s", f, err, rep)
		}
	}
	// Each trial folder holds its page and its TensorBoard logs, and the
	// report found the photos through the stored experiment file.
	for _, pattern := range []string{"trials/*/index.html", "trials/*/train/events.out.tfevents.*", "trials/*/validation/events.out.tfevents.*"} {
		if m, _ := filepath.Glob(filepath.Join(runs, "tiny", pattern)); len(m) != 2 {
			t.Errorf("%d files match %s, want one per trial", len(m), pattern)
		}
	}
	html, err := os.ReadFile(filepath.Join(runs, "tiny", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `<img class="thumb" src="data:image/jpeg;base64,`) || strings.Contains(string(html), "photo not found") {
		t.Errorf("report.html does not show the dogs' photos")
	}
}
