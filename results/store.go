// Package results keeps experiments, trials and their outcomes in a SQLite
// database. It is the only package of dogrun that speaks SQL.
//
// Several dogrun processes may share one database file: the database runs
// in WAL mode, waits up to busyTimeout for locks, and every write
// transaction starts with BEGIN IMMEDIATE so that a transaction never has
// to upgrade a read lock (the case where SQLite gives up at once with
// "database is locked" instead of waiting).
package results

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// busyTimeout is how long a statement waits for another writer.
const busyTimeout = 10 * time.Second

var (
	// ErrNotFound is returned (wrapped) when a looked-up row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotOwned is returned (wrapped) when a worker acts on a trial that is
	// not running under it (any more).
	ErrNotOwned = errors.New("trial is not running under this worker")
	// ErrSchemaTooNew is returned (wrapped) by Open for a database written by
	// a newer dogrun.
	ErrSchemaTooNew = errors.New("database schema is newer than this dogrun")
)

// Store is a results database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time // replaced in tests
}

// Open opens (creating it and its parent directory if needed) the database
// at path and brings its schema up to date.
func Open(path string) (*Store, error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	return openWith(path, migs)
}

func openWith(path string, migs []migration) (*Store, error) {
	if path == "" {
		return nil, errors.New("results: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	db, err := sql.Open("sqlite3", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("results: open %s: %w", abs, err)
	}
	// SQLite allows one writer at a time anyway; a few connections let
	// reads proceed next to a write without piling up file handles.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)

	s := &Store{db: db, path: abs, now: time.Now}
	ctx, cancel := context.WithTimeout(context.Background(), 2*busyTimeout)
	defer cancel()
	if err := s.migrateRetrying(ctx, migs); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// dsn builds a file: URI so that any path (spaces, '?', '#') survives, with
// the connection settings every pooled connection must share.
func dsn(abs string) string {
	u := url.URL{Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL") // safe with WAL: only the last commits can be lost on power failure
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	return "file:" + u.EscapedPath() + "?" + q.Encode()
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// tx runs fn in a write transaction (BEGIN IMMEDIATE via the DSN) and
// commits it if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("results: begin: %w", err)
	}
	if err := fn(tx); err != nil {
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
// turns a bound NaN into NULL).
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

// jsonStrings encodes a string list for json_each; one placeholder per item
// would hit SQLite's variable limit on big sweeps.
func jsonStrings(xs []string) string {
	b, _ := json.Marshal(xs) // a []string always marshals
	return string(b)
}
