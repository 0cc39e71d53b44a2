package results

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The read-only queries of the live dashboard (dogrun serve). They count
// and sum in SQL and page through trials, so that an experiment of
// thousands of trials costs the dashboard a few small result sets, and the
// SQL is the part SQLite and PostgreSQL share.

// StatusCounts counts trials by status.
type StatusCounts map[TrialStatus]int

// Total is the number of trials counted.
func (c StatusCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// ExperimentOverview is an experiment with its current trials counted.
type ExperimentOverview struct {
	ID                   int64
	Name, File           string
	CreatedAt, UpdatedAt time.Time
	Counts               StatusCounts
	Best                 float64 // the best test accuracy of a done trial; NaN when none is done
	DoneSeconds          float64 // the done trials' durations added
	LastFinished         *time.Time
}

// ExperimentOverviews lists every experiment, by name, with its current
// trials counted by status.
func (s *Store) ExperimentOverviews(ctx context.Context) ([]ExperimentOverview, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.id, e.name, e.file, e.created_at, e.updated_at, coalesce(t.status, ''), count(t.id),
			max(m.accuracy), coalesce(sum(t.duration_seconds), 0), max(t.finished_at)
		FROM experiments e
		LEFT JOIN trials t ON t.experiment_id = e.id AND t.superseded = 0
		LEFT JOIN test_metrics m ON m.trial_id = t.id AND t.status = 'done'
		GROUP BY e.id, e.name, e.file, e.created_at, e.updated_at, t.status
		ORDER BY e.id`)
	if err != nil {
		return nil, fmt.Errorf("results: experiment overviews: %w", err)
	}
	defer rows.Close()
	var out []ExperimentOverview
	for rows.Next() {
		var o ExperimentOverview
		var status string
		var n int
		var best, seconds float64
		var last *time.Time
		if err := rows.Scan(&o.ID, &o.Name, &o.File, timeScanner{&o.CreatedAt}, timeScanner{&o.UpdatedAt}, &status, &n,
			floatScanner{&best}, floatScanner{&seconds}, nullTimeScanner{&last}); err != nil {
			return nil, fmt.Errorf("results: experiment overviews: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != o.ID {
			o.Counts, o.Best = StatusCounts{}, math.NaN()
			out = append(out, o)
		}
		cur := &out[len(out)-1]
		if status == "" {
			continue // an experiment without trials
		}
		cur.Counts[TrialStatus(status)] = n
		if TrialStatus(status) == StatusDone {
			cur.Best, cur.DoneSeconds, cur.LastFinished = best, seconds, last
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: experiment overviews: %w", err)
	}
	// By name as Go compares strings (bytes): the same on both stores,
	// whatever the PostgreSQL database's collation.
	slices.SortFunc(out, func(a, b ExperimentOverview) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Versions say when an experiment's stored state last changed, cheaply:
// Results changes when a trial is registered, claimed, handed back, fails
// or finishes, or the experiment file is stored again; Progress when a
// running trial reports progress. Each is an opaque string that is equal
// between two reads when nothing of its kind changed in between.
type Versions struct {
	Results, Progress string
}

// ExperimentVersions reads the Versions of experiment id.
func (s *Store) ExperimentVersions(ctx context.Context, id int64) (Versions, error) {
	v, err := s.versions(ctx, id)
	if err != nil {
		return Versions{}, fmt.Errorf("results: versions of experiment %d: %w", id, err)
	}
	return v, nil
}

// StoreVersions reads the Versions of the whole store: of every
// experiment, and of which experiments there are.
func (s *Store) StoreVersions(ctx context.Context) (Versions, error) {
	v, err := s.versions(ctx, 0)
	if err != nil {
		return Versions{}, fmt.Errorf("results: versions: %w", err)
	}
	return v, nil
}

// versions reads the Versions of experiment id, or of all when id is 0.
func (s *Store) versions(ctx context.Context, id int64) (Versions, error) {
	expWhere, trialWhere, args := "1 = 1", "1 = 1", []any(nil)
	if id != 0 {
		expWhere, trialWhere, args = "id = ?", "t.experiment_id = ?", []any{id}
	}
	var n int
	var updated string
	if err := s.db.QueryRowContext(ctx, `SELECT count(*), coalesce(max(updated_at), '') FROM experiments WHERE `+expWhere,
		args...).Scan(&n, &updated); err != nil {
		return Versions{}, err
	}
	if n == 0 && id != 0 {
		return Versions{}, ErrNotFound
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT status, superseded, count(*), coalesce(max(started_at), ''), coalesce(max(finished_at), ''), sum(attempts)
		FROM trials t WHERE `+trialWhere+` GROUP BY status, superseded ORDER BY status, superseded`, args...)
	if err != nil {
		return Versions{}, err
	}
	defer rows.Close()
	h := sha256.New()
	fmt.Fprintln(h, n, updated)
	for rows.Next() {
		var status, started, finished string
		var superseded, count, attempts int
		if err := rows.Scan(&status, &superseded, &count, &started, &finished, &attempts); err != nil {
			return Versions{}, err
		}
		fmt.Fprintln(h, status, superseded, count, started, finished, attempts)
	}
	if err := rows.Err(); err != nil {
		return Versions{}, err
	}
	var progress string
	if err := s.db.QueryRowContext(ctx, `
		SELECT coalesce(max(p.updated_at), '') FROM trial_progress p JOIN trials t ON t.id = p.trial_id
		WHERE t.status = 'running' AND `+trialWhere, args...).Scan(&progress); err != nil {
		return Versions{}, err
	}
	return Versions{Results: hex.EncodeToString(h.Sum(nil)[:12]), Progress: progress}, nil
}

