package serve

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/dogrun/dogrun/plots"
	"github.com/dogrun/dogrun/report"
	"github.com/dogrun/dogrun/results"
)

// Chart sizes in pixels, as the report draws them.
const (
	wideW, wideH   = 1000, 420
	chartW         = 900
	confusionPx    = 640
	chartVariants  = 15 // the best variants the variant chart shows
	curvesVariants = 6  // and the curves: more bands would hide each other
)

// chart serves a chart as SVG, drawn by package plots from the current
// results and kept until they change.
func (s *Server) chart(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	q := r.URL.Query()
	var key string
	var draw func() ([]byte, error)
	switch name := r.PathValue("chart"); name {
	case "curves.svg", "variants.svg":
		d, err := s.experimentData(c, q.Get("e"))
		if err != nil {
			return err
		}
		key = name + "\x00" + strconv.FormatInt(d.Exp.ID, 10) + "\x00" + d.Version
		if name == "curves.svg" {
			draw = func() ([]byte, error) { return s.curves(r, d) }
		} else {
			draw = func() ([]byte, error) { return variantsChart(d) }
		}
	case "settle.svg":
		d, err := s.experimentData(c, q.Get("e"))
		if err != nil {
			return err
		}
		i := atoi(q.Get("i"))
		if d.Settle == nil || i < 0 || i >= len(d.Settle.Paths) || d.Settle.Paths[i].Chart == "" {
			return notFound("experiment %s has no settled path %q to draw", d.Exp.Name, q.Get("i"))
		}
		key = name + "\x00" + strconv.FormatInt(d.Exp.ID, 10) + "\x00" + d.Version + "\x00" + strconv.Itoa(i)
		draw = func() ([]byte, error) { return d.Settle.card.Chart(i, plots.SVG, chartW, wideH) }
	case "learning.svg", "confusion.svg":
		_, t, err := s.trial(c, q.Get("id"))
		if err != nil {
			return err
		}
		if t.Status != results.StatusDone {
			return notFound("trial %s is %s: it has no %s yet", t.Hash[:12], t.Status, name)
		}
		key = name + "\x00" + t.Hash + "\x00" + t.FinishedAt.String()
		title := fmt.Sprintf("Trial %d (%s)", t.Index+1, describeTrial(t))
		if name == "learning.svg" {
			draw = func() ([]byte, error) {
				eps, err := s.st.Epochs(c, t.ID)
				if err != nil {
					return nil, err
				}
				return report.LearningCurve(title, t, eps, plots.SVG, wideW, wideH)
			}
		} else {
			draw = func() ([]byte, error) {
				rep, names, err := s.st.TrialReport(c, t.ID)
				if err != nil {
					return nil, err
				}
				return plots.ConfusionHeatmap("Confusion of "+title, rep.Confusion, names, plots.SVG, confusionPx)
			}
		}
	default:
		return notFound("no chart %q", name)
	}
	b, err := cached(s.memo, "chart\x00"+key, draw)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", svgCSP)
	h.Set("Cache-Control", "private, max-age=600") // its URL names the version it shows
	_, err = w.Write(b)
	return err
}

// curves overlays the validation curves of the best variants.
func (s *Server) curves(r *http.Request, d *expData) ([]byte, error) {
	var keys []string
	for _, v := range d.Variants {
		if v.Done > 0 && len(keys) < curvesVariants {
			keys = append(keys, v.Key)
		}
	}
	if len(keys) == 0 {
		return nil, notFound("no trial of %s is done yet", d.Exp.Name)
	}
	c, cancel := ctx(r)
	defer cancel()
	eps, err := s.st.VariantEpochs(c, d.Exp.ID, keys)
	if err != nil {
		return nil, err
	}
	var hs []plots.VariantHistory
	for _, k := range keys {
		var trials [][]results.Epoch
		for _, te := range eps {
			if te.VariantKey == k {
				trials = append(trials, te.Epochs)
			}
		}
		if h := report.History(k, trials); len(h.Seeds) > 0 {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return nil, notFound("the done trials of %s stored no epochs", d.Exp.Name)
	}
	title := "Validation curves of the best variants (line: mean over seeds; band: lowest to highest seed)"
	return plots.VariantCurves(title, hs, plots.SVG, wideW, wideH)
}

// variantsChart draws the best variants' test accuracies, one dot a seed.
func variantsChart(d *expData) ([]byte, error) {
	values := map[string][]float64{}
	for _, p := range d.Points {
		if p.Status == results.StatusDone && !math.IsNaN(p.Accuracy) {
			values[p.VariantKey] = append(values[p.VariantKey], p.Accuracy)
		}
	}
	var pts []plots.VariantPoints
	for _, v := range d.Variants {
		if len(values[v.Key]) == 0 || len(pts) == chartVariants {
			continue
		}
		lo, hi := math.Max(0, v.Accuracy.Lo), math.Min(1, v.Accuracy.Hi)
		if v.Accuracy.N < 2 {
			lo, hi = math.NaN(), math.NaN()
		}
		pts = append(pts, plots.VariantPoints{Label: v.Key, Values: values[v.Key], Mean: v.Accuracy.Mean, Lo: lo, Hi: hi})
	}
	if len(pts) == 0 {
		return nil, notFound("no trial of %s is done yet", d.Exp.Name)
	}
	title := "Test accuracy per variant (dots: seeds; bar: 95% interval)"
	if len(d.Variants) > chartVariants {
		title = fmt.Sprintf("Test accuracy of the best %d variants (dots: seeds; bar: 95%% interval)", len(pts))
	}
	h := min(4000, max(300, 140+60*len(pts)))
	return plots.VariantComparison(title, "test accuracy", pts, plots.SVG, chartW, h)
}
