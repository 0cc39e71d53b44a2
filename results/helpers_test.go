package results

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
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

// openTest opens a fresh store in a not-yet-existing directory with a
// controlled clock.
func openTest(t *testing.T) (*Store, *clock) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "nested", "dir", "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := newClock()
	s.now = c.now
	return s, c
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
	if err := s.db.QueryRow(q, trialID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var childTables = []string{"epochs", "test_metrics", "class_metrics", "confusion", "predictions", "prediction_scores"}