// RunningTrial is a running trial with what it last said it was doing.
type RunningTrial struct {
	Trial
	Progress *Progress // nil when this attempt has said nothing yet
}

// RunningTrials lists the experiment's running trials by Index, each with
// the progress of its current attempt.
func (s *Store) RunningTrials(ctx context.Context, experimentID int64) ([]RunningTrial, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+prefixed("t.", trialCols)+`,
			p.phase, p.epoch, p.epochs, p.epoch_seconds, p.val_accuracy, p.updated_at
		FROM trials t LEFT JOIN trial_progress p
			ON p.trial_id = t.id AND p.worker = t.worker AND p.started_at = t.started_at
		WHERE t.experiment_id = ? AND t.superseded = 0 AND t.status = 'running'
		ORDER BY t.trial_index, t.id`, experimentID)
	if err != nil {
		return nil, fmt.Errorf("results: running trials: %w", err)
	}
	defer rows.Close()
	var out []RunningTrial
	for rows.Next() {
		var phase sql.NullString
		var epoch, epochs sql.NullInt64
		var p Progress
		var updated *time.Time
		t, err := scanTrialWith(rows, &phase, &epoch, &epochs, floatScanner{&p.EpochSeconds}, floatScanner{&p.ValAccuracy}, nullTimeScanner{&updated})
		if err != nil {
			return nil, fmt.Errorf("results: running trials: %w", err)
		}
		r := RunningTrial{Trial: t}
		if phase.Valid && updated != nil {
			p.Phase, p.Epoch, p.Epochs, p.UpdatedAt = phase.String, int(epoch.Int64), int(epochs.Int64), *updated
			r.Progress = &p
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: running trials: %w", err)
	}
	return out, nil
}

// TrialQuery picks a page of an experiment's trials.
type TrialQuery struct {
	Status     TrialStatus // "" = any
	Variant    string      // a variant key; "" = any
	ByAccuracy bool        // best test accuracy first (trials without one last), else by Index
	Offset     int
	Limit      int // at most 500; 0 = 50
}

// TrialRow is a trial with its test metrics when it is done.
type TrialRow struct {
	Trial
	Metrics *TrialMetrics
}

