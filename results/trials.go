package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TrialStatus is the life-cycle state of a trial.
type TrialStatus string

// Trial states: pending -> running -> done | pruned | failed. A failed trial
// with attempts left, a released trial and a running trial whose worker went
// silent can be claimed again. A pruned trial was stopped by a search's
// pruner: it has its curve but no test results.
const (
	StatusPending TrialStatus = "pending"
	StatusRunning TrialStatus = "running"
	StatusDone    TrialStatus = "done"
	StatusPruned  TrialStatus = "pruned"
	StatusFailed  TrialStatus = "failed"
)

// Trial is one point of a sweep: a variant of the config with one seed.
type Trial struct {
	ID           int64
	ExperimentID int64
	Hash         string // identity of the trial's resolved config; unique per experiment
	Index        int    // position in the run file's expansion; claim order
	Seed         int64
	VariantKey   string
	VariantJSON  string
	ConfigJSON   string
	Fold         int // 0 for a holdout split, 1..K for k-fold (migration 0002)

	Status   TrialStatus
	Worker   string
	Attempts int
	Error    string

	StartedAt, FinishedAt, HeartbeatAt *time.Time

	GoVersion, GitCommit string
	GitDirty             bool
	BackboneSHA256       string
	CheckpointPath       string
	BestEpoch            int
	StoppedEpoch         int
	DurationSeconds      float64
	FitCPUSeconds        float64 // the head's fit on its thread (migration 0007); 0 when not measured
}

const trialCols = `id, experiment_id, hash, trial_index, seed, variant_key, variant_json, config_json,
	status, worker, attempts, error, started_at, finished_at, heartbeat_at,
	go_version, git_commit, git_dirty, backbone_sha256, checkpoint_path,
	best_epoch, stopped_epoch, duration_seconds, fold, pruned, fit_cpu_seconds`

func scanTrial(r scanner) (Trial, error) {
	var t Trial
	var status string
	var pruned bool
	err := r.Scan(&t.ID, &t.ExperimentID, &t.Hash, &t.Index, &t.Seed, &t.VariantKey, &t.VariantJSON, &t.ConfigJSON,
		&status, &t.Worker, &t.Attempts, &t.Error,
		nullTimeScanner{&t.StartedAt}, nullTimeScanner{&t.FinishedAt}, nullTimeScanner{&t.HeartbeatAt},
		&t.GoVersion, &t.GitCommit, &t.GitDirty, &t.BackboneSHA256, &t.CheckpointPath,
		&t.BestEpoch, &t.StoppedEpoch, &t.DurationSeconds, &t.Fold, &pruned, &t.FitCPUSeconds)
	t.Status = TrialStatus(status)
	if pruned && t.Status == StatusDone {
		t.Status = StatusPruned // see migration 0007
	}
	return t, err
}

// RegisterTrials inserts, as pending, the trials the experiment does not
// have yet (by Hash), leaving existing rows and their results untouched, and
// returns how many were new. Only the identity fields (Hash, Index, Seed,
// VariantKey, VariantJSON, ConfigJSON, Fold) of the given trials are used.
// The given set becomes the experiment's current one: stored trials not in it
// are marked superseded (kept, with their results, but no longer listed), and
// a superseded trial registered again is current again.
func (s *Store) RegisterTrials(ctx context.Context, experimentID int64, trials []Trial) (int, error) {
	hashes := make([]string, len(trials))
	for i, t := range trials {
		hashes[i] = t.Hash
	}
	return s.RegisterTrialsOf(ctx, experimentID, trials, hashes)
}

