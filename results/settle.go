package results

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// SettleDesign is the sequential design an experiment declared (migration
// 0006): what fixes its boundaries before the first look.
type SettleDesign struct {
	By, Reference, Metric string
	Margin, Alpha         float64
	Round, MaxSeeds       int
	Spending              string
	Seeds                 []int64     // the seed order, MaxSeeds long
	Comparisons           [][2]string // variant and reference keys; alpha is split among them

	DeclaredAt time.Time
	// SeenBefore is how many paired seeds were stored already when the
	// design was declared.
	SeenBefore int
}

// Same reports whether two designs are the same design, whenever and after
// how much they were declared.
func (d SettleDesign) Same(o SettleDesign) bool {
	return d.By == o.By && d.Reference == o.Reference && d.Metric == o.Metric &&
		d.Margin == o.Margin && d.Alpha == o.Alpha && d.Round == o.Round && d.MaxSeeds == o.MaxSeeds &&
		d.Spending == o.Spending && slices.Equal(d.Seeds, o.Seeds) && slices.Equal(d.Comparisons, o.Comparisons)
}

// DeclareSettle stores d as the experiment's design unless it has one, and
// returns the design stored: d, or the one declared before (which replace
// overwrites with d). Concurrent workers declaring the same design agree.
// DeclaredAt is set to now for a design written.
func (s *Store) DeclareSettle(ctx context.Context, experimentID int64, d SettleDesign, replace bool) (SettleDesign, error) {
	seeds, err := json.Marshal(d.Seeds)
	if err != nil {
		return SettleDesign{}, err
	}
	comps, err := json.Marshal(d.Comparisons)
	if err != nil {
		return SettleDesign{}, err
	}
	var stored SettleDesign
	err = s.tx(ctx, func(tx conn) error {
		old, found, err := settleDesign(ctx, tx, experimentID)
		if err != nil {
			return err
		}
		if found && !replace {
			stored = old
			return nil
		}
		d.DeclaredAt = s.now().UTC()
		_, err = tx.ExecContext(ctx, `
			INSERT INTO settle_designs (experiment_id, by_field, reference_value, metric, margin, alpha,
				round_seeds, max_seeds, spending, seeds_json, comparisons_json, declared_at, seen_before)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (experiment_id) DO UPDATE SET
				by_field = excluded.by_field, reference_value = excluded.reference_value,
				metric = excluded.metric, margin = excluded.margin, alpha = excluded.alpha,
				round_seeds = excluded.round_seeds, max_seeds = excluded.max_seeds,
				spending = excluded.spending, seeds_json = excluded.seeds_json,
				comparisons_json = excluded.comparisons_json,
				declared_at = excluded.declared_at, seen_before = excluded.seen_before`,
			experimentID, d.By, d.Reference, d.Metric, d.Margin, d.Alpha,
			d.Round, d.MaxSeeds, d.Spending, string(seeds), string(comps), ts(d.DeclaredAt), d.SeenBefore)
		stored = d
		return err
	})
	if err != nil {
		return SettleDesign{}, fmt.Errorf("results: declare settle design: %w", err)
	}
	return stored, nil
}

// SettleDesign returns the experiment's design; found is false when it
// declared none.
func (s *Store) SettleDesign(ctx context.Context, experimentID int64) (d SettleDesign, found bool, err error) {
	d, found, err = settleDesign(ctx, s.db, experimentID)
	if err != nil {
		return SettleDesign{}, false, fmt.Errorf("results: settle design: %w", err)
	}
	return d, found, nil
}

func settleDesign(ctx context.Context, q conn, experimentID int64) (SettleDesign, bool, error) {
	var d SettleDesign
	var seeds, comps string
	err := q.QueryRowContext(ctx, `
		SELECT by_field, reference_value, metric, margin, alpha, round_seeds, max_seeds, spending,
			seeds_json, comparisons_json, declared_at, seen_before
		FROM settle_designs WHERE experiment_id = ?`, experimentID).Scan(
		&d.By, &d.Reference, &d.Metric, &d.Margin, &d.Alpha, &d.Round, &d.MaxSeeds, &d.Spending,
		&seeds, &comps, timeScanner{&d.DeclaredAt}, &d.SeenBefore)
	if errors.Is(err, sql.ErrNoRows) {
		return SettleDesign{}, false, nil
	}
	if err != nil {
		return SettleDesign{}, false, err
	}
	if err := json.Unmarshal([]byte(seeds), &d.Seeds); err != nil {
		return SettleDesign{}, false, fmt.Errorf("seed order %q: %w", seeds, err)
	}
	if err := json.Unmarshal([]byte(comps), &d.Comparisons); err != nil {
		return SettleDesign{}, false, fmt.Errorf("comparisons %q: %w", comps, err)
	}
	return d, true, nil
}
