package report

import (
	"fmt"
	"math"
	"time"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/plots"
	"github.com/dogrun/dogrun/results"
)

// Figure sizes in pixels.
const (
	wideW, wideH   = 1000, 420
	chartW, chartH = 900, 420
	heatmapSmall   = 760 // up to plots.MaxLabelledClasses classes
	heatmapLarge   = 900
	// heatmapRowPx is the least height of a named row: room for a class
	// name of plots.MinTextPx.
	heatmapRowPx = 24
	maxFigureH   = 4000
)

func (d *Data) mainView(th *thumbs, pics *pictures, now time.Time) (*view, error) {
	v := &view{Data: d, Generated: now.UTC().Format(time.RFC3339), Env: d.environment(), Rows: d.rows(),
		VariantLinks: map[string][]trialLink{}, TensorBoardDir: "trials"}
	for _, t := range d.Trials {
		v.VariantLinks[t.VariantKey] = append(v.VariantLinks[t.VariantKey],
			trialLink{Seed: t.Seed, Dir: trialDir(t), Done: t.Status == results.StatusDone})
	}
	if d.Settle != nil {
		if err := d.Settle.draw(pics); err != nil {
			return nil, err
		}
	}
	var done []Variant
	for _, vr := range d.Variants {
		if vr.Done > 0 {
			done = append(done, vr)
		}
	}
	if d.Search != nil {
		// A search's draws are each a variant of one seed: its figures
		// replace the sweep's, and its top variant is the one it chose.
		if err := v.searchFigures(pics); err != nil {
			return nil, err
		}
	}
	if len(done) == 0 {
		return v, nil
	}
	v.Top = &done[0]
	if d.Search == nil {
		if err := v.sweepFigures(pics, done); err != nil {
			return nil, err
		}
	} else if d.Best != nil {
		for i := range done {
			if done[i].Key == d.Best.VariantKey {
				v.Top = &done[i]
			}
		}
	}
	if err := v.bestFigures(pics, th); err != nil {
		return nil, err
	}
	return v, nil
}

// searchFigures draws the search's figures beside its text.
func (v *view) searchFigures(pics *pictures) error {
	figs, err := v.Search.figures(pics)
	if err != nil {
		return err
	}
	v.SearchFigures = figs
	v.SearchMarkdown, v.SearchHTML = v.searchMarkdown(), v.searchHTML()
	return nil
}

// sweepFigures draws the variants, each swept setting and the validation
// curves.
func (v *view) sweepFigures(pics *pictures, done []Variant) error {
	d := v.Data
	f, err := variantsFigure(pics, done)
	if err != nil {
		return err
	}
	v.Comparison = append(v.Comparison, f)
	for _, ax := range sweepAxes(done) {
		name, title := "axis_"+fileSafe(ax.Path)+".png", "Test accuracy vs "+ax.Path
		png, err := pics.draw(name, []any{title, ax, chartW, chartH}, func() ([]byte, error) {
			return plots.SweepAxis(title, ax.Path, "test accuracy", ax.Values, ax.Positions, ax.Series, plots.PNG, chartW, chartH)
		})
		if err != nil {
			return fmt.Errorf("chart of %s: %w", ax.Path, err)
		}
		caption := fmt.Sprintf("Test accuracy against %s: every seed as a small dot, the mean as a large dot with its 95%% interval", ax.Path)
		if len(ax.Series) > 1 {
			caption += "; one colour per combination of the other swept settings"
		}
		v.Comparison = append(v.Comparison, figure{Name: name, Caption: caption + ".", PNG: png})
	}
	if f, ok, err := d.curvesFigure(pics, done); err != nil {
		return err
	} else if ok {
		v.Comparison = append(v.Comparison, f)
	}
	return nil
}

