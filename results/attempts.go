package results

import (
	"context"
	"fmt"
	"time"
)

// Attempt is one claim of a trial and how it ended (migration 0005).
type Attempt struct {
	Number    int // 1, 2, ... in claim order
	Worker    string
	ClaimedAt time.Time
	EndedAt   *time.Time // nil while it runs
	Outcome   string     // running, done, failed, released, taken over or lost
}

// Attempts lists the attempts of the experiment's trials, current or
// superseded, by trial id, each trial's in claim order.
func (s *Store) Attempts(ctx context.Context, experimentID int64) (map[int64][]Attempt, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT a.trial_id, a.attempt, a.worker, a.claimed_at, a.ended_at, a.outcome
		FROM trial_attempts a JOIN trials t ON t.id = a.trial_id
		WHERE t.experiment_id = ? ORDER BY a.trial_id, a.attempt`, experimentID)
	if err != nil {
		return nil, fmt.Errorf("results: attempts: %w", err)
	}
	defer rows.Close()
	out := map[int64][]Attempt{}
	for rows.Next() {
		var id int64
		var a Attempt
		if err := rows.Scan(&id, &a.Number, &a.Worker, timeScanner{&a.ClaimedAt}, nullTimeScanner{&a.EndedAt}, &a.Outcome); err != nil {
			return nil, fmt.Errorf("results: attempts: %w", err)
		}
		out[id] = append(out[id], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: attempts: %w", err)
	}
	return out, nil
}
