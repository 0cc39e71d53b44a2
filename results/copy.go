package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The rows that belong to an experiment or to a trial, copied with it by
// Copy, whole, whatever their columns. A migration that adds a table adds it
// here: TestCopyKnowsEveryTable fails until it does. Predictions and their
// scores are copied apart, since scores point at a prediction's generated id.
var (
	experimentTables = []string{"splits", "split_units", "settle_designs"} // by experiment_id, splits first
	trialTables      = []string{"epochs", "test_metrics", "class_metrics", "confusion",
		"open_set", "open_set_counts", "trial_attempts", "trial_progress", "search_samples", "search_confirmations"} // by trial_id
)

// Copied says what Copy did with one experiment.
type Copied struct {
	Experiment string
	Created    bool // the experiment was not in the destination
	Splits     bool // its splits were copied (the destination had none)
	New        int  // trials the destination did not have
	Replaced   int  // unfinished trials of the destination replaced by done ones
	Kept       int  // trials the destination had, left as they were
}

// Copy copies experiments, with their trials, results, splits and attempts,
// from src to dst (SQLite or PostgreSQL, either way): those named, or every
// one when names is empty. A trial, known by its hash, is added when dst
// lacks it; a trial dst has but has not finished is replaced by a done one
// of src; anything else dst has is kept. So copying again changes nothing,
// and copying both ways merges two stores' work on one sweep. Each
// experiment is copied in one transaction of dst. An experiment that both
// hold must be the same file on the same photos: Copy refuses otherwise.
func Copy(ctx context.Context, src, dst *Store, names []string) ([]Copied, error) {
	if len(names) == 0 {
		exps, err := src.Experiments(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range exps {
			names = append(names, e.Name)
		}
	}
	var out []Copied
	for _, name := range names {
		e, err := src.Experiment(ctx, name)
		if err != nil {
			return out, err
		}
		c := Copied{Experiment: name}
		if err := dst.tx(ctx, func(tx conn) error { return copyExperiment(ctx, src, dst, tx, e, &c) }); err != nil {
			return out, fmt.Errorf("results: copy %s from %s to %s: %w", name, src.where, dst.where, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func copyExperiment(ctx context.Context, src, dst *Store, tx conn, e Experiment, c *Copied) error {
	var id int64
	var config, fingerprint string
	err := tx.QueryRowContext(ctx, `SELECT id, config_yaml, dataset_fingerprint FROM experiments WHERE name = ?`+dst.d.lockRows,
		e.Name).Scan(&id, &config, &fingerprint)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		c.Created = true
		if _, id, err = copyRows(ctx, src.db, tx, "experiments", "id = ?", e.ID, nil); err != nil {
			return err
		}
	case err != nil:
		return err
	case config != e.ConfigYAML:
		return fmt.Errorf("the destination holds another version of the experiment's file (%s there); copy it under another name, or bring both to one version with dogrun run", dst.where)
	case fingerprint != e.DatasetFingerprint:
		return fmt.Errorf("the destination's experiment of that name was run on other photos (content fingerprint %.12s there, %.12s here)", fingerprint, e.DatasetFingerprint)
	}
	var splits int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM splits WHERE experiment_id = ?`, id).Scan(&splits); err != nil {
		return err
	}
	if splits == 0 {
		for i, table := range experimentTables {
			n, _, err := copyRows(ctx, src.db, tx, table, "experiment_id = ?", e.ID, map[string]any{"experiment_id": id})
			if err != nil {
				return err
			}
			if i == 0 { // splits
				c.Splits = n > 0
			}
		}
	}

	have := map[string]struct {
		id   int64
		done bool
	}{}
	rows, err := tx.QueryContext(ctx, `SELECT id, hash, status FROM trials WHERE experiment_id = ?`, id)
	if err != nil {
		return err
	}
	for rows.Next() {
		var tid int64
		var hash, status string
		if err := rows.Scan(&tid, &hash, &status); err != nil {
			rows.Close()
			return err
		}
		have[hash] = struct {
			id   int64
			done bool
		}{tid, status == string(StatusDone)}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	trials, err := src.trialsOf(ctx, e.ID)
	if err != nil {
		return err
	}
	for _, t := range trials {
		h, ok := have[t.Hash]
		switch {
		case !ok:
			c.New++
			if _, h.id, err = copyRows(ctx, src.db, tx, "trials", "id = ?", t.ID, map[string]any{"experiment_id": id}); err != nil {
				return err
			}
		case !h.done && t.Status == StatusDone:
			c.Replaced++
			if err := replaceTrial(ctx, src, tx, t.ID, h.id); err != nil {
				return err
			}
		default:
			c.Kept++
			continue
		}
		if err := copyTrialRows(ctx, src, tx, t.ID, h.id, id); err != nil {
			return fmt.Errorf("trial %s: %w", t.Hash, err)
		}
	}
	return nil
}

// trialsOf lists all of the experiment's trials, superseded ones too.
func (s *Store) trialsOf(ctx context.Context, experimentID int64) ([]Trial, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+trialCols+` FROM trials WHERE experiment_id = ? ORDER BY id`, experimentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Trial
	for rows.Next() {
		t, err := scanTrial(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// replaceTrial sets the destination's trial dstID to its row in src, and
// deletes its results and attempts: copyTrialRows copies src's next.
func replaceTrial(ctx context.Context, src *Store, tx conn, srcID, dstID int64) error {
	for _, table := range append([]string{"predictions"}, trialTables...) { // scores go with their predictions
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE trial_id = ?`, dstID); err != nil {
			return err
		}
	}
	cols, vals, err := readRows(ctx, src.db, `SELECT * FROM trials WHERE id = ?`, srcID)
	if err != nil || len(vals) != 1 {
		return errors.Join(err, fmt.Errorf("trial %d is gone from the source", srcID))
	}
	var set []string
	var args []any
	for i, col := range cols {
		if col == "id" || col == "experiment_id" {
			continue
		}
		set = append(set, col+" = ?")
		args = append(args, vals[0][i])
	}
	_, err = tx.ExecContext(ctx, `UPDATE trials SET `+strings.Join(set, ", ")+` WHERE id = ?`, append(args, dstID)...)
	return err
}

// copyTrialRows copies a trial's results, attempts and search records from
// src to the destination's trial dstID of experiment expID.
func copyTrialRows(ctx context.Context, src *Store, tx conn, srcID, dstID, expID int64) error {
	to := map[string]any{"trial_id": dstID, "experiment_id": expID}
	for _, table := range trialTables {
		if _, _, err := copyRows(ctx, src.db, tx, table, "trial_id = ?", srcID, to); err != nil {
			return err
		}
	}
	cols, preds, err := readRows(ctx, src.db, `SELECT * FROM predictions WHERE trial_id = ? ORDER BY id`, srcID)
	if err != nil {
		return err
	}
	idCol := slices.Index(cols, "id")
	for _, p := range preds {
		newID, err := insertRow(ctx, tx, "predictions", cols, p, to)
		if err != nil {
			return err
		}
		if _, _, err := copyRows(ctx, src.db, tx, "prediction_scores", "prediction_id = ?", p[idCol],
			map[string]any{"prediction_id": newID}); err != nil {
			return err
		}
	}
	return nil
}

// copyRows copies the rows of table matching where (one placeholder, arg)
// from src into tx, with the columns in set replaced, and returns how many
// and the generated id of the last (0 when the table has no id).
func copyRows(ctx context.Context, src conn, tx conn, table, where string, arg any, set map[string]any) (int, int64, error) {
	cols, rows, err := readRows(ctx, src, `SELECT * FROM `+table+` WHERE `+where, arg)
	if err != nil {
		return 0, 0, err
	}
	var id int64
	for _, r := range rows {
		if id, err = insertRow(ctx, tx, table, cols, r, set); err != nil {
			return 0, 0, err
		}
	}
	return len(rows), id, nil
}

// readRows reads every row of q with its column names.
func readRows(ctx context.Context, c conn, q string, args ...any) ([]string, [][]any, error) {
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}

// insertRow inserts one row of table, leaving out its generated id (which
// it returns) and with the columns in set replaced.
func insertRow(ctx context.Context, tx conn, table string, cols []string, vals []any, set map[string]any) (int64, error) {
	var names, marks []string
	var args []any
	hasID := false
	for i, col := range cols {
		if col == "id" {
			hasID = true
			continue
		}
		v := vals[i]
		if x, ok := set[col]; ok {
			v = x
		}
		names = append(names, col)
		marks = append(marks, "?")
		args = append(args, v)
	}
	q := `INSERT INTO ` + table + ` (` + strings.Join(names, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`
	if !hasID {
		_, err := tx.ExecContext(ctx, q, args...)
		return 0, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, q+` RETURNING id`, args...).Scan(&id)
	return id, err
}
