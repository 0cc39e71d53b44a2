package report

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"math"
	"strconv"
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
	ValPhotos, TestPhotos   int // the held-out dogs' photos
	KnownTest               int // known dogs' test photos
	// Calibration is the first trial's: whose photos calibrated its rules.
	// With the pool, each seed draws its own third: CalPhotos spans them.
	Calibration              results.Calibration
	CalPhotosLo, CalPhotosHi int
	Pool                     bool // the rules were measured on the pool's measuring third too
	Rows                     []OpenSetRow
	Chosen                   []ChosenRule
}

// OpenSetRow is one variant under one rule over its seeds.
type OpenSetRow struct {
	Variant, Rule string
	Chosen, Seeds int // seeds whose validation chose this rule
	Threshold     metrics.Summary
	ValFAR, FAR   metrics.Summary // on the calibration photos; on the held-out test dogs
	PoolFAR       metrics.Summary // on the pool's measuring dogs (N 0 without)
	OpenAccuracy  metrics.Summary
	KnownRejected metrics.Summary
}

// ChosenRule is the rule one trial chose on validation (what dogrun predict
// applies) with its counts: on the calibration photos, the held-out test
// dogs and, calibrated on the pool, its measuring dogs.
type ChosenRule struct {
	Variant                 string
	Seed                    int64
	Rule                    string
	Threshold               float64
	Calibration, Test, Pool results.UnknownCount // Pool.Photos 0 without
	KnownRejected, Known    int
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
		var seeds []int64
		for _, t := range v.Trials {
			if o := sets[t.ID]; o != nil {
				trials = append(trials, o)
				seeds = append(seeds, t.Seed)
			}
		}
		if len(trials) == 0 {
			continue
		}
		if c == nil {
			o := trials[0]
			c = &OpenSetCard{TargetFAR: o.Rule.TargetFAR, UnknownVal: o.UnknownVal, UnknownTest: o.UnknownTest, CalPhotosLo: math.MaxInt}
			if r, ok := o.Result(o.Rule.Kind, results.PartVal); ok {
				c.ValPhotos = r.Unknown
			}
			if r, ok := o.Result(o.Rule.Kind, results.PartTest); ok {
				c.TestPhotos, c.KnownTest = r.Unknown, r.Known
			}
			c.Calibration, _ = o.Chosen()
			// Calibrated on the pool, validation's unknown photos are the
			// pool's: the held-out validation dogs' are counted apart.
			if u, ok := o.Unknown(o.Rule.Kind, results.UnknownsTaskVal); ok {
				c.ValPhotos = u.Photos
			}
		}
		kinds := map[string]bool{}
		for i, o := range trials {
			cal, list := o.Chosen()
			counts := map[string]results.UnknownCount{}
			for _, u := range list {
				counts[u.Set] = u
			}
			c.CalPhotosLo, c.CalPhotosHi = min(c.CalPhotosLo, cal.Photos), max(c.CalPhotosHi, cal.Photos)
			c.Pool = c.Pool || counts[results.UnknownsPool].Photos > 0
			test, _ := o.Result(o.Rule.Kind, results.PartTest)
			c.Chosen = append(c.Chosen, ChosenRule{Variant: v.Key, Seed: seeds[i], Rule: o.Rule.Kind, Threshold: o.Rule.Threshold,
				Calibration: counts[results.UnknownsCalibration], Test: counts[results.UnknownsTaskTest], Pool: counts[results.UnknownsPool],
				KnownRejected: test.KnownRejected, Known: test.Known})
			for _, r := range o.Results {
				kinds[r.Kind] = true
			}
		}
		rules := []string{chosenRule}
		for _, k := range openset.AllKinds {
			if kinds[k] {
				rules = append(rules, k)
			}
		}
		for _, rule := range rules {
			row := OpenSetRow{Variant: v.Key, Rule: rule, Seeds: len(trials)}
			var thr, valFAR, far, pool, acc, rej []float64
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
				if u, ok := o.Unknown(kind, results.UnknownsPool); ok {
					pool = append(pool, u.FAR())
				}
				acc = append(acc, test.OpenAccuracy())
				rej = append(rej, test.FRR())
			}
			if rule == chosenRule {
				row.Chosen = len(thr)
			}
			row.Threshold, row.ValFAR, row.FAR = metrics.Summarize(thr), metrics.Summarize(valFAR), metrics.Summarize(far)
			row.PoolFAR = metrics.Summarize(pool)
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
	held := fmt.Sprintf("%s never trained on: %s (%s) and %s (%s).", english.Count(len(c.UnknownVal)+len(c.UnknownTest), "dog was|dogs were"),
		strings.Join(c.UnknownVal, ", "), english.Count(c.ValPhotos, "photo"), strings.Join(c.UnknownTest, ", "), english.Count(c.TestPhotos, "photo"))
	calibrated := fmt.Sprintf("All %s of the first calibrated each trial's rules on validation to a false-accept rate of %g; all %s of the others measured them on test, beside the %s of the known dogs.",
		english.Count(c.ValPhotos, "photo"), c.TargetFAR, english.Count(c.TestPhotos, "photo"), english.Count(c.KnownTest, "test photo"))
	if c.Calibration.On == results.CalibratedOnPool {
		calibrated = fmt.Sprintf("Each trial's rules were calibrated to a false-accept rate of %g on all photos (%d to %d) of a third of the folder's dogs with fewer than dataset.min_images_per_class photos (%s), drawn with the trial's seed and disjoint from the task's dogs; another third measured them too (FAR on the measuring dogs), the last third is the cohort of centroid_cosine_minus_cohort. The held-out dogs measured them beside the %s of the known dogs: those of test in the columns below.",
			c.TargetFAR, c.CalPhotosLo, c.CalPhotosHi, english.Count(c.Calibration.Dogs, "dog"), english.Count(c.KnownTest, "test photo"))
	}
	return []string{held + " " + calibrated,
		"A rule answers \"unknown\" unless the photo's score is above its threshold: max_softmax scores the head's largest probability, max_logit its largest output before softmax, energy the log-sum-exp of those outputs, centroid_cosine the cosine of the backbone features to the nearest known dog's mean, centroid_cosine_minus_cohort that less the mean cosine to the 10 nearest cohort dogs. Each trial keeps the rule naming the most known validation photos right; dogrun predict applies it.",
		"FAR: share of unseen dogs' photos named as a known dog (on the calibration photos, at most the target). Open-set accuracy: share of all test photos answered right (a known dog by its name, an unseen dog by \"unknown\"). Known rejected: share of the known dogs' test photos answered \"unknown\". Intervals are 95% Student-t over seeds, cut to [0, 1].",
	}
}

