package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dogrun/dogrun/metrics"
)

// Epoch is the training record of one epoch.
type Epoch struct {
	Epoch         int
	TrainLoss     float64
	TrainAccuracy float64
	ValLoss       float64
	ValAccuracy   float64
	Seconds       float64
}

// ClassScore is a class with the score the model gave it.
type ClassScore struct {
	Class int
	Score float64
}

// Prediction is the model's answer for one test photo.
type Prediction struct {
	Photo       string
	PhotoSHA256 string
	True        int
	Pred        int
	TopK        []ClassScore // best first, up to 5
}

// Outcome is everything a finished trial produced.
type Outcome struct {
	Epochs         []Epoch
	BestEpoch      int
	StoppedEpoch   int
	CheckpointPath string
	Classes        []string // class index -> name (dog id)
	Report         metrics.Report
	Predictions    []Prediction

	DurationSeconds float64
	GoVersion       string
	GitCommit       string
	GitDirty        bool
	BackboneSHA256  string

	// OpenSet is set when the trial held dogs out of training (migration 0004).
	OpenSet *OpenSet

	// Pruned is a trial a search's pruner stopped: only its epochs, times
	// and build are stored, no test results (migration 0007).
	Pruned        bool
	FitCPUSeconds float64 // the head's fit on its thread; 0 when not measured
}

// maxTopK bounds the stored scores per prediction.
const maxTopK = 5

func (o *Outcome) check() error {
	if o.Pruned && (len(o.Classes) > 0 || len(o.Predictions) > 0 || o.OpenSet != nil) {
		return errors.New("a pruned trial has no test results")
	}
	k := len(o.Classes)
	if len(o.Report.PerClass) != k {
		return fmt.Errorf("%d class names but %d per-class scores", k, len(o.Report.PerClass))
	}
	for i, c := range o.Report.PerClass {
		if c.Class != i {
			return fmt.Errorf("per-class score %d is for class %d", i, c.Class)
		}
	}
	if len(o.Report.Confusion) != 0 && len(o.Report.Confusion) != k {
		return fmt.Errorf("confusion matrix has %d rows for %d classes", len(o.Report.Confusion), k)
	}
	for i, row := range o.Report.Confusion {
		if len(row) != k {
			return fmt.Errorf("confusion row %d has %d cells for %d classes", i, len(row), k)
		}
	}
	if o.OpenSet != nil && len(o.OpenSet.Centroids.Vectors) != k {
		return fmt.Errorf("%d open-set centroids for %d classes", len(o.OpenSet.Centroids.Vectors), k)
	}
	for _, p := range o.Predictions {
		if p.True < 0 || p.True >= k || p.Pred < 0 || p.Pred >= k {
			return fmt.Errorf("prediction for %s has class outside [0,%d)", p.Photo, k)
		}
		if len(p.TopK) > maxTopK {
			return fmt.Errorf("prediction for %s has %d scores, at most %d are stored", p.Photo, len(p.TopK), maxTopK)
		}
	}
	return nil
}

// Finish stores the outcome of a trial running under worker and marks it
// done (or pruned), all in one transaction: readers see either nothing or
// everything.
// It fails with ErrNotOwned, storing nothing, when the trial is not running
// under worker.
func (s *Store) Finish(ctx context.Context, trialID int64, worker string, o Outcome) error {
	if err := o.check(); err != nil {
		return fmt.Errorf("results: finish trial %d: %w", trialID, err)
	}
	err := s.tx(ctx, func(tx conn) error {
		var status, owner string
		err := tx.QueryRowContext(ctx, `SELECT status, worker FROM trials WHERE id = ?`+s.d.lockRows, trialID).Scan(&status, &owner)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status != string(StatusRunning) || owner != worker {
			return fmt.Errorf("%w (it is %s under %q)", ErrNotOwned, status, owner)
		}
		// Done trials are never claimed, so these rows can only be leftovers
		// of manual surgery; clearing them keeps "one finish, one result".
		for _, t := range []string{"epochs", "test_metrics", "class_metrics", "confusion", "predictions", "open_set_counts", "open_set"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE trial_id = ?`, trialID); err != nil {
				return err
			}
		}
		insert := insertOutcome
		if o.Pruned {
			insert = insertEpochs
		}
		if err := insert(ctx, tx, trialID, &o); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE trials SET status = 'done', error = '', finished_at = ?,
				checkpoint_path = ?, best_epoch = ?, stopped_epoch = ?, duration_seconds = ?,
				go_version = ?, git_commit = ?, git_dirty = ?, backbone_sha256 = ?,
				pruned = ?, fit_cpu_seconds = ?
			WHERE id = ?`,
			ts(s.now()), o.CheckpointPath, o.BestEpoch, o.StoppedEpoch, o.DurationSeconds,
			o.GoVersion, o.GitCommit, o.GitDirty, o.BackboneSHA256, o.Pruned, o.FitCPUSeconds, trialID)
		if err != nil {
			return err
		}
		return s.endAttempt(ctx, tx, trialID, worker, "done")
	})
	if err != nil {
		return fmt.Errorf("results: finish trial %d by %s: %w", trialID, worker, err)
	}
	return nil
}

