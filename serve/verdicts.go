package serve

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/dogrun/dogrun/report"
)

// maxVerdictRows bounds a verdict table: each row is a bootstrap and a test,
// and a table of hundreds of variants helps nobody read a comparison.
const maxVerdictRows = 60

// verdictForm is the choice of what the verdicts compare.
type verdictForm struct {
	By, Ref, Metric string
	Axes            []axisValues // the sweep axes, then whole variants
	Disabled        string       // why there is nothing to compare
}

// verdictForm reads the page's choice: by an axis ("" = the first, or
// report.ByVariant), against a reference value of it ("" or one it does not
// have = its first), on top1 or top5.
func (s *Server) verdictForm(d *expData, by, ref, metric string) verdictForm {
	f := verdictForm{By: by, Ref: ref, Metric: metric}
	switch {
	case len(d.Axes) == 0:
		f.Disabled = "This experiment sweeps nothing, so there is nothing to compare."
		return f
	case len(d.Variants) > maxVerdictRows:
		f.Disabled = fmt.Sprintf("%d variants: too many for one table of verdicts (at most %d). "+
			"Compare chosen variants side by side instead (tick them in the table of variants), or "+
			"narrow the comparison with dogrun compare -where AXIS=VALUE.", len(d.Variants), maxVerdictRows)
		return f
	}
	f.Axes = append(slices.Clone(d.Axes), axisValues{Path: report.ByVariant, Values: variantKeys(d)})
	i := slices.IndexFunc(f.Axes, func(a axisValues) bool { return a.Path == f.By })
	if i < 0 {
		f.By, i = f.Axes[0].Path, 0
	}
	if !slices.Contains(f.Axes[i].Values, f.Ref) {
		f.Ref = f.Axes[i].Values[0]
	}
	if f.Metric != "top5" {
		f.Metric = "top1"
	}
	return f
}

// variantKeys are the experiment's variants in sweep order.
func variantKeys(d *expData) []string {
	var keys []string
	seen := map[string]bool{}
	for _, p := range d.Points {
		if !seen[p.VariantKey] {
			keys, seen[p.VariantKey] = append(keys, p.VariantKey), true
		}
	}
	return keys
}

type verdictsView struct {
	Form  verdictForm
	Table *report.VerdictTable
	Note  string // why there is no table
}

// verdictsPart compares the experiment's done trials as the form says, on
// its current results. The comparison is kept until the results change.
func (s *Server) verdictsPart(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	q := r.URL.Query()
	d, err := s.experimentData(c, q.Get("e"))
	if err != nil {
		return err
	}
	v := verdictsView{Form: s.verdictForm(d, q.Get("by"), q.Get("ref"), q.Get("metric"))}
	switch {
	case v.Form.Disabled != "":
		v.Note = v.Form.Disabled
	case d.Counts["done"] == 0:
		v.Note = "No trial is done yet: the verdicts appear with the first results."
	default:
		e := d.Exp
		id := strconv.FormatInt(e.ID, 10)
		v.Table, err = cached(s.memo, "verdicts\x00"+id+"\x00"+d.Version+"\x00"+v.Form.By+"\x00"+v.Form.Ref+"\x00"+v.Form.Metric,
			func() (*report.VerdictTable, error) {
				trials, err := cached(s.memo, "verdict-trials\x00"+id+"\x00"+d.Version, func() ([]report.VerdictTrial, error) {
					return report.LoadVerdictTrials(c, s.st, e)
				})
				if err != nil {
					return nil, err
				}
				vs, err := report.CompareTrials(e.Name, trials, report.VerdictOptions{By: v.Form.By, Reference: v.Form.Ref, Metric: v.Form.Metric})
				if err != nil {
					return nil, badRequest("%v", err)
				}
				t := vs.Table()
				return &t, nil
			})
		if he, ok := err.(*httpError); ok {
			v.Note, err = he.msg, nil
		}
		if err != nil {
			return err
		}
	}
	return s.pages.render(w, "experiment.html", "part-verdicts", view{D: v})
}
