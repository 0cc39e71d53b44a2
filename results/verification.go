package results

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dogrun/dogrun/verify"
)

// Verification is what an evaluation trial measured on one draw of dogs no
// head was trained on (migration 0009): pairs of photos judged same dog or
// not, and one-shot identification against a gallery of one photo per dog.
type Verification struct {
	Dogs, Photos  int // the measured dogs and their photos
	ThresholdDogs int // other dogs, whose pairs chose Threshold
	Genuine       int // pairs of photos of one dog
	Impostor      int // pairs of photos of two dogs
	Threshold     float64
	// GenuineAccepted and ImpostorRejected are the pairs decided right at
	// Threshold, of the genuine pairs and as many impostor pairs (balanced,
	// as the DogFaceNet authors' pairs are; the other impostor pairs serve
	// the TAR at low FAR).
	GenuineAccepted, ImpostorRejected int
	BestAccuracy                      float64 // of the balanced pairs at their own best threshold
	AUC                               float64
	TARs                              []verify.TAR   // by target FAR, ascending
	ROC                               []verify.Point // thinned (verify.ThinROC)
	Gallery, Queries                  int
	CMC                               []int // queries found within rank 1, 2, ...
}

// Accuracy is the share of the balanced pairs decided right at Threshold.
func (v *Verification) Accuracy() float64 {
	return ratio(v.GenuineAccepted+v.ImpostorRejected, v.Genuine+min(v.Genuine, v.Impostor))
}

// Rank is the share of queries whose dog is among the k most similar
// gallery photos (k from 1); NaN beyond the stored ranks.
func (v *Verification) Rank(k int) float64 {
	if k < 1 || k > len(v.CMC) {
		return ratio(0, 0)
	}
	return ratio(v.CMC[k-1], v.Queries)
}

func ratio(a, b int) float64 {
	if b == 0 {
		var nan float64
		return nan / nan
	}
	return float64(a) / float64(b)
}

func insertVerification(ctx context.Context, tx conn, trialID int64, v *Verification) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO verification
		(trial_id, dogs, photos, threshold_dogs, genuine, impostor, threshold, genuine_accepted, impostor_rejected,
		 best_accuracy, auc, gallery, queries)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		trialID, v.Dogs, v.Photos, v.ThresholdDogs, v.Genuine, v.Impostor, v.Threshold, v.GenuineAccepted, v.ImpostorRejected,
		v.BestAccuracy, v.AUC, v.Gallery, v.Queries); err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	for _, t := range v.TARs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO verification_tar (trial_id, target_far, threshold, allowed, tar, far)
			VALUES (?, ?, ?, ?, ?, ?)`, trialID, t.TargetFAR, t.Threshold, t.Allowed, t.TAR, t.FAR); err != nil {
			return fmt.Errorf("verification TAR at %g: %w", t.TargetFAR, err)
		}
	}
	roc, err := tx.PrepareContext(ctx, `INSERT INTO verification_roc (trial_id, step, far, tar) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer roc.Close()
	for i, p := range v.ROC {
		if _, err := roc.ExecContext(ctx, trialID, i, p.FAR, p.TAR); err != nil {
			return fmt.Errorf("verification ROC point %d: %w", i, err)
		}
	}
	for i, hits := range v.CMC {
		if _, err := tx.ExecContext(ctx, `INSERT INTO one_shot_cmc (trial_id, rank, hits) VALUES (?, ?, ?)`, trialID, i+1, hits); err != nil {
			return fmt.Errorf("one-shot rank %d: %w", i+1, err)
		}
	}
	return nil
}

// Verifications returns the verification results of the experiment's done
// trials, keyed by trial id; trials of other experiments' kinds are absent.
func (s *Store) Verifications(ctx context.Context, experimentID int64) (map[int64]*Verification, error) {
	fail := func(err error) (map[int64]*Verification, error) {
		return nil, fmt.Errorf("results: verification: %w", err)
	}
	const done = ` JOIN trials t ON t.id = x.trial_id WHERE t.experiment_id = ? AND t.status = 'done'`
	rows, err := s.db.QueryContext(ctx, `SELECT x.trial_id, x.dogs, x.photos, x.threshold_dogs, x.genuine, x.impostor, x.threshold,
		x.genuine_accepted, x.impostor_rejected, x.best_accuracy, x.auc, x.gallery, x.queries FROM verification x`+done, experimentID)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	out := map[int64]*Verification{}
	for rows.Next() {
		var id int64
		var v Verification
		if err := rows.Scan(&id, &v.Dogs, &v.Photos, &v.ThresholdDogs, &v.Genuine, &v.Impostor, floatScanner{&v.Threshold},
			&v.GenuineAccepted, &v.ImpostorRejected, floatScanner{&v.BestAccuracy}, floatScanner{&v.AUC}, &v.Gallery, &v.Queries); err != nil {
			return fail(err)
		}
		out[id] = &v
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	// Each child table's rows, in order, appended to their trial's; a trial
	// finished after the first query is not part of this read.
	tars := func(rows *sql.Rows) error {
		var id int64
		var t verify.TAR
		if err := rows.Scan(&id, &t.TargetFAR, floatScanner{&t.Threshold}, &t.Allowed, floatScanner{&t.TAR}, floatScanner{&t.FAR}); err != nil {
			return err
		}
		if v, ok := out[id]; ok {
			t.Impostors = v.Impostor
			v.TARs = append(v.TARs, t)
		}
		return nil
	}
	roc := func(rows *sql.Rows) error {
		var id int64
		var p verify.Point
		if err := rows.Scan(&id, &p.FAR, &p.TAR); err != nil {
			return err
		}
		if v, ok := out[id]; ok {
			v.ROC = append(v.ROC, p)
		}
		return nil
	}
	cmc := func(rows *sql.Rows) error {
		var id int64
		var hits int
		if err := rows.Scan(&id, &hits); err != nil {
			return err
		}
		if v, ok := out[id]; ok {
			v.CMC = append(v.CMC, hits)
		}
		return nil
	}
	for _, c := range []struct {
		query string
		row   func(*sql.Rows) error
	}{
		{`SELECT x.trial_id, x.target_far, x.threshold, x.allowed, x.tar, x.far FROM verification_tar x` + done + ` ORDER BY x.trial_id, x.target_far`, tars},
		{`SELECT x.trial_id, x.far, x.tar FROM verification_roc x` + done + ` ORDER BY x.trial_id, x.step`, roc},
		{`SELECT x.trial_id, x.hits FROM one_shot_cmc x` + done + ` ORDER BY x.trial_id, x.rank`, cmc},
	} {
		if err := s.eachRow(ctx, c.query, experimentID, c.row); err != nil {
			return fail(err)
		}
	}
	return out, nil
}

// eachRow runs query with arg and calls row on every row.
func (s *Store) eachRow(ctx context.Context, query string, arg int64, row func(*sql.Rows) error) error {
	rows, err := s.db.QueryContext(ctx, query, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