func insertOutcome(ctx context.Context, tx conn, trialID int64, o *Outcome) error {
	if err := insertEpochs(ctx, tx, trialID, o); err != nil {
		return err
	}
	r := &o.Report
	if _, err := tx.ExecContext(ctx, `INSERT INTO test_metrics
		(trial_id, n, accuracy, top5, log_loss, macro_precision, macro_recall, macro_f1,
		 weighted_precision, weighted_recall, weighted_f1)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		trialID, r.N, r.Accuracy, r.Top5, r.LogLoss, r.Macro.Precision, r.Macro.Recall, r.Macro.F1,
		r.Weighted.Precision, r.Weighted.Recall, r.Weighted.F1); err != nil {
		return fmt.Errorf("test metrics: %w", err)
	}

	cm, err := tx.PrepareContext(ctx, `INSERT INTO class_metrics
		(trial_id, class, name, precision, recall, f1, support) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer cm.Close()
	for i, c := range r.PerClass {
		// o.Classes is the authority on names; the report may carry none.
		if _, err := cm.ExecContext(ctx, trialID, i, o.Classes[i], c.Precision, c.Recall, c.F1, c.Support); err != nil {
			return fmt.Errorf("class %d: %w", i, err)
		}
	}

	cf, err := tx.PrepareContext(ctx, `INSERT INTO confusion
		(trial_id, true_class, pred_class, count) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer cf.Close()
	for t, row := range r.Confusion {
		for p, n := range row {
			if n == 0 {
				continue
			}
			if _, err := cf.ExecContext(ctx, trialID, t, p, n); err != nil {
				return fmt.Errorf("confusion [%d][%d]: %w", t, p, err)
			}
		}
	}

	pr, err := tx.PrepareContext(ctx, `INSERT INTO predictions
		(trial_id, photo, photo_sha256, true_class, pred_class) VALUES (?, ?, ?, ?, ?) RETURNING id`)
	if err != nil {
		return err
	}
	defer pr.Close()
	sc, err := tx.PrepareContext(ctx, `INSERT INTO prediction_scores
		(prediction_id, rank, class, score) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer sc.Close()
	for _, p := range o.Predictions {
		var pid int64
		if err := pr.QueryRowContext(ctx, trialID, p.Photo, p.PhotoSHA256, p.True, p.Pred).Scan(&pid); err != nil {
			return fmt.Errorf("prediction %s: %w", p.Photo, err)
		}
		for rank, cs := range p.TopK {
			if _, err := sc.ExecContext(ctx, pid, rank, cs.Class, cs.Score); err != nil {
				return fmt.Errorf("prediction %s score %d: %w", p.Photo, rank, err)
			}
		}
	}
	if o.OpenSet != nil {
		return insertOpenSet(ctx, tx, trialID, o.OpenSet)
	}
	return nil
}

// insertEpochs stores the trial's epochs.
func insertEpochs(ctx context.Context, tx conn, trialID int64, o *Outcome) error {
	ep, err := tx.PrepareContext(ctx, `INSERT INTO epochs
		(trial_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy, seconds)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ep.Close()
	for _, e := range o.Epochs {
		if _, err := ep.ExecContext(ctx, trialID, e.Epoch, e.TrainLoss, e.TrainAccuracy,
			e.ValLoss, e.ValAccuracy, e.Seconds); err != nil {
			return fmt.Errorf("epoch %d: %w", e.Epoch, err)
		}
	}
	return nil
}

// TrialMetrics are the scalar test metrics of a done trial.
type TrialMetrics struct {
	TrialID    int64
	Accuracy   float64
	Top5       float64
	LogLoss    float64
	MacroF1    float64
	WeightedF1 float64
	N          int
}

// TestMetrics returns the test metrics of the experiment's done trials,
// keyed by trial id.
func (s *Store) TestMetrics(ctx context.Context, experimentID int64) (map[int64]TrialMetrics, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT m.trial_id, m.accuracy, m.top5, m.log_loss, m.macro_f1, m.weighted_f1, m.n
		FROM test_metrics m JOIN trials t ON t.id = m.trial_id
		WHERE t.experiment_id = ? AND t.status = 'done'`, experimentID)
	if err != nil {
		return nil, fmt.Errorf("results: test metrics: %w", err)
	}
	defer rows.Close()
	out := map[int64]TrialMetrics{}
	for rows.Next() {
		var m TrialMetrics
		if err := rows.Scan(&m.TrialID, floatScanner{&m.Accuracy}, floatScanner{&m.Top5}, floatScanner{&m.LogLoss},
			floatScanner{&m.MacroF1}, floatScanner{&m.WeightedF1}, &m.N); err != nil {
			return nil, fmt.Errorf("results: test metrics: %w", err)
		}
		out[m.TrialID] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: test metrics: %w", err)
	}
	return out, nil
}

// Epochs returns the trial's epochs in order.
func (s *Store) Epochs(ctx context.Context, trialID int64) ([]Epoch, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, seconds
		FROM epochs WHERE trial_id = ? ORDER BY epoch`, trialID)
	if err != nil {
		return nil, fmt.Errorf("results: epochs: %w", err)
	}
	defer rows.Close()
	var out []Epoch
	for rows.Next() {
		var e Epoch
		if err := rows.Scan(&e.Epoch, floatScanner{&e.TrainLoss}, floatScanner{&e.TrainAccuracy},
			floatScanner{&e.ValLoss}, floatScanner{&e.ValAccuracy}, floatScanner{&e.Seconds}); err != nil {
			return nil, fmt.Errorf("results: epochs: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: epochs: %w", err)
	}
	return out, nil
}

// TrialReport rebuilds a done trial's test report (scalars, per-class
// scores, dense confusion matrix) and returns it with the class names. It
// wraps ErrNotFound when the trial has no stored results.
func (s *Store) TrialReport(ctx context.Context, trialID int64) (metrics.Report, []string, error) {
	fail := func(err error) (metrics.Report, []string, error) {
		return metrics.Report{}, nil, fmt.Errorf("results: report of trial %d: %w", trialID, err)
	}
	var r metrics.Report
	err := s.db.QueryRowContext(ctx, `
		SELECT n, accuracy, top5, log_loss, macro_precision, macro_recall, macro_f1,
			weighted_precision, weighted_recall, weighted_f1
		FROM test_metrics WHERE trial_id = ?`, trialID).Scan(
		&r.N, floatScanner{&r.Accuracy}, floatScanner{&r.Top5}, floatScanner{&r.LogLoss},
		floatScanner{&r.Macro.Precision}, floatScanner{&r.Macro.Recall}, floatScanner{&r.Macro.F1},
		floatScanner{&r.Weighted.Precision}, floatScanner{&r.Weighted.Recall}, floatScanner{&r.Weighted.F1})
	if errors.Is(err, sql.ErrNoRows) {
		return fail(ErrNotFound)
	}
	if err != nil {
		return fail(err)
	}

	rows, err := s.db.QueryContext(ctx, `
		SELECT class, name, precision, recall, f1, support
		FROM class_metrics WHERE trial_id = ? ORDER BY class`, trialID)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var c metrics.ClassScore
		if err := rows.Scan(&c.Class, &c.Name, floatScanner{&c.Precision}, floatScanner{&c.Recall},
			floatScanner{&c.F1}, &c.Support); err != nil {
			return fail(err)
		}
		if c.Class != len(names) {
			return fail(fmt.Errorf("class %d missing", len(names)))
		}
		r.PerClass = append(r.PerClass, c)
		names = append(names, c.Name)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}

	k := len(names)
	r.Confusion = make([][]int, k)
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, k)
	}
	crows, err := s.db.QueryContext(ctx, `
		SELECT true_class, pred_class, count FROM confusion WHERE trial_id = ?`, trialID)
	if err != nil {
		return fail(err)
	}
	defer crows.Close()
	for crows.Next() {
		var t, p, n int
		if err := crows.Scan(&t, &p, &n); err != nil {
			return fail(err)
		}
		if t < 0 || t >= k || p < 0 || p >= k {
			return fail(fmt.Errorf("confusion cell [%d][%d] outside %d classes", t, p, k))
		}
		r.Confusion[t][p] = n
	}
	if err := crows.Err(); err != nil {
		return fail(err)
	}
	return r, names, nil
}

// Predictions returns the trial's test predictions in the order they were
// stored, each with its top-k scores best first.
func (s *Store) Predictions(ctx context.Context, trialID int64) ([]Prediction, error) {
	fail := func(err error) ([]Prediction, error) {
		return nil, fmt.Errorf("results: predictions of trial %d: %w", trialID, err)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, photo, photo_sha256, true_class, pred_class
		FROM predictions WHERE trial_id = ? ORDER BY id`, trialID)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var out []Prediction
	pos := map[int64]int{}
	for rows.Next() {
		var id int64
		var p Prediction
		if err := rows.Scan(&id, &p.Photo, &p.PhotoSHA256, &p.True, &p.Pred); err != nil {
			return fail(err)
		}
		pos[id] = len(out)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}

	srows, err := s.db.QueryContext(ctx, `
		SELECT s.prediction_id, s.class, s.score
		FROM prediction_scores s JOIN predictions p ON p.id = s.prediction_id
		WHERE p.trial_id = ? ORDER BY s.prediction_id, s.rank`, trialID)
	if err != nil {
		return fail(err)
	}
	defer srows.Close()
	for srows.Next() {
		var id int64
		var cs ClassScore
		if err := srows.Scan(&id, &cs.Class, floatScanner{&cs.Score}); err != nil {
			return fail(err)
		}
		i, ok := pos[id]
		if !ok {
			continue // stored after our first query; not part of this read
		}
		out[i].TopK = append(out[i].TopK, cs)
	}
	if err := srows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}
