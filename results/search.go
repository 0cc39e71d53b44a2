package results

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// A search's trials are made as they are claimed: each draw of a study (a
// search's definition and seed, named by a digest the runner computes) is
// stored with its index n, its point and the draws finished when it was
// claimed (its history), in the transaction that claims it. Two workers
// therefore never draw the same n, and every draw can be recomputed.

// SampleOutcome is a finished draw of a study as the samplers see it.
type SampleOutcome struct {
	N      int
	Point  []float64
	Pruned bool
	// Epoch counts for the sampler: the best epoch of a complete trial, the
	// last epoch of a pruned one; its validation scores.
	Epoch                int
	ValLoss, ValAccuracy float64
}

// SearchSample is one draw of a study as stored.
type SearchSample struct {
	Study   string
	N       int
	TrialID int64
	Point   []float64
	History []int // the draws finished when it was claimed
}

// Draw makes study's draw n from the finished draws, and the trial that
// runs it: only its identity fields are used, as RegisterTrials uses them.
type Draw func(n int, history []SampleOutcome) (Trial, []float64, error)

// DrawSample claims a new draw of study for worker, if the study has fewer
// than budget: in one transaction it counts the draws (n), reads the
// finished ones, calls draw, inserts the trial as running under worker and
// records the draw. It returns (nil, nil, nil) when the budget is spent.
func (s *Store) DrawSample(ctx context.Context, experimentID int64, study string, budget int, worker string, draw Draw) (*Trial, *SearchSample, error) {
	if worker == "" {
		return nil, nil, errors.New("results: draw sample: empty worker name")
	}
	var claimed *Trial
	var sample *SearchSample
	err := s.tx(ctx, func(tx conn) error {
		if err := s.lockExperiment(ctx, tx, experimentID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM search_samples WHERE experiment_id = ? AND study = ?`,
			experimentID, study).Scan(&n); err != nil {
			return err
		}
		if n >= budget {
			return nil
		}
		history, err := finishedSamples(ctx, tx, experimentID, study)
		if err != nil {
			return err
		}
		t, point, err := draw(n, history)
		if err != nil {
			return err
		}
		nowS := ts(s.now())
		row := tx.QueryRowContext(ctx, `
			INSERT INTO trials (experiment_id, hash, trial_index, seed, variant_key, variant_json, config_json, fold,
				status, worker, attempts, started_at, heartbeat_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, 1, ?, ?)
			RETURNING `+trialCols,
			experimentID, t.Hash, t.Index, t.Seed, t.VariantKey, t.VariantJSON, t.ConfigJSON, t.Fold, worker, nowS, nowS)
		stored, err := scanTrial(row)
		if err != nil {
			return fmt.Errorf("trial %s: %w", t.Hash, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO trial_attempts (trial_id, attempt, worker, claimed_at) VALUES (?, 1, ?, ?)`,
			stored.ID, worker, nowS); err != nil {
			return err
		}
		ns := make([]int, len(history))
		for i, h := range history {
			ns[i] = h.N
		}
		pointJS, err := json.Marshal(point)
		if err != nil {
			return fmt.Errorf("point %v: %w", point, err)
		}
		historyJS, _ := json.Marshal(ns) // a list of ints always encodes
		if _, err := tx.ExecContext(ctx, `INSERT INTO search_samples
			(experiment_id, study, sample, trial_id, point_json, history_json) VALUES (?, ?, ?, ?, ?, ?)`,
			experimentID, study, n, stored.ID, string(pointJS), string(historyJS)); err != nil {
			return err
		}
		claimed = &stored
		sample = &SearchSample{Study: study, N: n, TrialID: stored.ID, Point: point, History: ns}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("results: draw sample of study %s: %w", shortStudy(study), err)
	}
	return claimed, sample, nil
}

// StudySamples are the study's finished draws, as DrawSample gives them to
// the draw it makes next.
func (s *Store) StudySamples(ctx context.Context, experimentID int64, study string) ([]SampleOutcome, error) {
	out, err := finishedSamples(ctx, s.db, experimentID, study)
	if err != nil {
		return nil, fmt.Errorf("results: samples of study %s: %w", shortStudy(study), err)
	}
	return out, nil
}

// finishedSamples are the study's draws whose trials are done or pruned,
// by n, each with the scores of the epoch that counts.
func finishedSamples(ctx context.Context, q conn, experimentID int64, study string) ([]SampleOutcome, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT s.sample, s.point_json, t.pruned, e.epoch, e.val_loss, e.val_accuracy
		FROM search_samples s
		JOIN trials t ON t.id = s.trial_id
		LEFT JOIN epochs e ON e.trial_id = t.id
			AND e.epoch = CASE WHEN t.pruned = 1 THEN t.stopped_epoch ELSE t.best_epoch END
		WHERE s.experiment_id = ? AND s.study = ? AND t.status = 'done'
		ORDER BY s.sample`, experimentID, study)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SampleOutcome
	for rows.Next() {
		var o SampleOutcome
		var point string
		var epoch sql.NullInt64
		if err := rows.Scan(&o.N, &point, &o.Pruned, &epoch, floatScanner{&o.ValLoss}, floatScanner{&o.ValAccuracy}); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(point), &o.Point); err != nil {
			return nil, fmt.Errorf("sample %d: point %q: %w", o.N, point, err)
		}
		o.Epoch = int(epoch.Int64) // 0 with NaN scores for a trial without that epoch
		out = append(out, o)
	}
	return out, rows.Err()
}

// RecordEpochs stores the epochs a running trial of worker has trained so
// far, in place of those stored before, so that the pruners of other
// workers see its curve. It fails with ErrNotOwned when the trial is not
// running under worker.
func (s *Store) RecordEpochs(ctx context.Context, trialID int64, worker string, epochs []Epoch) error {
	err := s.tx(ctx, func(tx conn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM trials WHERE id = ? AND worker = ? AND status = 'running'`,
			trialID, worker).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotOwned
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM epochs WHERE trial_id = ?`, trialID); err != nil {
			return err
		}
		return insertEpochs(ctx, tx, trialID, &Outcome{Epochs: epochs})
	})
	if err != nil {
		return fmt.Errorf("results: record epochs of trial %d by %s: %w", trialID, worker, err)
	}
	return nil
}

// StudyCurve is a draw's curve as far as a pruner looks.
type StudyCurve struct {
	TrialID  int64
	Complete bool    // done, not pruned
	Epochs   []Epoch // in order
}

// StudyCurves returns the curves of study's draws up to epoch (all of them
// when epoch < 1), by n.
func (s *Store) StudyCurves(ctx context.Context, experimentID int64, study string, epoch int) ([]StudyCurve, error) {
	if epoch < 1 {
		epoch = math.MaxInt32
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.id, t.status = 'done' AND t.pruned = 0, e.epoch, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.seconds
		FROM search_samples s
		JOIN trials t ON t.id = s.trial_id
		LEFT JOIN epochs e ON e.trial_id = t.id AND e.epoch <= ?
		WHERE s.experiment_id = ? AND s.study = ?
		ORDER BY s.sample, e.epoch`, epoch, experimentID, study)
	if err != nil {
		return nil, fmt.Errorf("results: study curves: %w", err)
	}
	defer rows.Close()
	var out []StudyCurve
	for rows.Next() {
		var c StudyCurve
		var n sql.NullInt64
		var e Epoch
		if err := rows.Scan(&c.TrialID, &c.Complete, &n, floatScanner{&e.TrainLoss}, floatScanner{&e.TrainAccuracy},
			floatScanner{&e.ValLoss}, floatScanner{&e.ValAccuracy}, floatScanner{&e.Seconds}); err != nil {
			return nil, fmt.Errorf("results: study curves: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].TrialID != c.TrialID {
			out = append(out, c)
		}
		if n.Valid {
			e.Epoch = int(n.Int64)
			last := &out[len(out)-1]
			last.Epochs = append(last.Epochs, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: study curves: %w", err)
	}
	return out, nil
}

// Confirmation is a trial that re-runs the settings of a study's draw.
type Confirmation struct {
	Trial  Trial // identity fields, as RegisterTrials takes them
	Sample int   // the draw whose settings it re-runs
	Rank   int   // of those settings among the study's best: 1 is the best
}

// RegisterConfirmations inserts, as pending, the confirmation trials the
// experiment does not have yet, makes them all current, and returns how many
// were new. Registering them again (another worker found the study
// finished too) changes nothing.
func (s *Store) RegisterConfirmations(ctx context.Context, experimentID int64, study string, cs []Confirmation) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx conn) error {
		for _, c := range cs {
			t := c.Trial
			if t.Hash == "" {
				return fmt.Errorf("trial %d has no hash", t.Index)
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO trials (experiment_id, hash, trial_index, seed, variant_key, variant_json, config_json, fold)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (experiment_id, hash) DO UPDATE SET superseded = 0`,
				experimentID, t.Hash, t.Index, t.Seed, t.VariantKey, t.VariantJSON, t.ConfigJSON, t.Fold); err != nil {
				return fmt.Errorf("trial %s: %w", t.Hash, err)
			}
			res, err := tx.ExecContext(ctx, `
				INSERT INTO search_confirmations (trial_id, experiment_id, study, sample, rank)
				SELECT id, ?, ?, ?, ? FROM trials WHERE experiment_id = ? AND hash = ?
				ON CONFLICT (trial_id) DO NOTHING`,
				experimentID, study, c.Sample, c.Rank, experimentID, t.Hash)
			if err != nil {
				return fmt.Errorf("confirmation %s: %w", t.Hash, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("results: register confirmations: %w", err)
	}
	return added, nil
}

// KeepSearch makes the experiment's current trials those of studies (their
// draws and confirmations); every other trial of it is superseded, kept
// with its results but no longer listed, as RegisterTrials does for a
// sweep whose file changed.
func (s *Store) KeepSearch(ctx context.Context, experimentID int64, studies []string) error {
	err := s.tx(ctx, func(tx conn) error {
		if err := s.lockExperiment(ctx, tx, experimentID); err != nil {
			return err
		}
		// Only rows whose flag changes are written (and, on PostgreSQL, locked).
		superseded := `CASE WHEN id IN (
				SELECT trial_id FROM search_samples WHERE experiment_id = ? AND study IN (` + s.d.jsonList + `)
				UNION
				SELECT trial_id FROM search_confirmations WHERE experiment_id = ? AND study IN (` + s.d.jsonList + `)
			) THEN 0 ELSE 1 END`
		list := jsonStrings(studies)
		_, err := tx.ExecContext(ctx, `UPDATE trials SET superseded = `+superseded+` WHERE experiment_id = ? AND superseded <> `+superseded,
			experimentID, list, experimentID, list, experimentID, experimentID, list, experimentID, list)
		return err
	})
	if err != nil {
		return fmt.Errorf("results: keep search: %w", err)
	}
	return nil
}

// SearchRecord is what the store knows of a current trial of a search.
type SearchRecord struct {
	TrialID int64
	Study   string
	Sample  int       // the draw; for a confirmation, the draw it re-runs
	Point   []float64 // draws only
	History []int     // draws only: the draws finished when it was claimed
	Rank    int       // confirmations: rank of the settings re-run (1 = best); 0 for a draw
}

// SearchRecords lists the experiment's current search trials: draws by
// study and n, then confirmations by study, rank and trial.
func (s *Store) SearchRecords(ctx context.Context, experimentID int64) ([]SearchRecord, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT r.trial_id, r.study, r.sample, r.point_json, r.history_json, r.rank FROM (
			SELECT trial_id, study, sample, point_json, history_json, 0 AS rank
			FROM search_samples WHERE experiment_id = ?
			UNION ALL
			SELECT c.trial_id, c.study, c.sample, '', '', c.rank
			FROM search_confirmations c WHERE c.experiment_id = ?
		) r JOIN trials t ON t.id = r.trial_id
		WHERE t.superseded = 0
		ORDER BY r.study, r.rank, r.sample, r.trial_id`, experimentID, experimentID)
	if err != nil {
		return nil, fmt.Errorf("results: search records: %w", err)
	}
	defer rows.Close()
	var out []SearchRecord
	for rows.Next() {
		var r SearchRecord
		var point, history string
		if err := rows.Scan(&r.TrialID, &r.Study, &r.Sample, &point, &history, &r.Rank); err != nil {
			return nil, fmt.Errorf("results: search records: %w", err)
		}
		if r.Rank == 0 {
			if err := errors.Join(json.Unmarshal([]byte(point), &r.Point), json.Unmarshal([]byte(history), &r.History)); err != nil {
				return nil, fmt.Errorf("results: search record of trial %d: %w", r.TrialID, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: search records: %w", err)
	}
	return out, nil
}

// shortStudy is a study digest as messages show it.
func shortStudy(study string) string {
	return study[:min(12, len(study))]
}