// TrialPage returns the page of the experiment's current trials q asks
// for, and how many trials match q in all.
func (s *Store) TrialPage(ctx context.Context, experimentID int64, q TrialQuery) ([]TrialRow, int, error) {
	fail := func(err error) ([]TrialRow, int, error) {
		return nil, 0, fmt.Errorf("results: trial page: %w", err)
	}
	where, args := `t.experiment_id = ? AND t.superseded = 0`, []any{experimentID}
	if q.Status != "" {
		where += ` AND t.status = ?`
		args = append(args, string(q.Status))
	}
	if q.Variant != "" {
		where += ` AND t.variant_key = ?`
		args = append(args, q.Variant)
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM trials t WHERE `+where, args...).Scan(&total); err != nil {
		return fail(err)
	}
	order := `t.trial_index, t.id`
	if q.ByAccuracy {
		order = `CASE WHEN m.accuracy IS NULL THEN 1 ELSE 0 END, m.accuracy DESC, t.trial_index, t.id`
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	rows, err := s.db.QueryContext(ctx, `SELECT `+prefixed("t.", trialCols)+`,
			m.trial_id, m.accuracy, m.top5, m.log_loss, m.macro_f1, m.weighted_f1, m.n
		FROM trials t LEFT JOIN test_metrics m ON m.trial_id = t.id AND t.status = 'done'
		WHERE `+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var out []TrialRow
	for rows.Next() {
		var id, n sql.NullInt64
		var m TrialMetrics
		t, err := scanTrialWith(rows, &id, floatScanner{&m.Accuracy}, floatScanner{&m.Top5}, floatScanner{&m.LogLoss},
			floatScanner{&m.MacroF1}, floatScanner{&m.WeightedF1}, &n)
		if err != nil {
			return fail(err)
		}
		r := TrialRow{Trial: t}
		if id.Valid {
			m.TrialID, m.N = id.Int64, int(n.Int64)
			r.Metrics = &m
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, total, nil
}

// VariantAggregate is one variant's current trials, counted and with the
// test metrics of its done ones summed, so that means and intervals follow
// without reading the trials.
type VariantAggregate struct {
	Key, JSON  string
	FirstIndex int // the smallest Index of its trials: the sweep's order
	Trials     int
	Done       int // done trials with test metrics
	Running    int
	Accuracy   Moments
	Top5       Moments
	MacroF1    Moments
}

// Moments are n values summed, and summed squared.
type Moments struct {
	N          int
	Sum, SumSq float64
	Min, Max   float64 // NaN when N is 0
}

// VariantAggregates sums the experiment's current trials per variant, in
// the order of the sweep.
func (s *Store) VariantAggregates(ctx context.Context, experimentID int64) ([]VariantAggregate, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.variant_key, min(t.variant_json), min(t.trial_index), count(*),
			sum(CASE WHEN t.status = 'running' THEN 1 ELSE 0 END), count(m.trial_id),
			coalesce(sum(m.accuracy), 0), coalesce(sum(m.accuracy * m.accuracy), 0), min(m.accuracy), max(m.accuracy),
			coalesce(sum(m.top5), 0), coalesce(sum(m.top5 * m.top5), 0), min(m.top5), max(m.top5),
			coalesce(sum(m.macro_f1), 0), coalesce(sum(m.macro_f1 * m.macro_f1), 0), min(m.macro_f1), max(m.macro_f1)
		FROM trials t LEFT JOIN test_metrics m ON m.trial_id = t.id AND t.status = 'done'
		WHERE t.experiment_id = ? AND t.superseded = 0
		GROUP BY t.variant_key
		ORDER BY min(t.trial_index)`, experimentID)
	if err != nil {
		return nil, fmt.Errorf("results: variant aggregates: %w", err)
	}
	defer rows.Close()
	var out []VariantAggregate
	for rows.Next() {
		var v VariantAggregate
		moments := func(m *Moments) []any {
			return []any{floatScanner{&m.Sum}, floatScanner{&m.SumSq}, floatScanner{&m.Min}, floatScanner{&m.Max}}
		}
		dest := []any{&v.Key, &v.JSON, &v.FirstIndex, &v.Trials, &v.Running, &v.Done}
		dest = append(dest, moments(&v.Accuracy)...)
		dest = append(dest, moments(&v.Top5)...)
		dest = append(dest, moments(&v.MacroF1)...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("results: variant aggregates: %w", err)
		}
		v.Accuracy.N, v.Top5.N, v.MacroF1.N = v.Done, v.Done, v.Done
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: variant aggregates: %w", err)
	}
	return out, nil
}

