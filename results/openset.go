package results

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/dogrun/dogrun/openset"
)

// OpenSet is what a trial with held-out dogs learned about rejecting them:
// the rule it chose, the centroids that rule may need, the unseen dogs it was
// calibrated and measured on, and each candidate rule's counts.
type OpenSet struct {
	Rule        openset.Rule
	Centroids   openset.Centroids
	UnknownVal  []string
	UnknownTest []string
	Results     []OpenSetResult
}

// OpenSetResult is how one rule kind did on one part (PartVal or PartTest).
type OpenSetResult struct {
	Kind      string
	Part      string
	Threshold float64
	openset.Counts
}

// Result returns the counts of kind on part, and whether they are stored.
func (o *OpenSet) Result(kind, part string) (OpenSetResult, bool) {
	for _, r := range o.Results {
		if r.Kind == kind && r.Part == part {
			return r, true
		}
	}
	return OpenSetResult{}, false
}

func insertOpenSet(ctx context.Context, tx conn, trialID int64, o *OpenSet) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO open_set
		(trial_id, target_far, rule, threshold, dim, centroids, unknown_val, unknown_test)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		trialID, o.Rule.TargetFAR, o.Rule.Kind, o.Rule.Threshold, o.Centroids.Dim,
		centroidBlob(o.Centroids), jsonStrings(nonNil(o.UnknownVal)), jsonStrings(nonNil(o.UnknownTest))); err != nil {
		return fmt.Errorf("open set: %w", err)
	}
	for _, r := range o.Results {
		if _, err := tx.ExecContext(ctx, `INSERT INTO open_set_counts
			(trial_id, rule, part, threshold, known, known_correct, known_rejected, unknown, false_accepts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			trialID, r.Kind, r.Part, r.Threshold, r.Known, r.KnownCorrect, r.KnownRejected, r.Unknown, r.FalseAccepts); err != nil {
			return fmt.Errorf("open set %s %s: %w", r.Kind, r.Part, err)
		}
	}
	return nil
}

// centroidBlob packs the centroids row after row; a class without one is
// a row of zeros.
func centroidBlob(c openset.Centroids) []byte {
	b := make([]byte, 0, 4*c.Dim*len(c.Vectors))
	for _, v := range c.Vectors {
		for j := range c.Dim {
			var x float32
			if v != nil {
				x = v[j]
			}
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return b
}

func centroidsFromBlob(b []byte, dim int) (openset.Centroids, error) {
	c := openset.Centroids{Dim: dim}
	if dim <= 0 || len(b)%(4*dim) != 0 {
		return c, fmt.Errorf("centroids: %d bytes do not hold rows of %d float32", len(b), dim)
	}
	for len(b) > 0 {
		row := make([]float32, dim)
		zero := true
		for j := range row {
			row[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			zero = zero && row[j] == 0
		}
		if zero {
			row = nil
		}
		c.Vectors = append(c.Vectors, row)
		b = b[4*dim:]
	}
	return c, nil
}

// OpenSet returns a done trial's open-set rule and counts. It wraps
// ErrNotFound when the trial held no dogs out.
func (s *Store) OpenSet(ctx context.Context, trialID int64) (*OpenSet, error) {
	m, err := s.openSets(ctx, `WHERE o.trial_id = ?`, trialID)
	if err != nil {
		return nil, err
	}
	o, ok := m[trialID]
	if !ok {
		return nil, fmt.Errorf("results: open set of trial %d: %w", trialID, ErrNotFound)
	}
	return o, nil
}

// OpenSets returns the open-set results of the experiment's done trials,
// keyed by trial id; trials without held-out dogs are absent.
func (s *Store) OpenSets(ctx context.Context, experimentID int64) (map[int64]*OpenSet, error) {
	return s.openSets(ctx, `JOIN trials t ON t.id = o.trial_id WHERE t.experiment_id = ? AND t.status = 'done'`, experimentID)
}

func (s *Store) openSets(ctx context.Context, where string, arg int64) (map[int64]*OpenSet, error) {
	fail := func(err error) (map[int64]*OpenSet, error) {
		return nil, fmt.Errorf("results: open set: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT o.trial_id, o.target_far, o.rule, o.threshold, o.dim, o.centroids,
		o.unknown_val, o.unknown_test FROM open_set o `+where, arg)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	out := map[int64]*OpenSet{}
	for rows.Next() {
		var id int64
		var o OpenSet
		var dim int
		var blob []byte
		var val, test string
		if err := rows.Scan(&id, &o.Rule.TargetFAR, &o.Rule.Kind, &o.Rule.Threshold, &dim, &blob, &val, &test); err != nil {
			return fail(err)
		}
		if o.Centroids, err = centroidsFromBlob(blob, dim); err != nil {
			return fail(fmt.Errorf("trial %d: %w", id, err))
		}
		if err := errors.Join(json.Unmarshal([]byte(val), &o.UnknownVal), json.Unmarshal([]byte(test), &o.UnknownTest)); err != nil {
			return fail(fmt.Errorf("trial %d: unknown dogs: %w", id, err))
		}
		out[id] = &o
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	crows, err := s.db.QueryContext(ctx, `SELECT c.trial_id, c.rule, c.part, c.threshold, c.known, c.known_correct,
		c.known_rejected, c.unknown, c.false_accepts
		FROM open_set_counts c JOIN open_set o ON o.trial_id = c.trial_id `+where+`
		ORDER BY c.trial_id, c.rule`+s.d.collate+`, c.part`+s.d.collate+` DESC`, arg)
	if err != nil {
		return fail(err)
	}
	defer crows.Close()
	for crows.Next() {
		var id int64
		var r OpenSetResult
		if err := crows.Scan(&id, &r.Kind, &r.Part, &r.Threshold, &r.Known, &r.KnownCorrect,
			&r.KnownRejected, &r.Unknown, &r.FalseAccepts); err != nil {
			return fail(err)
		}
		if o, ok := out[id]; ok {
			o.Results = append(o.Results, r)
		}
	}
	if err := crows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

// TrialsByHashPrefix lists every trial, current or superseded, of any
// experiment, whose hash starts with prefix (lower-case hex), by id.
func (s *Store) TrialsByHashPrefix(ctx context.Context, prefix string) ([]Trial, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+trialCols+` FROM trials
		WHERE substr(hash, 1, ?) = ? ORDER BY id`, len(prefix), prefix)
	if err != nil {
		return nil, fmt.Errorf("results: trials by hash: %w", err)
	}
	defer rows.Close()
	var out []Trial
	for rows.Next() {
		t, err := scanTrial(rows)
		if err != nil {
			return nil, fmt.Errorf("results: trials by hash: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: trials by hash: %w", err)
	}
	return out, nil
}
