package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
)

// inEmptyFolder makes the test run in a new empty folder that no dogrun
// project encloses, with DOGRUN_RUNS unset, and returns the folder.
func inEmptyFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("DOGRUN_RUNS", "")
	if root, found, err := workspace.Root(); err != nil || found {
		t.Fatalf("%s is inside the dogrun project %s (%v); the test needs a folder outside any", dir, root, err)
	}
	return dir
}

// attempt runs dogrun with args and returns one line for a golden file: the
// arguments, the exit status and the message, with dir as $DIR.
func attempt(t *testing.T, dir string, args ...string) string {
	t.Helper()
	stdout, _, err := dogrun(t, args...)
	msg := strings.TrimSpace(stdout)
	code := 0
	if err != nil {
		msg, code = err.Error(), exitCode(err)
	}
	return strings.ReplaceAll(fmt.Sprintf("dogrun %s: exit %d: %s\n", strings.Join(args, " "), code, msg), dir, "$DIR")
}

// folderHolds lists what is in dir, all the way down. SQLite's shared
// memory files (-shm, -wal), which any reader of a database in WAL mode
// creates beside it, are not counted: they are not a database.
func folderHolds(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && path != dir && !strings.HasSuffix(path, "-shm") && !strings.HasSuffix(path, "-wal") {
			rel, _ := filepath.Rel(dir, path)
			names = append(names, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// reading are commands that only read, each about an experiment or trial
// that is not there.
var reading = [][]string{
	{"status"},
	{"status", "quickstart"},
	{"report", "quickstart"},
	{"compare", "quickstart"},
	{"predict", "-trial", "f80930", "dog.jpg"},
	{"gradcam", "-trial", "f80930", "dog.jpg"},
}

// TestReadingCommandsCreateNothing runs every command that only reads in an
// empty folder: each says which database it looked for and why there, and
// the folder stays as it was (gradcam and predict get a photo to read).
func TestReadingCommandsCreateNothing(t *testing.T) {
	dir := inEmptyFolder(t)
	writeFile(t, filepath.Join(dir, "dog.jpg"), jpegOf(t, photo(1, 0), 90))
	var got strings.Builder
	for _, args := range append(reading, []string{"migrate"}, []string{"status", "-runs", "results"}, []string{"status", "-db", "results.db"}) {
		got.WriteString(attempt(t, dir, args...))
	}
	t.Setenv("DOGRUN_RUNS", "shared/runs")
	got.WriteString(attempt(t, dir, "status"))
	golden(t, "reading_creates_nothing", got.String())
	if left := folderHolds(t, dir); !slices.Equal(left, []string{"dog.jpg"}) {
		t.Errorf("the folder holds %v, want only dog.jpg", left)
	}
}

// TestReadingAnEmptyDatabase: a database without the asked-for experiment or
// trial is named, with what it holds.
func TestReadingAnEmptyDatabase(t *testing.T) {
	dir := inEmptyFolder(t)
	st, err := results.Open(filepath.Join(dir, "runs", "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	writeFile(t, filepath.Join(dir, "dog.jpg"), jpegOf(t, photo(1, 0), 90))
	before := folderHolds(t, dir)
	var got strings.Builder
	for _, args := range append(reading, []string{"predict", "-trial", "f80930", "-experiment", "quickstart", "dog.jpg"}) {
		got.WriteString(attempt(t, dir, args...))
	}
	golden(t, "reading_empty_database", got.String())
	if after := folderHolds(t, dir); !slices.Equal(before, after) {
		t.Errorf("reading changed the folder from %v to %v", before, after)
	}
}

// TestDatabaseFoundFromASubfolder: commands started below a project find its
// runs/dogrun.db, as git finds .git.
func TestDatabaseFoundFromASubfolder(t *testing.T) {
	dir := inEmptyFolder(t)
	st, err := results.Open(filepath.Join(dir, "runs", "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutExperiment(context.Background(), results.Experiment{Name: "found", File: "found.yaml"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	deep := filepath.Join(dir, "photos", "rex")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	out, _, err := dogrun(t, "status")
	if err != nil || !strings.Contains(out, "found ") {
		t.Errorf("status from %s: %v\n%s", deep, err, out)
	}
	if left := folderHolds(t, deep); len(left) != 0 {
		t.Errorf("status created %v in the subfolder", left)
	}
}

// TestOlderDatabase: reading commands leave a database of an older schema
// as it is and say how to upgrade it; migrate does, and then they read it.
func TestOlderDatabase(t *testing.T) {
	dir := inEmptyFolder(t)
	db := filepath.Join(dir, "runs", "dogrun.db")
	writeFile(t, db, readFile(t, filepath.Join(packageDir, "..", "..", "results", "testdata", "schema_v1.db")))
	before := readFile(t, db)
	var got strings.Builder
	got.WriteString(attempt(t, dir, "status"))
	got.WriteString(attempt(t, dir, "report", "exp"))
	if !slices.Equal(before, readFile(t, db)) {
		t.Error("reading an older database changed it")
	}
	got.WriteString(attempt(t, dir, "migrate"))
	got.WriteString(attempt(t, dir, "migrate"))
	out := attempt(t, dir, "status")
	got.WriteString(out)
	version := regexp.MustCompile(`(schema version|reads version|to) \d+`)
	golden(t, "older_database", version.ReplaceAllString(got.String(), "$1 N"))
}