// TrialPoint is one current trial as a point of the sweep: its settings
// and, when done, its test accuracy.
type TrialPoint struct {
	Hash        string
	Index       int
	Status      TrialStatus
	VariantKey  string
	VariantJSON string
	Seed        int64
	Fold        int
	Accuracy    float64 // NaN unless done
	Top5        float64 // NaN unless done
	Seconds     float64 // how long it took, when done
}

// TrialPoints lists the experiment's current trials as points, by Index:
// the few columns a plot of settings against accuracy needs.
func (s *Store) TrialPoints(ctx context.Context, experimentID int64) ([]TrialPoint, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.hash, t.trial_index, t.status, t.variant_key, t.variant_json, t.seed, t.fold, m.accuracy, m.top5, t.duration_seconds
		FROM trials t LEFT JOIN test_metrics m ON m.trial_id = t.id AND t.status = 'done'
		WHERE t.experiment_id = ? AND t.superseded = 0
		ORDER BY t.trial_index, t.id`, experimentID)
	if err != nil {
		return nil, fmt.Errorf("results: trial points: %w", err)
	}
	defer rows.Close()
	var out []TrialPoint
	for rows.Next() {
		var p TrialPoint
		var status string
		if err := rows.Scan(&p.Hash, &p.Index, &status, &p.VariantKey, &p.VariantJSON, &p.Seed, &p.Fold,
			floatScanner{&p.Accuracy}, floatScanner{&p.Top5}, floatScanner{&p.Seconds}); err != nil {
			return nil, fmt.Errorf("results: trial points: %w", err)
		}
		p.Status = TrialStatus(status)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: trial points: %w", err)
	}
	return out, nil
}

// TrialEpochs are the epochs of one done trial of a variant.
type TrialEpochs struct {
	TrialID    int64
	VariantKey string
	Epochs     []Epoch
}

// VariantEpochs returns the epochs of the done current trials of the given
// variants, trial by trial.
func (s *Store) VariantEpochs(ctx context.Context, experimentID int64, variants []string) ([]TrialEpochs, error) {
	if len(variants) == 0 {
		return nil, nil
	}
	args := []any{experimentID}
	for _, v := range variants {
		args = append(args, v)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.id, t.variant_key, e.epoch, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.seconds
		FROM epochs e JOIN trials t ON t.id = e.trial_id
		WHERE t.experiment_id = ? AND t.superseded = 0 AND t.status = 'done'
			AND t.variant_key IN (`+placeholders(len(variants))+`)
		ORDER BY t.id, e.epoch`, args...)
	if err != nil {
		return nil, fmt.Errorf("results: variant epochs: %w", err)
	}
	defer rows.Close()
	var out []TrialEpochs
	for rows.Next() {
		var id int64
		var key string
		var e Epoch
		if err := rows.Scan(&id, &key, &e.Epoch, floatScanner{&e.TrainLoss}, floatScanner{&e.TrainAccuracy},
			floatScanner{&e.ValLoss}, floatScanner{&e.ValAccuracy}, floatScanner{&e.Seconds}); err != nil {
			return nil, fmt.Errorf("results: variant epochs: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].TrialID != id {
			out = append(out, TrialEpochs{TrialID: id, VariantKey: key})
		}
		last := &out[len(out)-1]
		last.Epochs = append(last.Epochs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: variant epochs: %w", err)
	}
	return out, nil
}

// PhotoOutcome is a done trial's answer on one test photo.
type PhotoOutcome struct {
	TrialID     int64
	Photo       string
	PhotoSHA256 string
	True, Pred  int
	Top5        bool // the true class is among the photo's five best-scored
}

// PhotoOutcomes returns, in one read, the test answers of the experiment's
// done current trials (of one variant, when variant is not ""), trial by
// trial in trial id order, photos in the order they were stored.
func (s *Store) PhotoOutcomes(ctx context.Context, experimentID int64, variant string) ([]PhotoOutcome, error) {
	filter, args := "", []any{experimentID}
	if variant != "" {
		filter, args = ` AND t.variant_key = ?`, append(args, variant)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT p.trial_id, p.photo, p.photo_sha256, p.true_class, p.pred_class,
			CASE WHEN EXISTS (SELECT 1 FROM prediction_scores s
				WHERE s.prediction_id = p.id AND s.rank < 5 AND s.class = p.true_class) THEN 1 ELSE 0 END
		FROM predictions p JOIN trials t ON t.id = p.trial_id
		WHERE t.experiment_id = ? AND t.superseded = 0 AND t.status = 'done'`+filter+`
		ORDER BY p.trial_id, p.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("results: photo outcomes: %w", err)
	}
	defer rows.Close()
	var out []PhotoOutcome
	for rows.Next() {
		var o PhotoOutcome
		var top5 int
		if err := rows.Scan(&o.TrialID, &o.Photo, &o.PhotoSHA256, &o.True, &o.Pred, &top5); err != nil {
			return nil, fmt.Errorf("results: photo outcomes: %w", err)
		}
		o.Top5 = top5 == 1
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: photo outcomes: %w", err)
	}
	return out, nil
}

// ClassNames returns a done trial's class names, by class index.
func (s *Store) ClassNames(ctx context.Context, trialID int64) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT class, name FROM class_metrics WHERE trial_id = ? ORDER BY class`, trialID)
	if err != nil {
		return nil, fmt.Errorf("results: class names of trial %d: %w", trialID, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var c int
		var name string
		if err := rows.Scan(&c, &name); err != nil {
			return nil, fmt.Errorf("results: class names of trial %d: %w", trialID, err)
		}
		if c != len(names) {
			return nil, fmt.Errorf("results: class names of trial %d: class %d missing", trialID, len(names))
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: class names of trial %d: %w", trialID, err)
	}
	return names, nil
}

// HasPhoto reports whether the experiment's stored split names photo (a
// path relative to its dataset folder, as stored).
func (s *Store) HasPhoto(ctx context.Context, experimentID int64, photo string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM split_units WHERE experiment_id = ? AND photo = ? LIMIT 1`,
		experimentID, photo).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("results: photo %s of experiment %d: %w", photo, experimentID, err)
	}
	return true, nil
}

