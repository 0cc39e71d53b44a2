package results

import (
	"context"
	"fmt"
	"time"
)

// Phases of a running trial, as its Progress names them.
const (
	PhaseFeatures   = "features"   // extracting or reading its features (and training an adapter)
	PhaseTraining   = "training"   // training its head, epoch by epoch
	PhaseEvaluating = "evaluating" // scoring the test photos and storing the outcome
)

// Progress is what a running trial last said it was doing (migration 0007).
// It is for people watching a sweep; nothing in a sweep reads it.
type Progress struct {
	Phase        string
	Epoch        int     // epochs done; 0 before training
	Epochs       int     // the most the trial may train; early stopping may end it sooner
	EpochSeconds float64 // the last epoch's time; NaN before the first
	ValAccuracy  float64 // the last epoch's; NaN before the first
	UpdatedAt    time.Time
}

// SetProgress records what the trial, claimed by worker at started, is
// doing now, replacing what it said before. The attempt (worker and start)
// is kept with it, so that a later attempt of the trial never shows an
// earlier one's progress. UpdatedAt is set from the store's clock.
func (s *Store) SetProgress(ctx context.Context, trialID int64, worker string, started time.Time, p Progress) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO trial_progress (trial_id, worker, started_at, phase, epoch, epochs, epoch_seconds, val_accuracy, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (trial_id) DO UPDATE SET worker = excluded.worker, started_at = excluded.started_at,
			phase = excluded.phase, epoch = excluded.epoch, epochs = excluded.epochs,
			epoch_seconds = excluded.epoch_seconds, val_accuracy = excluded.val_accuracy, updated_at = excluded.updated_at`,
		trialID, worker, ts(started), p.Phase, p.Epoch, p.Epochs, p.EpochSeconds, p.ValAccuracy, ts(s.now()))
	if err != nil {
		return fmt.Errorf("results: progress of trial %d: %w", trialID, err)
	}
	return nil
}