// bestFigures draws the best trial's learning curve, and the top variant's
// per-dog scores and confusion.
func (v *view) bestFigures(pics *pictures, th *thumbs) error {
	d := v.Data
	if d.Best != nil && len(d.BestEpochs) > 0 {
		f, err := learningCurveFigure(pics, "", fmt.Sprintf("Best trial %d (%s, seed %d)", trialNumber(*d.Best), d.Best.VariantKey, d.Best.Seed), *d.Best, d.BestEpochs)
		if err != nil {
			return err
		}
		f.Caption = "Learning curve of the best trial: loss and accuracy per epoch; its checkpoint is the best epoch."
		v.BestCurve = &f
	}

	// The top variant over all its seeds, not its luckiest seed.
	var reps []metrics.Report
	var classes []string
	for _, t := range v.Top.Trials {
		if r, ok := d.Reports[t.ID]; ok && len(r.PerClass) > 0 {
			if classes == nil {
				classes = classNames(r)
			}
			reps = append(reps, r)
		}
	}
	if len(reps) == 0 {
		return nil
	}
	source := fmt.Sprintf("the %d seeds of %s", len(reps), v.Top.Key)
	if len(reps) == 1 {
		source = "the one finished seed of " + v.Top.Key
	}
	rows := classRows(reps)
	var err error
	if v.ClassF1, err = classF1Figure(pics, "", "Per-class F1 of "+v.Top.Key+" (best variant)", rows, len(reps) > 1); err != nil {
		return err
	}
	v.WorstClasses = worstClasses(rows, 10, th)
	confs := make([][][]int, len(reps))
	for i, r := range reps {
		confs[i] = r.Confusion
	}
	title := "Confusion of " + v.Top.Key + ", 1 seed"
	if len(reps) > 1 {
		title = fmt.Sprintf("Confusion of %s, %d seeds summed", v.Top.Key, len(reps))
	}
	v.Confusion, err = confusionFigure(pics, "", title, sumConfusion(confs), classes, len(reps), source, th)
	return err
}

func classNames(r metrics.Report) []string {
	out := make([]string, len(r.PerClass))
	for i, c := range r.PerClass {
		out[i] = c.Name
	}
	return out
}

func epochPoints(eps []results.Epoch) []plots.EpochPoint {
	pts := make([]plots.EpochPoint, len(eps))
	for i, e := range eps {
		pts[i] = plots.EpochPoint{Epoch: e.Epoch, TrainLoss: e.TrainLoss, ValLoss: e.ValLoss, TrainAccuracy: e.TrainAccuracy, ValAccuracy: e.ValAccuracy}
	}
	return pts
}

// learningCurveFigure draws trial t's learning curve into dir (relative to
// the report's folder, "" or ending in /).
func learningCurveFigure(pics *pictures, dir, title string, t results.Trial, eps []results.Epoch) (figure, error) {
	pts, best, stop := epochPoints(eps), t.BestEpoch, earlyStop(t)
	png, err := pics.draw(dir+"learning_curve.png", []any{title, pts, best, stop, wideW, wideH}, func() ([]byte, error) {
		return plots.LearningCurve(title, pts, best, stop, plots.PNG, wideW, wideH)
	})
	if err != nil {
		return figure{}, fmt.Errorf("learning curve: %w", err)
	}
	return figure{Name: "learning_curve.png", PNG: png}, nil
}

func variantsFigure(pics *pictures, done []Variant) (figure, error) {
	pts := make([]plots.VariantPoints, 0, len(done))
	for _, v := range done {
		lo, hi := math.Max(0, v.Accuracy.Lo), math.Min(1, v.Accuracy.Hi)
		if v.Accuracy.N < 2 {
			lo, hi = math.NaN(), math.NaN()
		}
		pts = append(pts, plots.VariantPoints{Label: v.Key, Values: v.Values, Mean: v.Accuracy.Mean, Lo: lo, Hi: hi})
	}
	h := min(maxFigureH, max(300, 140+60*len(pts)))
	const title = "Test accuracy per variant (dots: seeds; bar: 95% interval)"
	png, err := pics.draw("variants.png", []any{title, pts, chartW, h}, func() ([]byte, error) {
		return plots.VariantComparison(title, "test accuracy", pts, plots.PNG, chartW, h)
	})
	if err != nil {
		return figure{}, fmt.Errorf("variant chart: %w", err)
	}
	return figure{Name: "variants.png", PNG: png,
		Caption: "Test accuracy of every variant, best first: one dot per seed, the mean as a bar and its 95% interval."}, nil
}