// BestTrial is an experiment's done current trial with the best test
// accuracy (of equals, the first in the sweep).
type BestTrial struct {
	ExperimentID int64
	Hash         string
	VariantKey   string
	Seed         int64
	Accuracy     float64
}

// BestTrials returns each experiment's BestTrial, for those with a done trial.
func (s *Store) BestTrials(ctx context.Context) ([]BestTrial, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.experiment_id, t.hash, t.variant_key, t.seed, m.accuracy
		FROM trials t JOIN test_metrics m ON m.trial_id = t.id
		WHERE t.status = 'done' AND t.superseded = 0 AND m.accuracy = (
			SELECT max(m2.accuracy) FROM trials t2 JOIN test_metrics m2 ON m2.trial_id = t2.id
			WHERE t2.experiment_id = t.experiment_id AND t2.status = 'done' AND t2.superseded = 0)
		ORDER BY t.experiment_id, t.trial_index, t.id`)
	if err != nil {
		return nil, fmt.Errorf("results: best trials: %w", err)
	}
	defer rows.Close()
	var out []BestTrial
	for rows.Next() {
		var b BestTrial
		if err := rows.Scan(&b.ExperimentID, &b.Hash, &b.VariantKey, &b.Seed, floatScanner{&b.Accuracy}); err != nil {
			return nil, fmt.Errorf("results: best trials: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ExperimentID != b.ExperimentID {
			out = append(out, b)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: best trials: %w", err)
	}
	return out, nil
}

// scanTrialWith scans a row of trialCols followed by more columns.
func scanTrialWith(r scanner, more ...any) (Trial, error) {
	return scanTrial(scanFunc(func(dest ...any) error { return r.Scan(append(dest, more...)...) }))
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// placeholders is n comma-separated ? for an IN list.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// prefixed qualifies each column of a comma-separated list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
