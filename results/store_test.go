package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPragmasInEffect(t *testing.T) {
	s, _ := openTest(t)
	{
		ctx := context.Background()
		// Check two distinct pooled connections: the settings come from the DSN
		// and must hold for every connection, not only the first.
		var conns []*sql.Conn
		for range 2 {
			c, err := s.pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns = append(conns, c)
		}
		type pragmas struct {
			JournalMode string
			ForeignKeys int
			BusyTimeout int
			UserVersion int
		}
		migs, err := embeddedMigrations()
		if err != nil {
			t.Fatal(err)
		}
		want := pragmas{JournalMode: "wal", ForeignKeys: 1, BusyTimeout: 10000, UserVersion: len(migs)}
		for i, conn := range conns {
			var got pragmas
			for q, dest := range map[string]any{
				"PRAGMA journal_mode": &got.JournalMode,
				"PRAGMA foreign_keys": &got.ForeignKeys,
				"PRAGMA busy_timeout": &got.BusyTimeout,
				"PRAGMA user_version": &got.UserVersion,
			} {
				if err := conn.QueryRowContext(ctx, q).Scan(dest); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("connection %d pragmas (-want +got):\n%s", i, d)
			}
		}
	}
}

func TestForeignKeysEnforcedAndCascade(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		if _, err := s.RegisterTrials(ctx, 999, makeTrials(1)); err == nil {
			t.Fatal("registering trials of a missing experiment succeeded")
		}
		id := experimentWithTrials(t, s, 2)
		tr, err := s.Claim(ctx, id, "w", time.Hour, 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, tr.ID, "w", sampleOutcome(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM experiments WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		for _, table := range append([]string{"trials"}, childTables...) {
			var n int
			if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s has %d rows after deleting the experiment", table, n)
			}
		}
	})
}

func TestOpenPathWithOddCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#", "r%20esults.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created at the literal path: %v", err)
	}
}

func TestMigrations(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) { migrations(t, kind) })
	}
}

func migrations(t *testing.T, kind string) {
	ctx := context.Background()
	base, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	path := newTarget(t, kind)

	// Version 0: an existing, empty file (or database) is upgraded.
	if kind == "sqlite" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutExperiment(ctx, Experiment{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Version 1 -> 2 with a migration this binary does not ship: data stays.
	next := append(append([]migration(nil), base...), migration{
		Version: len(base) + 1, Name: "add_notes",
		SQL: `ALTER TABLE experiments ADD COLUMN notes TEXT NOT NULL DEFAULT 'none';`,
	})
	s, err = openWith(path, next)
	if err != nil {
		t.Fatal(err)
	}
	var notes string
	if err := s.db.QueryRowContext(ctx, `SELECT notes FROM experiments WHERE name = 'kept'`).Scan(&notes); err != nil {
		t.Fatal(err)
	}
	var versions []int
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	rows.Close()
	s.Close()
	var wantVersions []int
	for v := range len(next) {
		wantVersions = append(wantVersions, v+1)
	}
	if d := cmp.Diff(wantVersions, versions); d != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", d)
	}
	if notes != "none" {
		t.Errorf("notes = %q", notes)
	}

	// Reopening at the same version is a no-op.
	s, err = openWith(path, next)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// This binary only knows the base versions: refuse, saying why.
	_, err = Open(path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer database: err = %v, want ErrSchemaTooNew", err)
	}
	for _, part := range []string{fmt.Sprintf("schema version %d", len(next)), fmt.Sprintf("knows versions up to %d", len(base)), Redact(path)} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	body := &fstest.MapFile{Data: []byte("SELECT 1;")}
	got, err := loadMigrations(fstest.MapFS{
		"m/0002_second.sql": body,
		"m/0001_first.sql":  body,
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []migration{{1, "first", "SELECT 1;"}, {2, "second", "SELECT 1;"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("loadMigrations (-want +got):\n%s", d)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": body, "m/0003_c.sql": body},
		"bad name": {"m/1_a.sql": body},
		"not one":  {"m/0002_b.sql": body},
	} {
		if _, err := loadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

func TestExperimentRoundTrip(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		t0 := c.now()
		e := Experiment{Name: "heads", File: "runs/heads.yaml", ConfigYAML: "name: heads\n", DatasetFingerprint: "sha256:abc"}
		id, err := s.PutExperiment(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutExperiment(ctx, Experiment{Name: "another"}); err != nil {
			t.Fatal(err)
		}

		t1 := c.advance(time.Minute + time.Nanosecond)
		e.ConfigYAML = "name: heads\nseeds: 3\n"
		e.DatasetFingerprint = "sha256:def"
		id2, err := s.PutExperiment(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if id2 != id {
			t.Errorf("update changed id %d -> %d", id, id2)
		}
		got, err := s.Experiment(ctx, "heads")
		if err != nil {
			t.Fatal(err)
		}
		want := e
		want.ID, want.CreatedAt, want.UpdatedAt = id, t0, t1
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Experiment (-want +got):\n%s", d)
		}

		all, err := s.Experiments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range all {
			names = append(names, e.Name)
		}
		if d := cmp.Diff([]string{"another", "heads"}, names); d != "" {
			t.Errorf("Experiments (-want +got):\n%s", d)
		}

		if _, err := s.Experiment(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing experiment: err = %v, want ErrNotFound", err)
		}
		if _, err := s.PutExperiment(ctx, Experiment{}); err == nil {
			t.Error("nameless experiment accepted")
		}
	})
}

func TestTimestampsSortAsText(t *testing.T) {
	a := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := a.Add(100 * time.Millisecond)
	if !(ts(a) < ts(b)) {
		t.Errorf("%s !< %s", ts(a), ts(b))
	}
	// Zones are normalized to UTC.
	if got, want := ts(b.In(time.FixedZone("x", 3600))), "2025-01-01T00:00:00.100000000Z"; got != want {
		t.Errorf("ts = %s, want %s", got, want)
	}
}
