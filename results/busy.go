package results

import (
	"context"
	"errors"
	"time"

	"github.com/mattn/go-sqlite3"
)

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
