package results

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

func embeddedMigrations() ([]migration, error) {
	return loadMigrations(migrationFiles, "migrations")
}

// loadMigrations reads NNNN_name.sql files; versions must run 1, 2, 3, ...
// with no gap so that a database's version says exactly what it contains.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("results: migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("results: migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("results: migrations: %w", err)
		}
		migs = append(migs, migration{Version: v, Name: m[2], SQL: string(body)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].Version < migs[j].Version })
	for i, m := range migs {
		if m.Version != i+1 {
			return nil, fmt.Errorf("results: migration %04d_%s: expected version %d", m.Version, m.Name, i+1)
		}
	}
	return migs, nil
}

func schemaTooNew(path string, version, known int) error {
	return fmt.Errorf("%w: %s has schema version %d but this dogrun knows versions up to %d; "+
		"use a newer dogrun or another database file", ErrSchemaTooNew, path, version, known)
}

// migrate applies the migrations the database lacks, all in one immediate
// transaction, so concurrent openers of a fresh file serialize and the
// second one finds nothing left to do. PRAGMA user_version is the
// authoritative version (readable without any table); schema_migrations
// keeps the history for people.
func (s *Store) migrate(ctx context.Context, migs []migration) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
			return fmt.Errorf("results: read schema version: %w", err)
		}
		if cur > len(migs) {
			return schemaTooNew(s.path, cur, len(migs))
		}
		if cur == len(migs) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL
		) STRICT`); err != nil {
			return fmt.Errorf("results: create schema_migrations: %w", err)
		}
		now := ts(s.now())
		for _, m := range migs[cur:] {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("results: migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, now); err != nil {
				return fmt.Errorf("results: record migration %d: %w", m.Version, err)
			}
		}
		// PRAGMA takes no placeholders; the value is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migs))); err != nil {
			return fmt.Errorf("results: set schema version: %w", err)
		}
		return nil
	})
}

// Upgrade brings the existing database at path to this dogrun's schema and
// returns its version before and after. Unlike Open it creates nothing.
func Upgrade(path string) (from, to int, err error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return 0, 0, err
	}
	abs, err := existingFile(path)
	if err != nil {
		return 0, 0, err
	}
	// Read the version without writing: a read-write connection would turn
	// any file it is given into a database.
	ro, err := connect(abs, true)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*busyTimeout)
	defer cancel()
	from, err = ro.dogrunVersion(ctx)
	ro.Close()
	switch {
	case err != nil:
		return 0, 0, err
	case from > len(migs):
		return 0, 0, schemaTooNew(abs, from, len(migs))
	case from == len(migs):
		return from, from, nil
	}
	s, err := connect(abs, false)
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	if err := s.migrateRetrying(ctx, migs); err != nil {
		return 0, 0, err
	}
	return from, len(migs), nil
}

// dogrunVersion is the database's schema version; 0, which Open would take
// for a new file, is an error here: the file holds something else.
func (s *Store) dogrunVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("results: %s: %w", s.path, err)
	}
	if v == 0 {
		return 0, fmt.Errorf("results: %s is not a dogrun results database (it has no dogrun tables)", s.path)
	}
	return v, nil
}
