package results

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/pgtest"
)

// clock is a settable time source so tests control staleness and
// timestamps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// storeKinds are the stores every test of the Store API runs on.
var storeKinds = []string{"sqlite", "postgres"}

// newTarget is a new, empty database of kind: a file in a not-yet-existing
// folder, or a database on the test PostgreSQL server.
func newTarget(t *testing.T, kind string) string {
	t.Helper()
	if kind == "postgres" {
		return pgtest.Database(t)
	}
	return filepath.Join(t.TempDir(), "nested", "dir", "results.db")
}

// openKind opens a fresh store of kind with a controlled clock.
func openKind(t *testing.T, kind string) (*Store, *clock) {
	t.Helper()
	s, err := Open(newTarget(t, kind))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := newClock()
	s.now = c.now
	return s, c
}

// openTest opens a fresh SQLite store, for tests of what only SQLite has.
func openTest(t *testing.T) (*Store, *clock) {
	t.Helper()
	return openKind(t, "sqlite")
}

// onBoth runs f on a fresh store of each kind, as subtests named by kind.
func onBoth(t *testing.T, f func(t *testing.T, s *Store, c *clock)) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			s, c := openKind(t, kind)
			f(t, s, c)
		})
	}
}

// experimentWithTrials creates an experiment with n trials whose Index is
// their position and whose hash is "h<index>".
func experimentWithTrials(t *testing.T, s *Store, n int) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := s.PutExperiment(ctx, Experiment{Name: "exp", File: "exp.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterTrials(ctx, id, makeTrials(n)); err != nil {
		t.Fatal(err)
	}
	return id
}

func makeTrials(n int) []Trial {
	var ts []Trial
	for i := range n {
		ts = append(ts, Trial{
			Hash:        fmt.Sprintf("h%d", i),
			Index:       i,
			Seed:        int64(100 + i),
			VariantKey:  fmt.Sprintf("lr=%d", i),
			VariantJSON: fmt.Sprintf(`{"lr":%d}`, i),
			ConfigJSON:  fmt.Sprintf(`{"head":"linear","lr":%d}`, i),
		})
	}
	return ts
}

// countRows counts a table's rows of one trial (via the trial_id column, or
// through predictions for prediction_scores).
func countRows(t *testing.T, s *Store, table string, trialID int64) int {
	t.Helper()
	q := `SELECT count(*) FROM ` + table + ` WHERE trial_id = ?`
	if table == "prediction_scores" {
		q = `SELECT count(*) FROM prediction_scores s JOIN predictions p ON p.id = s.prediction_id WHERE p.trial_id = ?`
	}
	var n int
	if err := s.db.QueryRowContext(context.Background(), q, trialID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var childTables = []string{"epochs", "test_metrics", "class_metrics", "confusion", "predictions", "prediction_scores"}
