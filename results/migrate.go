package results

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

// Migrations are migrations/NNNN_name.sql, one set for both stores. Write a
// new one in SQLite's dialect, as the existing ones are: STRICT tables; the
// types INTEGER, REAL, TEXT and BLOB, in capitals; "id INTEGER PRIMARY KEY"
// for a key the database generates (and no other INTEGER PRIMARY KEY left
// out of an INSERT); booleans as INTEGER 0/1; timestamps as TEXT written by
// ts(); no function only one store has. dialect.ddl translates it for
// PostgreSQL; TestMigrationsMakeTheSameSchemaOnBothStores fails when the two
// schemas differ, and every Store test runs on both. A table of a new kind
// of row must also be known to Copy (copy.go).
//
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
		"use a newer dogrun or another database", ErrSchemaTooNew, path, version, known)
}

// schemaLock is the PostgreSQL advisory lock migrations hold, so that
// workers starting together on a new database migrate it one at a time.
const schemaLock = 0x646f6772756e // "dogrun"

// migrate applies the migrations the database lacks, all in one
// transaction, so concurrent openers of a new database serialize and the
// second one finds nothing left to do (SQLite: BEGIN IMMEDIATE; PostgreSQL:
// an advisory lock). On SQLite PRAGMA user_version is the authoritative
// version (readable without any table); on PostgreSQL the highest version in
// schema_migrations is, and the table keeps the history for people on both.
func (s *Store) migrate(ctx context.Context, migs []migration) error {
	return s.tx(ctx, func(tx conn) error {
		if s.d.postgres {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", schemaLock); err != nil {
				return fmt.Errorf("results: lock the schema: %w", err)
			}
		}
		cur, err := s.schemaVersion(ctx, tx)
		if err != nil {
			return fmt.Errorf("results: read schema version: %w", err)
		}
		if cur > len(migs) {
			return schemaTooNew(s.where, cur, len(migs))
		}
		if cur == len(migs) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.d.ddl(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL
		) STRICT;`)); err != nil {
			return fmt.Errorf("results: create schema_migrations: %w", err)
		}
		now := ts(s.now())
		for _, m := range migs[cur:] {
			if _, err := tx.ExecContext(ctx, s.d.ddl(m.SQL)); err != nil {
				return fmt.Errorf("results: migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, now); err != nil {
				return fmt.Errorf("results: record migration %d: %w", m.Version, err)
			}
		}
		if s.d.postgres {
			return nil
		}
		// PRAGMA takes no placeholders; the value is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migs))); err != nil {
			return fmt.Errorf("results: set schema version: %w", err)
		}
		return nil
	})
}

// schemaVersion is the number of migrations the database has; 0 for a new one.
func (s *Store) schemaVersion(ctx context.Context, q conn) (int, error) {
	var v int
	if !s.d.postgres {
		err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
		return v, err
	}
	var has bool
	if err := q.QueryRowContext(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&has); err != nil || !has {
		return 0, err
	}
	err := q.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

// Upgrade brings the existing database at target to this dogrun's schema
// and returns its version before and after. Unlike Open it creates nothing.
func Upgrade(target string) (from, to int, err error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return 0, 0, err
	}
	// Read the version without writing: a read-write connection would turn
	// any file it is given into a database.
	ro, err := openExisting(target)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*busyTimeout)
	defer cancel()
	from, err = ro.dogrunVersion(ctx)
	where := ro.where
	ro.Close()
	switch {
	case err != nil:
		return 0, 0, err
	case from > len(migs):
		return 0, 0, schemaTooNew(where, from, len(migs))
	case from == len(migs):
		return from, from, nil
	}
	var s *Store
	if IsURL(target) {
		s, err = connectPostgres(target, false)
	} else {
		s, err = connectSQLite(where, false)
	}
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
// for a new database, is an error here: a file holds something else, and a
// PostgreSQL database holds no results (yet).
func (s *Store) dogrunVersion(ctx context.Context) (int, error) {
	v, err := s.schemaVersion(ctx, s.db)
	switch {
	case err != nil:
		return 0, fmt.Errorf("results: %s: %w", s.where, err)
	case v == 0 && s.d.postgres:
		return 0, fmt.Errorf("%w at %s (it holds no dogrun tables)", ErrNoDatabase, s.where)
	case v == 0:
		return 0, fmt.Errorf("results: %s is not a dogrun results database (it has no dogrun tables)", s.where)
	}
	return v, nil
}