// RegisterTrialsOf is RegisterTrials for a set of trials registered in parts,
// as a settled experiment registers its rounds: it inserts trials, and the
// current set is current, which must hold every trial of trials. So a
// worker registering the first round marks nothing of a later round, which
// another worker may have registered, superseded.
func (s *Store) RegisterTrialsOf(ctx context.Context, experimentID int64, trials []Trial, current []string) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx conn) error {
		if err := s.lockExperiment(ctx, tx, experimentID); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `
			INSERT INTO trials (experiment_id, hash, trial_index, seed, variant_key, variant_json, config_json, fold)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (experiment_id, hash) DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, t := range trials {
			if t.Hash == "" {
				return fmt.Errorf("trial %d has no hash", t.Index)
			}
			res, err := st.ExecContext(ctx, experimentID, t.Hash, t.Index, t.Seed, t.VariantKey, t.VariantJSON, t.ConfigJSON, t.Fold)
			if err != nil {
				return fmt.Errorf("trial %s: %w", t.Hash, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		// Only rows whose flag changes are written (and, on PostgreSQL, locked).
		superseded := `CASE WHEN hash IN (` + s.d.jsonList + `) THEN 0 ELSE 1 END`
		list := jsonStrings(current)
		_, err = tx.ExecContext(ctx, `UPDATE trials SET superseded = `+superseded+`
			WHERE experiment_id = ? AND superseded <> `+superseded, list, experimentID, list)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("results: register trials: %w", err)
	}
	return added, nil
}

// lockExperiment makes the transaction's changes to an experiment's trials
// and splits wait for those of other transactions (SQLite's write
// transactions wait for each other anyway): two workers registering one
// experiment at once would otherwise both insert its split.
func (s *Store) lockExperiment(ctx context.Context, tx conn, experimentID int64) error {
	if !s.d.postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT id FROM experiments WHERE id = ?`+s.d.lockRows, experimentID)
	return err
}

