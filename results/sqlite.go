package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// busyTimeout is how long a statement waits for another writer.
const busyTimeout = 10 * time.Second

// createSQLite connects read-write to the file at path, creating its folder.
func createSQLite(path string) (*Store, error) {
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return connectSQLite(abs, false)
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

func connectSQLite(abs string, readOnly bool) (*Store, error) {
	db, err := sql.Open("sqlite3", dsn(abs, readOnly))
	if err != nil {
		return nil, fmt.Errorf("results: open %s: %w", abs, err)
	}
	// SQLite allows one writer at a time anyway; a few connections let
	// reads proceed next to a write without piling up file handles.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return newStore(db, sqliteDialect, abs), nil
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

// migrateRetrying is migrate, tried again while SQLite answers SQLITE_BUSY.
// When several processes start on a database file that does not exist yet,
// one of them creates it and switches it to WAL, and in that window BEGIN
// IMMEDIATE can fail at once without waiting out the busy timeout
// (TestConcurrentOpenOfNewFile caught it about once in 1,000 openings).
func (s *Store) migrateRetrying(ctx context.Context, migs []migration) error {
	for {
		err := s.migrate(ctx, migs)
		if err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}
