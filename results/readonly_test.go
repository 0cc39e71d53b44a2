package results

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// dirEntries lists a folder, for tests that check nothing was created.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestOpenReadOnlyOfNoFileCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "runs", "dogrun.db")
	_, err := OpenReadOnly(path)
	if !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want ErrNoDatabase naming %s", err, path)
	}
	if _, _, err := Upgrade(path); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("Upgrade: got %v, want ErrNoDatabase", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("opening for reading created %v", got)
	}
	if _, err := OpenReadOnly(dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("a folder as the database: %v", err)
	}
}

func TestOpenReadOnlyReadsButNeverWrites(t *testing.T) {
	refusal := map[string]string{"sqlite": "readonly", "postgres": "read-only transaction"}
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			path := newTarget(t, kind)
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := s.PutExperiment(ctx, Experiment{Name: "exp"}); err != nil {
				t.Fatal(err)
			}
			s.Close()

			ro, err := OpenReadOnly(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if _, err := ro.Experiment(ctx, "exp"); err != nil {
				t.Errorf("read: %v", err)
			}
			if _, err := ro.PutExperiment(ctx, Experiment{Name: "other"}); err == nil || !strings.Contains(err.Error(), refusal[kind]) {
				t.Errorf("a write through a read-only store: %v", err)
			}
		})
	}
}

// An older schema is named and left as it was; Upgrade brings it up to date,
// and then it reads.
func TestOpenReadOnlyRefusesOlderSchemaUntouched(t *testing.T) {
	path := copyFixture(t)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, refused := OpenReadOnly(path)
	if !errors.Is(refused, ErrSchemaOld) {
		t.Fatalf("got %v, want ErrSchemaOld", refused)
	}
	migs, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{path, "schema version 1,", "reads version " + strconv.Itoa(len(migs))} {
		if !strings.Contains(refused.Error(), part) {
			t.Errorf("%q does not say %q", refused, part)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("reading an older database changed it")
	}

	from, to, err := Upgrade(path)
	if err != nil || from != 1 || to != len(migs) {
		t.Fatalf("Upgrade = %d, %d, %v; want 1, %d", from, to, err, len(migs))
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Experiment(context.Background(), "exp"); err != nil {
		t.Errorf("after Upgrade: %v", err)
	}
	if from, to, err := Upgrade(path); err != nil || from != to {
		t.Errorf("second Upgrade = %d, %d, %v; want nothing to do", from, to, err)
	}
}

func TestOpenReadOnlyRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "notes.db")
	if err := os.WriteFile(text, []byte(strings.Repeat("not a database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{empty, text} {
		_, err := OpenReadOnly(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming it", filepath.Base(path), err)
		}
		if _, _, err := Upgrade(path); err == nil {
			t.Errorf("Upgrade made %s a results database", filepath.Base(path))
		}
	}
	if b, err := os.ReadFile(empty); err != nil || len(b) != 0 {
		t.Errorf("the empty file now holds %d bytes (%v)", len(b), err)
	}
}

func TestExperimentNotFoundNamesTheDatabase(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		_, err := s.Experiment(ctx, "ghost")
		want := `no experiment "ghost" in ` + s.Path() + ` (it holds none)`
		if !errors.Is(err, ErrNotFound) || err.Error() != want {
			t.Errorf("got %v, want %q wrapping ErrNotFound", err, want)
		}
		for _, name := range []string{"b", "a"} {
			if _, err := s.PutExperiment(ctx, Experiment{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Experiment(ctx, "ghost"); err == nil || !strings.HasSuffix(err.Error(), "(it holds a, b)") {
			t.Errorf("got %v, want the experiments it holds", err)
		}
	})
}
