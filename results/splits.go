package results

import (
	"context"
	"encoding/json"
	"fmt"
)

// Parts of a split.
const (
	PartTrain = "train"
	PartVal   = "val"
	PartTest  = "test"
)

// SplitUnit is one photo, or for the leaky protocol one augmented copy, of a
// stored split, with the part it is in for one fold.
type SplitUnit struct {
	Fold        int // 0 for a holdout split, 1..K
	Photo       string
	View        int // 0 = the photo itself
	PhotoSHA256 string
	Class       int
	Group       int // near-duplicate group; photos of one group share a part
	Part        string
}

// CrossClassPair is the same photo (or a near-identical one) filed under two
// classes.
type CrossClassPair struct {
	A, B  string  // photo paths relative to the dataset root
	Score float64 // phash distance in bits
}

// Split is a split an experiment's trials used: the grouping that made it
// and every unit's part per fold.
type Split struct {
	Leaky      bool
	Method     string // near-duplicate grouping
	Threshold  float64
	KFold      int
	Views      int
	Classes    []string
	Dropped    []string // classes left out, with the reason
	CrossClass []CrossClassPair
	Units      []SplitUnit
}

// PutSplits replaces the experiment's stored splits in one transaction.
func (s *Store) PutSplits(ctx context.Context, experimentID int64, splits []Split) error {
	err := s.tx(ctx, func(tx conn) error {
		if err := s.lockExperiment(ctx, tx, experimentID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM split_units WHERE experiment_id = ?`, experimentID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM splits WHERE experiment_id = ?`, experimentID); err != nil {
			return err
		}
		unit, err := tx.PrepareContext(ctx, `INSERT INTO split_units
			(experiment_id, leaky, fold, photo, view, photo_sha256, class, grp, part)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer unit.Close()
		for _, sp := range splits {
			classes, _ := json.Marshal(nonNil(sp.Classes))
			dropped, _ := json.Marshal(nonNil(sp.Dropped))
			cross, _ := json.Marshal(nonNil(sp.CrossClass))
			if _, err := tx.ExecContext(ctx, `INSERT INTO splits
				(experiment_id, leaky, method, threshold, kfold, views, classes_json, dropped_json, cross_class_json)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				experimentID, sp.Leaky, sp.Method, sp.Threshold, sp.KFold, sp.Views,
				string(classes), string(dropped), string(cross)); err != nil {
				return err
			}
			for _, u := range sp.Units {
				if _, err := unit.ExecContext(ctx, experimentID, sp.Leaky, u.Fold, u.Photo, u.View,
					u.PhotoSHA256, u.Class, u.Group, u.Part); err != nil {
					return fmt.Errorf("%s view %d fold %d: %w", u.Photo, u.View, u.Fold, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("results: put splits: %w", err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Splits returns the experiment's stored splits, honest first, each with
// its units ordered by fold, photo and view.
func (s *Store) Splits(ctx context.Context, experimentID int64) ([]Split, error) {
	fail := func(err error) ([]Split, error) { return nil, fmt.Errorf("results: splits: %w", err) }
	rows, err := s.db.QueryContext(ctx, `
		SELECT leaky, method, threshold, kfold, views, classes_json, dropped_json, cross_class_json
		FROM splits WHERE experiment_id = ? ORDER BY leaky`, experimentID)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var out []Split
	for rows.Next() {
		var sp Split
		var classes, dropped, cross string
		if err := rows.Scan(&sp.Leaky, &sp.Method, &sp.Threshold, &sp.KFold, &sp.Views, &classes, &dropped, &cross); err != nil {
			return fail(err)
		}
		for _, j := range []struct {
			text string
			dst  any
		}{{classes, &sp.Classes}, {dropped, &sp.Dropped}, {cross, &sp.CrossClass}} {
			if err := json.Unmarshal([]byte(j.text), j.dst); err != nil {
				return fail(err)
			}
		}
		out = append(out, sp)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	for i := range out {
		urows, err := s.db.QueryContext(ctx, `
			SELECT fold, photo, view, photo_sha256, class, grp, part FROM split_units
			WHERE experiment_id = ? AND leaky = ? ORDER BY fold, photo`+s.d.collate+`, view`, experimentID, out[i].Leaky)
		if err != nil {
			return fail(err)
		}
		for urows.Next() {
			var u SplitUnit
			if err := urows.Scan(&u.Fold, &u.Photo, &u.View, &u.PhotoSHA256, &u.Class, &u.Group, &u.Part); err != nil {
				urows.Close()
				return fail(err)
			}
			out[i].Units = append(out[i].Units, u)
		}
		err = urows.Err()
		urows.Close()
		if err != nil {
			return fail(err)
		}
	}
	return out, nil
}
