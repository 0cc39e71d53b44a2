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
	// ErrSchemaOld is returned (wrapped) by OpenReadOnly for a database that
	// Open would upgrade first: reading never writes, so it cannot.
	ErrSchemaOld = errors.New("database schema is older than this dogrun")
	// ErrNoDatabase is returned (wrapped) by OpenReadOnly when there is no
	// database file at the path.
	ErrNoDatabase = errors.New("no results database")
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
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	s, err := connect(abs, false)
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

// OpenReadOnly opens the existing database at path for reading. It creates
// nothing and changes nothing: a missing file is ErrNoDatabase, and a schema
// that Open would upgrade is ErrSchemaOld.
func OpenReadOnly(path string) (*Store, error) {
	migs, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	return openReadOnlyWith(path, migs)
}

func openReadOnlyWith(path string, migs []migration) (*Store, error) {
	abs, err := existingFile(path)
	if err != nil {
		return nil, err
	}
	s, err := connect(abs, true)
	if err != nil {
		return nil, err
	}
	cur, err := s.dogrunVersion(context.Background())
	switch {
	case err != nil:
	case cur < len(migs):
		err = fmt.Errorf("%w: %s has schema version %d, this dogrun reads version %d", ErrSchemaOld, abs, cur, len(migs))
	case cur > len(migs):
		err = schemaTooNew(abs, cur, len(migs))
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// existingFile is path made absolute, when a file is there.
func existingFile(path string) (string, error) {
	abs, err := absPath(path)
	if err != nil {
		return "", err
	}
	switch st, err := os.Stat(abs); {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%w at %s", ErrNoDatabase, abs)
	case err != nil:
		return "", fmt.Errorf("results: %w", err)
	case st.IsDir():
		return "", fmt.Errorf("results: %s is a folder, not a database file", abs)
	}
	return abs, nil
}

func absPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("results: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("results: %w", err)
	}
	return abs, nil
}

func connect(abs string, readOnly bool) (*Store, error) {
	db, err := sql.Open("sqlite3", dsn(abs, readOnly))
	if err != nil {
		return nil, fmt.Errorf("results: open %s: %w", abs, err)
	}
	// SQLite allows one writer at a time anyway; a few connections let
	// reads proceed next to a write without piling up file handles.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{db: db, path: abs, now: time.Now}, nil
}

// dsn builds a file: URI so that any path (spaces, '?', '#') survives, with
// the connection settings every pooled connection must share. A read-only
// connection leaves the journal mode as the writer set it.
func dsn(abs string, readOnly bool) string {
	u := url.URL{Path: filepath.ToSlash(abs)}
	q := url.Values{}
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL") // safe with WAL: only the last commits can be lost on power failure
		q.Set("_txlock", "immediate")
	}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "on")
	return "file:" + u.EscapedPath() + "?" + q.Encode()
}

// SetClock makes the store read the time from now instead of the system
// clock, so that a test can age heartbeats without waiting.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

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
