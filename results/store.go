// Package results keeps experiments, trials and their outcomes in a
// database: a SQLite file (the default, embedded) or a PostgreSQL server
// (for workers on several machines), chosen by the target Open is given. It
// is the only package of dogrun that speaks SQL.
//
// One Store serves both over database/sql: queries are written once with ?
// placeholders, and the few fragments the two do not share come from a
// dialect. Migrations are one set of files, run on both (migrate.go).
//
// Several dogrun processes may share one SQLite file: the database runs in
// WAL mode, waits up to busyTimeout for locks, and every write transaction
// starts with BEGIN IMMEDIATE so that a transaction never has to upgrade a
// read lock (the case where SQLite gives up at once with "database is
// locked" instead of waiting). On PostgreSQL, transactions lock the rows
// they change, and claims pass over rows other workers hold (SKIP LOCKED).
package results

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

var (
	// ErrNotFound is returned (wrapped) when a looked-up row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotOwned is returned (wrapped) when a worker acts on a trial that is
	// not running under it (any more).
	ErrNotOwned = errors.New("trial is not running under this worker")
	// ErrSchemaTooNew is returned (wrapped) by Open for a database written by
	// a newer dogrun.
	ErrSchemaTooNew = errors.New("database schema is newer than this dogrun")
	// ErrSchemaOld is returned (wrapped) by OpenReadOnly for a database that
	// Open would upgrade first: reading never writes, so it cannot.
	ErrSchemaOld = errors.New("database schema is older than this dogrun")
	// ErrNoDatabase is returned (wrapped) by OpenReadOnly when there is no
	// database file at the path, or no dogrun tables in the PostgreSQL
	// database.
	ErrNoDatabase = errors.New("no results database")
)

// Store is a results database. It is safe for concurrent use.
type Store struct {
	pool  *sql.DB
	db    conn
	d     *dialect
	where string           // the file's absolute path, or the URL without its password
	now   func() time.Time // replaced in tests
}

// Open opens the results database at target, a SQLite file path or a
// postgres:// URL, creating it (and a file's parent folder) if needed, and
// brings its schema up to date.
func Open(target string) (*Store, error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	return openWith(target, migs)
}

func openWith(target string, migs []migration) (*Store, error) {
	var s *Store
	var err error
	if IsURL(target) {
		s, err = connectPostgres(target, false)
	} else {
		s, err = createSQLite(target)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*busyTimeout)
	defer cancel()
	if err := s.migrateRetrying(ctx, migs); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenReadOnly opens the existing database at target for reading. It
// creates nothing and changes nothing: a missing file, or a PostgreSQL
// database without dogrun's tables, is ErrNoDatabase, and a schema that
// Open would upgrade is ErrSchemaOld.
func OpenReadOnly(target string) (*Store, error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	return openReadOnlyWith(target, migs)
}

func openReadOnlyWith(target string, migs []migration) (*Store, error) {
	s, err := openExisting(target)
	if err != nil {
		return nil, err
	}
	cur, err := s.dogrunVersion(context.Background())
	switch {
	case err != nil:
	case cur < len(migs):
		err = fmt.Errorf("%w: %s has schema version %d, this dogrun reads version %d", ErrSchemaOld, s.where, cur, len(migs))
	case cur > len(migs):
		err = schemaTooNew(s.where, cur, len(migs))
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openExisting connects read-only to a database that must exist.
func openExisting(target string) (*Store, error) {
	if IsURL(target) {
		return connectPostgres(target, true)
	}
	abs, err := existingFile(target)
	if err != nil {
		return nil, err
	}
	return connectSQLite(abs, true)
}

func newStore(pool *sql.DB, d *dialect, where string) *Store {
	return &Store{pool: pool, db: conn{pool, d}, d: d, where: where, now: time.Now}
}

// SetClock makes the store read the time from now instead of the system
// clock, so that a test can age heartbeats without waiting.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Close closes the database.
func (s *Store) Close() error { return s.pool.Close() }

// Path says where the database is: the file's absolute path, or the
// PostgreSQL URL without its password.
func (s *Store) Path() string { return s.where }

// tx runs fn in a write transaction (on SQLite BEGIN IMMEDIATE, via the
// DSN) and commits it if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(conn) error) error {
	tx, err := s.pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("results: begin: %w", err)
	}
	if err := fn(conn{tx, s.d}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("results: commit: %w", err)
	}
	return nil
}

// tsLayout is RFC 3339 with a fixed nine-digit fraction: unlike
// time.RFC3339Nano it never trims zeros, so stored strings sort in time
// order and can be compared in SQL.
const tsLayout = "2006-01-02T15:04:05.000000000Z07:00"

func ts(t time.Time) string { return t.UTC().Format(tsLayout) }

func parseTS(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("results: bad timestamp %q: %w", s, err)
	}
	return t.UTC(), nil
}

// timeScanner scans TEXT timestamps into a time.Time.
type timeScanner struct{ p *time.Time }

func (t timeScanner) Scan(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("results: timestamp has type %T", v)
	}
	var err error
	*t.p, err = parseTS(s)
	return err
}

// nullTimeScanner scans nullable TEXT timestamps; NULL gives a nil pointer.
type nullTimeScanner struct{ p **time.Time }

func (t nullTimeScanner) Scan(v any) error {
	if v == nil {
		*t.p = nil
		return nil
	}
	var tt time.Time
	if err := (timeScanner{&tt}).Scan(v); err != nil {
		return err
	}
	*t.p = &tt
	return nil
}

// floatScanner reads a REAL column in which NULL stands for NaN (SQLite
// turns a bound NaN into NULL; PostgreSQL keeps NaN).
type floatScanner struct{ p *float64 }

func (f floatScanner) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*f.p = math.NaN()
	case float64:
		*f.p = x
	case int64:
		*f.p = float64(x)
	default:
		return fmt.Errorf("results: number has type %T", v)
	}
	return nil
}

// jsonStrings encodes a string list for dialect.jsonList.
func jsonStrings(xs []string) string {
	b, _ := json.Marshal(xs) // a []string always marshals
	return string(b)
}