// curvesFigure overlays the variants' validation curves; ok is false when no
// variant has stored epochs.
func (d *Data) curvesFigure(pics *pictures, done []Variant) (figure, bool, error) {
	var hs []plots.VariantHistory
	for _, v := range done {
		h := plots.VariantHistory{Label: v.Key}
		for _, t := range v.Trials {
			if eps := d.Epochs[t.ID]; len(eps) > 0 {
				h.Seeds = append(h.Seeds, epochPoints(eps))
			}
		}
		if len(h.Seeds) > 0 {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return figure{}, false, nil
	}
	const title = "Validation curves per variant (line: mean over seeds; band: lowest to highest seed)"
	png, err := pics.draw("curves.png", []any{title, hs, wideW, wideH}, func() ([]byte, error) {
		return plots.VariantCurves(title, hs, plots.PNG, wideW, wideH)
	})
	if err != nil {
		return figure{}, false, fmt.Errorf("validation curves: %w", err)
	}
	return figure{Name: "curves.png", PNG: png,
		Caption: "Validation loss and accuracy per epoch for every variant. A cross marks where a seed stopped; after it the mean is over the seeds still training."}, true, nil
}

// classF1Figure draws class_f1.png into dir (relative to the report's
// folder, "" or ending in /).
func classF1Figure(pics *pictures, dir, title string, rows []ClassRow, spread bool) (*figure, error) {
	scores := make([]plots.ClassScore, len(rows))
	for i, r := range rows {
		scores[i] = plots.ClassScore{Name: r.Class, Value: r.F1, Lo: math.NaN(), Hi: math.NaN()}
		if spread {
			scores[i].Lo, scores[i].Hi = r.F1Lo, r.F1Hi
		}
	}
	w, h := wideW, wideH
	if len(rows) <= plots.MaxLabelledClasses {
		w, h = chartW, min(maxFigureH, max(260, 110+18*len(rows)))
	}
	png, err := pics.draw(dir+"class_f1.png", []any{title, scores, w, h}, func() ([]byte, error) {
		return plots.ClassScores(title, "F1", scores, plots.PNG, w, h)
	})
	if err != nil {
		return nil, fmt.Errorf("per-class F1: %w", err)
	}
	caption := "F1 of every dog on the test photos, best first; the dashed line is the mean over dogs (macro F1)."
	if spread {
		caption = "F1 of every dog on the test photos, averaged over seeds, best first; whiskers span the lowest to the highest seed; the dashed line is the mean over dogs."
	}
	return &figure{Name: "class_f1.png", PNG: png, Caption: caption}, nil
}

// confusionFigure draws confusion.png into dir (relative to the report's
// folder, "" or ending in /).
func confusionFigure(pics *pictures, dir, title string, counts [][]int, classes []string, seeds int, source string, th *thumbs) (*confusionBlock, error) {
	size := max(heatmapSmall, heatmapRowPx*len(classes))
	if len(classes) > plots.MaxLabelledClasses {
		size = heatmapLarge
	}
	title = fmt.Sprintf("%s (%s, row-normalised)", title, english.Count(len(classes), "dog"))
	png, err := pics.draw(dir+"confusion.png", []any{title, counts, classes, size}, func() ([]byte, error) {
		return plots.ConfusionHeatmap(title, counts, classes, plots.PNG, size)
	})
	if err != nil {
		return nil, fmt.Errorf("confusion matrix: %w", err)
	}
	return &confusionBlock{
		Figure: figure{Name: "confusion.png", PNG: png,
			Caption: "Rows: the true dog, columns: the predicted dog; each row shows where that dog's test photos went. Grey rows have no test photos."},
		Pairs:   confusedPairs(counts, classes, th, maxConfusedPairs),
		Classes: len(classes),
		Seeds:   seeds,
		Source:  source,
	}, nil
}
