package results

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// Several processes starting at once on a database that does not exist yet
// all open it: one creates and migrates it, the others wait for the lock
// (busy timeout) and find it done, and none sees "database is locked".
func TestConcurrentOpenOfNewFile(t *testing.T) {
	for round := range 40 {
		path := filepath.Join(t.TempDir(), "new.db")
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
		var version, migrations int
		s.db.QueryRow("PRAGMA user_version").Scan(&version)
		s.db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&migrations)
		s.Close()
		migs, _ := embeddedMigrations()
		if version != len(migs) || migrations != len(migs) {
			t.Errorf("round %d: version %d with %d migrations recorded, want %d", round, version, migrations, len(migs))
		}
	}
}
