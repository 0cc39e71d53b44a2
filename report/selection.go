package report

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

// ValidationRow is one variant as a choice between configurations sees it:
// its validation accuracy and loss at each done trial's best epoch. Test
// photos play no part, so the row that comes first may be chosen and then
// measured on test without flattering it.
type ValidationRow struct {
	Variant  string
	Trials   int             // done trials (seeds, times folds)
	Accuracy metrics.Summary // over the trials, 95% t interval
	Loss     float64         // mean
}

// RankByValidation ranks the variants of done trials by mean validation
// accuracy at the best epoch, a lower mean validation loss first among
// equals. epochs holds each trial's epochs; a trial without its best
// epoch among them (not done) is left out.
func RankByValidation(trials []results.Trial, epochs map[int64][]results.Epoch) []ValidationRow {
	acc, loss := map[string][]float64{}, map[string][]float64{}
	var order []string
	for _, t := range trials {
		i := slices.IndexFunc(epochs[t.ID], func(e results.Epoch) bool { return e.Epoch == t.BestEpoch })
		if t.Status != results.StatusDone || i < 0 {
			continue
		}
		if _, seen := acc[t.VariantKey]; !seen {
			order = append(order, t.VariantKey)
		}
		e := epochs[t.ID][i]
		acc[t.VariantKey] = append(acc[t.VariantKey], e.ValAccuracy)
		loss[t.VariantKey] = append(loss[t.VariantKey], e.ValLoss)
	}
	rows := make([]ValidationRow, len(order))
	for i, v := range order {
		rows[i] = ValidationRow{Variant: v, Trials: len(acc[v]), Accuracy: metrics.Summarize(acc[v]), Loss: metrics.Summarize(loss[v]).Mean}
	}
	slices.SortStableFunc(rows, func(a, b ValidationRow) int {
		// Means of the same accuracies summed in another order may differ
		// in their last bit; that is a tie.
		if math.Abs(a.Accuracy.Mean-b.Accuracy.Mean) > 1e-9 {
			return cmp.Compare(b.Accuracy.Mean, a.Accuracy.Mean)
		}
		return cmp.Compare(a.Loss, b.Loss)
	})
	return rows
}

// Validation reads experiment name's done trials and ranks its variants
// by validation (RankByValidation).
func Validation(ctx context.Context, st *results.Store, name string) ([]ValidationRow, error) {
	exp, err := st.Experiment(ctx, name)
	if err != nil {
		return nil, err
	}
	trials, err := st.Trials(ctx, exp.ID)
	if err != nil {
		return nil, err
	}
	epochs := map[int64][]results.Epoch{}
	for _, t := range trials {
		if t.Status != results.StatusDone {
			continue
		}
		if epochs[t.ID], err = st.Epochs(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	return RankByValidation(trials, epochs), nil
}
