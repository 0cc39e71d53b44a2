package report

import (
	"github.com/dogrun/dogrun/plots"
	"github.com/dogrun/dogrun/results"
)

// LearningCurve draws trial t's learning curve as its report page does
// (best epoch and early stop marked), in format f, for other pages (the
// live dashboard).
func LearningCurve(title string, t results.Trial, eps []results.Epoch, f plots.Format, widthPx, heightPx int) ([]byte, error) {
	return plots.LearningCurve(title, epochPoints(eps), t.BestEpoch, earlyStop(t), f, widthPx, heightPx)
}

// History is a variant's training histories, one per done trial, for
// plots.VariantCurves.
func History(label string, trials [][]results.Epoch) plots.VariantHistory {
	h := plots.VariantHistory{Label: label}
	for _, eps := range trials {
		if len(eps) > 0 {
			h.Seeds = append(h.Seeds, epochPoints(eps))
		}
	}
	return h
}
