package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Experiment is one declared experiment (a run file).
type Experiment struct {
	ID                 int64
	Name               string
	File               string // the run file it was read from
	ConfigYAML         string // the run file's text, kept for reproducibility
	DatasetFingerprint string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

const experimentCols = `id, name, file, config_yaml, dataset_fingerprint, created_at, updated_at`

// PutExperiment inserts the experiment, or updates the one with the same
// name (keeping its id and creation time), and returns its id. ID,
// CreatedAt and UpdatedAt of e are ignored.
func (s *Store) PutExperiment(ctx context.Context, e Experiment) (int64, error) {
	if e.Name == "" {
		return 0, errors.New("results: experiment has no name")
	}
	now := ts(s.now())
	var id int64
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO experiments (name, file, config_yaml, dataset_fingerprint, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET
			file = excluded.file,
			config_yaml = excluded.config_yaml,
			dataset_fingerprint = excluded.dataset_fingerprint,
			updated_at = excluded.updated_at
		RETURNING id`,
		e.Name, e.File, e.ConfigYAML, e.DatasetFingerprint, now, now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("results: put experiment %q: %w", e.Name, err)
	}
	return id, nil
}

// Experiment returns the experiment called name.
func (s *Store) Experiment(ctx context.Context, name string) (Experiment, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+experimentCols+` FROM experiments WHERE name = ?`, name)
	e, err := scanExperiment(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Experiment{}, s.noExperiment(ctx, name)
	}
	if err != nil {
		return Experiment{}, fmt.Errorf("results: experiment %q: %w", name, err)
	}
	return e, nil
}

// Experiments lists all experiments by name.
func (s *Store) Experiments(ctx context.Context) ([]Experiment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+experimentCols+` FROM experiments ORDER BY name`+s.d.collate)
	if err != nil {
		return nil, fmt.Errorf("results: experiments: %w", err)
	}
	defer rows.Close()
	var out []Experiment
	for rows.Next() {
		e, err := scanExperiment(rows)
		if err != nil {
			return nil, fmt.Errorf("results: experiments: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results: experiments: %w", err)
	}
	return out, nil
}

// noExperiment says that name is not in this database, and what is.
func (s *Store) noExperiment(ctx context.Context, name string) error {
	exps, err := s.Experiments(ctx)
	if err != nil {
		return err
	}
	holds := "none"
	if len(exps) > 0 {
		var names []string
		for _, e := range exps[:min(len(exps), 8)] {
			names = append(names, e.Name)
		}
		if len(exps) > 8 {
			names = append(names, "...")
		}
		holds = strings.Join(names, ", ")
	}
	return &notFound{fmt.Sprintf("no experiment %q in %s (it holds %s)", name, s.where, holds)}
}

// notFound is an ErrNotFound whose message says the whole story.
type notFound struct{ msg string }

func (e *notFound) Error() string        { return e.msg }
func (e *notFound) Is(target error) bool { return target == ErrNotFound }

type scanner interface{ Scan(dest ...any) error }

func scanExperiment(r scanner) (Experiment, error) {
	var e Experiment
	err := r.Scan(&e.ID, &e.Name, &e.File, &e.ConfigYAML, &e.DatasetFingerprint,
		timeScanner{&e.CreatedAt}, timeScanner{&e.UpdatedAt})
	return e, err
}
