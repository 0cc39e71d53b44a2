// Package report turns an experiment's stored results into a Markdown file and a
// self-contained HTML file (every picture embedded), plus one page of each
// kind per trial: the environment the trials ran in, variants ranked with
// intervals over seeds, comparison charts, learning curves, confusion
// heatmaps with the most confused dogs shown as photos, and per-class scores.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

// Variant is one point of the sweep with its replicates.
type Variant struct {
	Key      string
	Trials   []results.Trial
	Done     int
	Accuracy metrics.Summary
	Top5     metrics.Summary
	MacroF1  metrics.Summary
	// Values are the per-seed test accuracies, in trial order.
	Values []float64
}

// Data is everything a report shows, read from the store.
type Data struct {
	Experiment results.Experiment
	Trials     []results.Trial
	Metrics    map[int64]results.TrialMetrics
	Variants   []Variant // best mean accuracy first; variants with no finished trial last
	Best       *results.Trial
	BestEpochs []results.Epoch
	BestReport metrics.Report
	Classes    []string

	// Per done trial: its epochs and its test report (per-class scores and
	// confusion matrix).
	Epochs  map[int64][]results.Epoch
	Reports map[int64]metrics.Report
	// Configs holds each trial's resolved config, where it still decodes.
	Configs map[int64]schemas.Experiment
	// Config is the stored experiment file, decoded; nil when it no longer
	// decodes (then the report has no dataset folder and no sweep axes).
	Config *schemas.Experiment
	// DatasetDir is the photo folder the experiment read ("" when unknown);
	// ClassPhotos maps each class to one of its test photos, relative to it.
	DatasetDir  string
	ClassPhotos map[string]string

	// SplitCard describes the stored split; Verdicts compares the first sweep
	// axis's values with its first (dogrun compare picks others). Either is
	// nil when there is nothing to show.
	SplitCard *SplitCard
	Verdicts  *Verdicts
	// GradCAM shows where the best trial looks; the caller fills it in, since
	// the report runs no backbone. Nil: no such section.
	GradCAM *GradCAM
	// OpenSet shows the rejection of held-out dogs; nil without open_set.
	OpenSet *OpenSetCard
	// Search shows a search's draws; nil for a sweep.
	Search *SearchCard
	// Settle shows a settled experiment's verdicts and paths; nil when it
	// declared no settle design.
	Settle *SettleCard

	optionalSections
}

