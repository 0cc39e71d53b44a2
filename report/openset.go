package report

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"strings"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/openset"
	"github.com/dogrun/dogrun/results"
)

// OpenSetCard shows how well each variant's trials said "unknown" to dogs
// held out of training, measured on test photos of dogs the rule was not
// calibrated on.
type OpenSetCard struct {
	TargetFAR               float64
	UnknownVal, UnknownTest []string
	ValPhotos, TestPhotos   int // unknown dogs' photos
	KnownTest               int // known dogs' test photos
	Rows                    []OpenSetRow
}

// OpenSetRow is one variant under one rule over its seeds.
type OpenSetRow struct {
	Variant, Rule string
	Chosen, Seeds int // seeds whose validation chose this rule
	Threshold     metrics.Summary
	ValFAR, FAR   metrics.Summary
	OpenAccuracy  metrics.Summary
	KnownRejected metrics.Summary
}

// chosenRule labels the rows of the rule each trial chose on validation:
// what dogrun predict applies.
const chosenRule = "chosen on validation"

// BuildOpenSetCard summarizes the stored open-set results per variant, in
// the variants' rank order; nil when no trial held dogs out.
func BuildOpenSetCard(variants []Variant, sets map[int64]*results.OpenSet) *OpenSetCard {
	var c *OpenSetCard
	for _, v := range variants {
		var trials []*results.OpenSet
		for _, t := range v.Trials {
			if o := sets[t.ID]; o != nil {
				trials = append(trials, o)
			}
		}
		if len(trials) == 0 {
			continue
		}
		if c == nil {
			o := trials[0]
			c = &OpenSetCard{TargetFAR: o.Rule.TargetFAR, UnknownVal: o.UnknownVal, UnknownTest: o.UnknownTest}
			if r, ok := o.Result(o.Rule.Kind, results.PartVal); ok {
				c.ValPhotos = r.Unknown
			}
			if r, ok := o.Result(o.Rule.Kind, results.PartTest); ok {
				c.TestPhotos, c.KnownTest = r.Unknown, r.Known
			}
		}
		for _, rule := range append([]string{chosenRule}, openset.Kinds...) {
			row := OpenSetRow{Variant: v.Key, Rule: rule, Seeds: len(trials)}
			var thr, valFAR, far, acc, rej []float64
			for _, o := range trials {
				kind := rule
				if rule == chosenRule {
					kind = o.Rule.Kind
				} else if o.Rule.Kind == rule {
					row.Chosen++
				}
				val, ok1 := o.Result(kind, results.PartVal)
				test, ok2 := o.Result(kind, results.PartTest)
				if !ok1 || !ok2 {
					continue
				}
				thr = append(thr, test.Threshold)
				valFAR = append(valFAR, val.FAR())
				far = append(far, test.FAR())
				acc = append(acc, test.OpenAccuracy())
				rej = append(rej, test.FRR())
			}
			if rule == chosenRule {
				row.Chosen = len(thr)
			}
			row.Threshold, row.ValFAR, row.FAR = metrics.Summarize(thr), metrics.Summarize(valFAR), metrics.Summarize(far)
			row.OpenAccuracy, row.KnownRejected = metrics.Summarize(acc), metrics.Summarize(rej)
			c.Rows = append(c.Rows, row)
		}
	}
	return c
}

// gatherOpenSet reads the open-set results of the experiment's done trials.
func (d *Data) gatherOpenSet(ctx context.Context, st *results.Store) error {
	sets, err := st.OpenSets(ctx, d.Experiment.ID)
	if err != nil {
		return err
	}
	d.OpenSet = BuildOpenSetCard(d.Variants, sets)
	return nil
}

// Intro says what was held out and what the columns mean.
func (c *OpenSetCard) Intro() []string {
	return []string{
		fmt.Sprintf("%s never trained on. All %s of %s calibrated each trial's rejection rule on validation to a false-accept rate of %g; all %s of %s measured it on test, beside the %s of the known dogs.",
			english.Count(len(c.UnknownVal)+len(c.UnknownTest), "dog was|dogs were"), english.Count(c.ValPhotos, "photo"), strings.Join(c.UnknownVal, ", "), c.TargetFAR,
			english.Count(c.TestPhotos, "photo"), strings.Join(c.UnknownTest, ", "), english.Count(c.KnownTest, "test photo")),
		"A rule answers \"unknown\" unless the photo's score is above its threshold: max_softmax scores the head's largest probability, centroid_cosine the cosine of the backbone features to the nearest known dog's mean. Each trial keeps the rule with the better open-set accuracy on validation; dogrun predict applies it.",
		"FAR: share of the unseen dogs' test photos named as a known dog. Open-set accuracy: share of all test photos answered right (a known dog by its name, an unseen dog by \"unknown\"). Known rejected: share of the known dogs' test photos answered \"unknown\". Intervals are 95% Student-t over seeds, cut to [0, 1].",
	}
}

func (c *OpenSetCard) table() (header []string, rows [][]string) {
	header = []string{"variant", "rule", "chosen", "threshold", "FAR on validation", "FAR on unseen dogs (test)", "open-set accuracy", "known rejected"}
	for _, r := range c.Rows {
		rows = append(rows, []string{r.Variant, r.Rule, fmt.Sprintf("%d/%d", r.Chosen, r.Seeds),
			fmt.Sprintf("%.3f", r.Threshold.Mean), Interval(r.ValFAR), Interval(r.FAR), Interval(r.OpenAccuracy), Interval(r.KnownRejected)})
	}
	return header, rows
}

// Markdown renders the card as a report section.
func (c *OpenSetCard) Markdown() string {
	var b strings.Builder
	b.WriteString("## Unknown dogs (open set)\n\n")
	for _, s := range c.Intro() {
		b.WriteString(s + "\n\n")
	}
	header, rows := c.table()
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|---|---|---:|---:|---|---|---|---|\n")
	for _, r := range rows {
		for i := range r {
			r[i] = strings.ReplaceAll(r[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

var openSetHTML = htmltemplate.Must(htmltemplate.New("openset").Parse(`<h2>Unknown dogs (open set)</h2>
{{range .Intro}}<p>{{.}}</p>
{{end}}<table class="openset">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>`))

// HTML renders the card as a report section.
func (c *OpenSetCard) HTML() htmltemplate.HTML {
	header, rows := c.table()
	var b bytes.Buffer
	if err := openSetHTML.Execute(&b, map[string]any{"Intro": c.Intro(), "Header": header, "Rows": rows}); err != nil {
		return htmltemplate.HTML("<p>open set: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