// Claim atomically picks the experiment's next claimable current (not
// superseded) trial by Index and marks it running under worker: attempts+1,
// started and heartbeat now, error cleared, and a new attempt logged.
// Claimable are pending trials, failed trials with fewer than maxAttempts
// attempts, and running trials whose heartbeat is older than staleAfter
// (their worker is presumed dead) with attempts left. A stale running trial
// without attempts left is marked failed so it stops looking alive.
// staleAfter <= 0 never reclaims running trials; maxAttempts < 1 counts as
// 1. Trials whose hash is in skip are passed over (a worker's own failures,
// not to be retried at once). Claim returns (nil, nil) when nothing is left.
//
// The sweep's hashes are not a parameter: a claim would then cost as much
// as the sweep is long (PostgreSQL's planner, without statistics on a new
// table, compared each trial with each hash: 0.3 s a claim for 1,000).
func (s *Store) Claim(ctx context.Context, experimentID int64, worker string,
	staleAfter time.Duration, maxAttempts int, skip ...string) (*Trial, error) {
	if worker == "" {
		return nil, errors.New("results: claim: empty worker name")
	}
	maxAttempts = max(maxAttempts, 1)
	now := s.now()
	nowS := ts(now)
	// With no staleness window, a cutoff before every timestamp matches nothing.
	cutoff := ""
	if staleAfter > 0 {
		cutoff = ts(now.Add(-staleAfter))
	}
	filter, args := " AND superseded = 0", []any{}
	if len(skip) > 0 {
		filter += " AND hash NOT IN (" + s.d.jsonList + ")"
		args = append(args, jsonStrings(skip))
	}
	withFilter := func(a ...any) []any { return append(a, args...) }
	silent := `status = 'running' AND coalesce(heartbeat_at, '')` + s.d.collate + ` < ?`

	var claimed *Trial
	err := s.tx(ctx, func(tx conn) error {
		// No statement here waits for a row another worker holds (rows are
		// locked only through SKIP LOCKED), so claims cannot deadlock.
		rows, err := tx.QueryContext(ctx, `
			UPDATE trials SET status = 'failed', finished_at = ?,
				error = 'worker ' || worker || ' stopped sending heartbeats and no attempts are left'
			WHERE id IN (SELECT id FROM trials WHERE experiment_id = ? AND `+silent+` AND attempts >= ?`+filter+s.d.skipLocked+`)
			RETURNING id, worker`,
			withFilter(nowS, experimentID, cutoff, maxAttempts)...)
		if err != nil {
			return err
		}
		lost := map[int64]string{}
		for rows.Next() {
			var id int64
			var w string
			if err := rows.Scan(&id, &w); err != nil {
				rows.Close()
				return err
			}
			lost[id] = w
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for id, w := range lost {
			if err := s.endAttempt(ctx, tx, id, w, "lost"); err != nil {
				return err
			}
		}

		t, err := scanTrial(tx.QueryRowContext(ctx, `
			UPDATE trials SET status = 'running', worker = ?, attempts = attempts + 1, error = '',
				started_at = ?, heartbeat_at = ?, finished_at = NULL
			WHERE id = (
				SELECT id FROM trials
				WHERE experiment_id = ? AND (
					status = 'pending'
					OR (status = 'failed' AND attempts < ?)
					OR (`+silent+` AND attempts < ?))`+filter+`
				ORDER BY trial_index, id
				LIMIT 1`+s.d.skipLocked+`)
			RETURNING `+trialCols,
			withFilter(worker, nowS, nowS, experimentID, maxAttempts, cutoff, maxAttempts)...))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		id := t.ID
		// The attempt of a silent worker whose trial this was ends here.
		if _, err := tx.ExecContext(ctx, `UPDATE trial_attempts SET ended_at = ?, outcome = 'taken over'
			WHERE trial_id = ? AND ended_at IS NULL`, nowS, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO trial_attempts (trial_id, attempt, worker, claimed_at)
			VALUES (?, (SELECT coalesce(max(attempt), 0) + 1 FROM trial_attempts WHERE trial_id = ?), ?, ?)`,
			id, id, worker, nowS); err != nil {
			return err
		}
		claimed = &t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("results: claim: %w", err)
	}
	return claimed, nil
}

// endAttempt closes worker's open attempt of the trial with outcome.
func (s *Store) endAttempt(ctx context.Context, tx conn, trialID int64, worker, outcome string) error {
	_, err := tx.ExecContext(ctx, `UPDATE trial_attempts SET ended_at = ?, outcome = ?
		WHERE trial_id = ? AND worker = ? AND ended_at IS NULL`, ts(s.now()), outcome, trialID, worker)
	return err
}

// Heartbeat records that worker is still working on the trial. It fails
// with ErrNotOwned when the trial is no longer running under worker (e.g.
// it was reclaimed as stale), in which case the worker should stop.
func (s *Store) Heartbeat(ctx context.Context, trialID int64, worker string) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE trials SET heartbeat_at = ?
		WHERE id = ? AND worker = ? AND status = 'running'`,
		ts(s.now()), trialID, worker)
	return ownedUpdate("heartbeat", trialID, worker, res, err)
}

// ReleaseTrial hands a running trial back (e.g. on Ctrl-C): it becomes
// pending again and the attempt does not count.
func (s *Store) ReleaseTrial(ctx context.Context, trialID int64, worker string) error {
	return s.endOwned(ctx, "release", trialID, worker, "released", `
		UPDATE trials SET status = 'pending', worker = '',
			attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
			started_at = NULL, heartbeat_at = NULL
		WHERE id = ? AND worker = ? AND status = 'running'`,
		trialID, worker)
}

// Fail marks a running trial of worker as failed with msg. It can be
// claimed again while it has attempts left.
func (s *Store) Fail(ctx context.Context, trialID int64, worker string, msg string) error {
	return s.endOwned(ctx, "fail", trialID, worker, "failed", `
		UPDATE trials SET status = 'failed', error = ?, finished_at = ?
		WHERE id = ? AND worker = ? AND status = 'running'`,
		msg, ts(s.now()), trialID, worker)
}

// endOwned runs update, which changes the trial only while it runs under
// worker, and closes worker's attempt with outcome.
func (s *Store) endOwned(ctx context.Context, op string, trialID int64, worker, outcome, update string, args ...any) error {
	return s.tx(ctx, func(tx conn) error {
		res, err := tx.ExecContext(ctx, update, args...)
		if err := ownedUpdate(op, trialID, worker, res, err); err != nil {
			return err
		}
		return s.endAttempt(ctx, tx, trialID, worker, outcome)
	})
}

func ownedUpdate(op string, trialID int64, worker string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("results: %s trial %d: %w", op, trialID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("results: %s trial %d: %w", op, trialID, err)
	}
	if n == 0 {
		return fmt.Errorf("results: %s trial %d by %s: %w", op, trialID, worker, ErrNotOwned)
	}
	return nil
}

// Trials lists the experiment's current (not superseded) trials by Index.
func (s *Store) Trials(ctx context.Context, experimentID int64) ([]Trial, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+trialCols+` FROM trials
		WHERE experiment_id = ? AND superseded = 0 ORDER BY trial_index, id`, experimentID)
	if err != nil {
		return nil, fmt.Errorf("results: trials: %w", err)
	}
	defer rows.Close()
	var out []Trial
	for rows.Next() {
		t, err := scanTrial(rows)
		if err != nil {
			return nil, fmt.Errorf("results: trials: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: trials: %w", err)
	}
	return out, nil
}
