package results

import (
	"context"
	"sync"
	"testing"
)

// Several processes starting at once on a database that does not exist yet
// (or, on PostgreSQL, is empty) all open it: one creates and migrates it,
// the others wait for the lock (busy timeout, advisory lock) and find it
// done, and none sees "database is locked" or a table created twice.
func TestConcurrentOpenOfNewFile(t *testing.T) {
	for kind, rounds := range map[string]int{"sqlite": 40, "postgres": 5} {
		t.Run(kind, func(t *testing.T) { concurrentOpens(t, kind, rounds) })
	}
}

func concurrentOpens(t *testing.T, kind string, rounds int) {
	for round := range rounds {
		path := newTarget(t, kind)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				s, err := Open(path)
				if err == nil {
					_, err = s.PutExperiment(context.Background(), Experiment{Name: "same"})
					s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d opener %d: %v", round, i, err)
			}
		}
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var migrations int
		version, err := s.schemaVersion(ctx, s.db)
		if err == nil {
			err = s.db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&migrations)
		}
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		migs, _ := embeddedMigrations()
		if version != len(migs) || migrations != len(migs) {
			t.Errorf("round %d: version %d with %d migrations recorded, want %d", round, version, migrations, len(migs))
		}
	}
}