func (c *OpenSetCard) table() (header []string, rows [][]string) {
	header = []string{"variant", "rule", "chosen", "threshold", "FAR on the calibration photos", "FAR on unseen dogs (test)"}
	if c.Pool {
		header = append(header, "FAR on the measuring dogs")
	}
	header = append(header, "open-set accuracy", "known rejected")
	for _, r := range c.Rows {
		row := []string{r.Variant, r.Rule, fmt.Sprintf("%d/%d", r.Chosen, r.Seeds), fmt.Sprintf("%.3f", r.Threshold.Mean), Interval(r.ValFAR), Interval(r.FAR)}
		if c.Pool {
			row = append(row, Interval(r.PoolFAR))
		}
		rows = append(rows, append(row, Interval(r.OpenAccuracy), Interval(r.KnownRejected)))
	}
	return header, rows
}

// chosenTable is the rule each trial chose, its false accepts as k of n
// with an exact (Clopper-Pearson) 95% interval.
func (c *OpenSetCard) chosenTable() (header []string, rows [][]string) {
	header = []string{"variant", "seed", "rule", "threshold", "calibration photos let through", "unseen test dogs' photos let through"}
	if c.Pool {
		header = append(header, "measuring dogs' photos let through")
	}
	header = append(header, "known test photos rejected")
	for _, r := range c.Chosen {
		row := []string{r.Variant, strconv.FormatInt(r.Seed, 10), r.Rule, fmt.Sprintf("%.4f", r.Threshold), fraction(r.Calibration.FalseAccepts, r.Calibration.Photos, false),
			fraction(r.Test.FalseAccepts, r.Test.Photos, true)}
		if c.Pool {
			row = append(row, fraction(r.Pool.FalseAccepts, r.Pool.Photos, true))
		}
		rows = append(rows, append(row, fraction(r.KnownRejected, r.Known, false)))
	}
	return header, rows
}

// fraction writes k of n as "k/n = rate", with the exact 95% interval when
// asked; "–" without photos.
func fraction(k, n int, interval bool) string {
	if n == 0 {
		return "–"
	}
	s := fmt.Sprintf("%d/%d = %.3f", k, n, float64(k)/float64(n))
	if lo, hi, err := metrics.ClopperPearson(k, n, 0.95); interval && err == nil {
		s += fmt.Sprintf(" [%.3f, %.3f]", lo, hi)
	}
	return s
}

// chosenNote says what the intervals of chosenTable rest on.
const chosenNote = "The rule each trial chose on validation, trial by trial. Intervals are exact (Clopper-Pearson) 95% intervals over the photos, which takes them as independent; photos of one dog are not, so they are somewhat too narrow."

// Markdown renders the card as a report section.
func (c *OpenSetCard) Markdown() string {
	var b strings.Builder
	b.WriteString("## Unknown dogs (open set)\n\n")
	for _, s := range c.Intro() {
		b.WriteString(s + "\n\n")
	}
	header, rows := c.table()
	writeTable(&b, header, rows)
	b.WriteString("\n" + chosenNote + "\n\n")
	header, rows = c.chosenTable()
	writeTable(&b, header, rows)
	return b.String()
}

var openSetHTML = htmltemplate.Must(htmltemplate.New("openset").Parse(`<h2>Unknown dogs (open set)</h2>
{{range .Intro}}<p>{{.}}</p>
{{end}}{{template "table" .Rules}}
<p>{{.Note}}</p>
{{template "table" .Chosen}}
{{- define "table"}}<table class="openset">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>{{end}}`))

// HTML renders the card as a report section.
func (c *OpenSetCard) HTML() htmltemplate.HTML {
	h, r := c.table()
	ch, cr := c.chosenTable()
	var b bytes.Buffer
	if err := openSetHTML.Execute(&b, map[string]any{"Intro": c.Intro(), "Rules": htmlTable{h, r}, "Note": chosenNote, "Chosen": htmlTable{ch, cr}}); err != nil {
		return htmltemplate.HTML("<p>open set: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