// Gather reads an experiment's results.
func Gather(ctx context.Context, st *results.Store, name string) (*Data, error) {
	exp, err := st.Experiment(ctx, name)
	if err != nil {
		return nil, err
	}
	trials, m, err := trialsAndMetrics(ctx, st, exp)
	if err != nil {
		return nil, err
	}
	d := &Data{Experiment: exp, Trials: trials, Metrics: m, Variants: Rank(trials, m)}
	for i := range trials {
		t := &trials[i]
		tm, ok := m[t.ID]
		if !ok {
			continue
		}
		if d.Best == nil || tm.Accuracy > m[d.Best.ID].Accuracy {
			d.Best = t
		}
	}
	d.Epochs = map[int64][]results.Epoch{}
	d.Reports = map[int64]metrics.Report{}
	d.Configs = map[int64]schemas.Experiment{}
	for _, t := range trials {
		var cfg schemas.Experiment
		if json.Unmarshal([]byte(t.ConfigJSON), &cfg) == nil {
			d.Configs[t.ID] = cfg
		}
		if _, ok := m[t.ID]; !ok {
			continue
		}
		if d.Epochs[t.ID], err = st.Epochs(ctx, t.ID); err != nil {
			return nil, err
		}
		if d.Reports[t.ID], _, err = st.TrialReport(ctx, t.ID); err != nil {
			return nil, err
		}
	}
	if cfg, err := schemas.Decode(exp.File, []byte(exp.ConfigYAML)); err == nil {
		d.Config = cfg
		d.DatasetDir = schemas.DatasetDir(cfg)
		if abs, err := filepath.Abs(d.DatasetDir); err == nil && d.DatasetDir != "" {
			d.DatasetDir = abs
		}
	}
	if err := d.gatherSearch(ctx, st); err != nil {
		return nil, err
	}
	if d.Search != nil && len(d.Search.Studies) > 0 && d.Search.Studies[0].Best != nil {
		// A search's best is what it chose, on validation.
		id := d.Search.Studies[0].Best.Trial.ID
		for i := range d.Trials {
			if d.Trials[i].ID == id {
				d.Best = &d.Trials[i]
			}
		}
	}
	if d.Best != nil {
		d.BestEpochs = d.Epochs[d.Best.ID]
		if d.BestReport, d.Classes, err = st.TrialReport(ctx, d.Best.ID); err != nil {
			return nil, err
		}
		// Every trial tests the same photos, so one trial's predictions name
		// a photo of each class.
		preds, err := st.Predictions(ctx, d.Best.ID)
		if err != nil {
			return nil, err
		}
		d.ClassPhotos = map[string]string{}
		for _, p := range preds {
			if name := d.Classes[p.True]; d.ClassPhotos[name] == "" {
				d.ClassPhotos[name] = p.Photo
			}
		}
	}
	if err := d.gatherSections(ctx, st); err != nil {
		return nil, err
	}
	if err := d.gatherOpenSet(ctx, st); err != nil {
		return nil, err
	}
	if err := d.gatherSettle(ctx, st); err != nil {
		return nil, err
	}
	return d, nil
}

// trialsAndMetrics reads exp's trials and the test metrics of those done.
func trialsAndMetrics(ctx context.Context, st *results.Store, exp results.Experiment) ([]results.Trial, map[int64]results.TrialMetrics, error) {
	trials, err := st.Trials(ctx, exp.ID)
	if err != nil {
		return nil, nil, err
	}
	m, err := st.TestMetrics(ctx, exp.ID)
	return trials, m, err
}

// Rank groups trials by variant and orders the variants by mean test accuracy.
func Rank(trials []results.Trial, m map[int64]results.TrialMetrics) []Variant {
	byKey := map[string]*Variant{}
	var order []string
	for _, t := range trials {
		v, ok := byKey[t.VariantKey]
		if !ok {
			v = &Variant{Key: t.VariantKey}
			byKey[t.VariantKey] = v
			order = append(order, t.VariantKey)
		}
		v.Trials = append(v.Trials, t)
	}
	out := make([]Variant, 0, len(order))
	for _, k := range order {
		v := byKey[k]
		var acc, top5, f1 []float64
		for _, t := range v.Trials {
			tm, ok := m[t.ID]
			if !ok {
				continue
			}
			acc = append(acc, tm.Accuracy)
			top5 = append(top5, tm.Top5)
			f1 = append(f1, tm.MacroF1)
		}
		v.Done = len(acc)
		v.Values = acc
		v.Accuracy, v.Top5, v.MacroF1 = metrics.Summarize(acc), metrics.Summarize(top5), metrics.Summarize(f1)
		out = append(out, *v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Accuracy.Mean, out[j].Accuracy.Mean
		if out[i].Done == 0 || out[j].Done == 0 {
			return out[i].Done > out[j].Done
		}
		return a > b
	})
	return out
}

// Interval formats a summary of a proportion as "0.812 [0.790, 0.834]". The
// t interval can reach past 0 or 1 with few seeds; it is cut to the range a
// proportion can take.
func Interval(s metrics.Summary) string {
	switch {
	case s.N == 0:
		return "–"
	case s.N == 1 || math.IsNaN(s.Lo):
		return fmt.Sprintf("%.3f", s.Mean)
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", s.Mean, math.Max(0, s.Lo), math.Min(1, s.Hi))
}
