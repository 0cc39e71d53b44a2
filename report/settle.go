package report

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/plots"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/settle"
	"github.com/dogrun/dogrun/stats"
)

// SettleCard is the report's section on a settled experiment: the design,
// each comparison's verdict with its stopping look and seeds, its path as a
// chart and a table, the population the verdicts cover and what the trials
// took.
type SettleCard struct {
	State *settle.State
	Paths []SettlePath
	// Trials is how many trials the looks used, Busy their training and
	// testing time, and First to Last when they ran (idle time between runs
	// included).
	Trials      int
	Busy        time.Duration
	First, Last time.Time
}

// SettlePath is one comparison with its chart.
type SettlePath struct {
	settle.Comparison
	Figure figure
}

// gatherSettle builds the section when the experiment declared a design.
func (d *Data) gatherSettle(ctx context.Context, st *results.Store) error {
	s, err := settle.Load(ctx, st, d.Experiment)
	if err != nil || s == nil {
		return err
	}
	d.Settle = BuildSettleCard(s, d.Trials)
	return nil
}

// BuildSettleCard gathers each comparison's path and counts the trials the
// looks used among trials; draw then charts the paths.
func BuildSettleCard(s *settle.State, trials []results.Trial) *SettleCard {
	c := &SettleCard{State: s}
	used := map[string]int{} // variant key -> seeds used
	for _, cmp := range s.Comparisons {
		c.Paths = append(c.Paths, SettlePath{Comparison: cmp})
		n := len(cmp.Diffs) // open: the seeds paired so far
		if cmp.Decision != stats.Continue {
			n = cmp.Seeds
		}
		used[cmp.Variant] = max(used[cmp.Variant], n)
		used[cmp.Reference] = max(used[cmp.Reference], n)
	}
	position := map[int64]int{}
	for i, seed := range s.Design.Seeds {
		position[seed] = i
	}
	var busy float64
	for _, t := range trials {
		if p, ok := position[t.Seed]; !ok || p >= used[t.VariantKey] || t.Status != results.StatusDone {
			continue
		}
		c.Trials++
		busy += t.DurationSeconds
		if t.StartedAt != nil && (c.First.IsZero() || t.StartedAt.Before(c.First)) {
			c.First = *t.StartedAt
		}
		if t.FinishedAt != nil && t.FinishedAt.After(c.Last) {
			c.Last = *t.FinishedAt
		}
	}
	c.Busy = roundSeconds(busy)
	return c
}

// draw charts each path that has a look, as settle_N.png in the report's
// folder.
func (c *SettleCard) draw(pics *pictures) error {
	s := c.State
	for i := range c.Paths {
		p := &c.Paths[i]
		if len(p.Looks) == 0 {
			continue
		}
		label, metric := s.Label(p.Comparison), "difference in "+metricName(s.Design.Metric)
		looks := pathLooks(p.Comparison, s.Design.Margin)
		name := fmt.Sprintf("settle_%d.png", i+1)
		png, err := pics.draw(name, []any{label, metric, looks, s.Design.Margin, s.Design.MaxSeeds, s.Level(), chartW, chartH}, func() ([]byte, error) {
			return c.Chart(i, plots.PNG, chartW, chartH)
		})
		if err != nil {
			return fmt.Errorf("settle chart of %s: %w", label, err)
		}
		p.Figure = figure{Name: name, PNG: png,
			Caption: fmt.Sprintf("%s, look by look: the mean paired difference with its %s repeated interval; better or worse once the mean passes the red boundary, equivalent once it stays within the green one, both computed at each look.", label, levelText(s.Level()))}
	}
	return nil
}

// Chart draws comparison i's path look by look, in format f (the report's
// picture, or the live dashboard's).
func (c *SettleCard) Chart(i int, f plots.Format, widthPx, heightPx int) ([]byte, error) {
	s, p := c.State, c.Paths[i]
	return plots.SequentialPath(s.Label(p.Comparison), "difference in "+metricName(s.Design.Metric),
		pathLooks(p.Comparison, s.Design.Margin), s.Design.Margin, s.Design.MaxSeeds, s.Level(), f, widthPx, heightPx)
}

// pathLooks turns looks into the chart's terms: boundaries on the mean.
func pathLooks(c settle.Comparison, margin float64) []plots.PathLook {
	out := make([]plots.PathLook, len(c.Looks))
	for i, l := range c.Looks {
		out[i] = plots.PathLook{Seeds: l.Seeds, Mean: l.Mean, Lo: l.Lo, Hi: l.Hi,
			DiffBound: l.TDiff * l.SE, EqBound: margin - l.TEq*l.SE}
	}
	return out
}

func metricName(metric string) string {
	if metric == "top5" {
		return "top-5 accuracy"
	}
	return "accuracy"
}

func levelText(level float64) string { return fmt.Sprintf("%.4g%%", 100*level) }

// Title names the section.
func (c *SettleCard) Title() string {
	return fmt.Sprintf("Settled: %s against %s", c.State.Design.By, c.State.Design.Reference)
}

// Intro says how the seeds ran, what the verdicts mean and what they cover.
func (c *SettleCard) Intro() []string {
	s, d := c.State, c.State.Design
	spending := "O'Brien-Fleming-type"
	if d.Spending == "pocock" {
		spending = "Pocock-type"
	}
	alpha := fmt.Sprintf("alpha %g", d.Alpha)
	if m := len(s.Comparisons); m > 1 {
		alpha += fmt.Sprintf(" over %d comparisons (%g each, Bonferroni)", m, d.Alpha/float64(m))
	}
	out := []string{
		fmt.Sprintf("Seeds ran round by round, %d at a time up to %d per variant, in the order %s; after each round every open comparison was looked at on the paired differences in %s (variant minus reference, same seed and split). The design was declared on %s: margin ±%g, %s, %s alpha spending, boundaries on the paired t statistic calibrated for its unknown variance (docs/settle.md).",
			d.Round, d.MaxSeeds, settle.SeedList(d.Seeds), metricName(d.Metric), d.DeclaredAt.UTC().Format(time.DateOnly), d.Margin, alpha, spending),
		"Better or worse: the repeated interval of the difference excludes 0. Equivalent: the equivalence interval lies within ±margin (this wins when both hold: the difference is smaller than what matters). Undecided: neither by the cap. A decided comparison stopped; its variant ran no more seeds.",
		"The verdicts cover " + s.Population() + ".",
	}
	if d.SeenBefore > 0 {
		out = append(out, fmt.Sprintf("Warning: the design was declared with %s already stored, outcomes that could have been looked at before it was fixed; its error rates assume they were not.", english.Count(d.SeenBefore, "paired seed")))
	}
	if c.Trials > 0 {
		out = append(out, fmt.Sprintf("The looks used %s: %s of training and testing, run from %s to %s (%s, pauses between runs included).",
			english.Count(c.Trials, "trial"), c.Busy, c.First.UTC().Format(time.RFC3339), c.Last.UTC().Format(time.RFC3339), roundSeconds(c.Last.Sub(c.First).Seconds())))
	}
	return out
}

// verdict says a comparison's state in a table cell.
func (c *SettleCard) verdict(p SettlePath) string {
	switch p.Decision {
	case stats.Continue:
		return "open"
	case stats.Undecided:
		return "undecided at the cap"
	}
	return p.Decision.String()
}

// Summary is the table of verdicts.
func (c *SettleCard) Summary() (header []string, rows [][]string) {
	s := c.State
	header = []string{"comparison", "verdict", "stopping look", "seeds used", "mean difference",
		levelText(s.Level()) + " repeated interval", "equivalence interval", "skewness"}
	looks := len(s.Plan.Bounds)
	for _, p := range c.Paths {
		row := []string{s.Label(p.Comparison), c.verdict(p), "–", fmt.Sprint(len(p.Diffs)), "–", "–", "–", "–"}
		if l := p.Last(); l != nil {
			if p.Decision != stats.Continue {
				row[2] = fmt.Sprintf("%d of %d", len(p.Looks), looks)
				row[3] = fmt.Sprint(l.Seeds)
			}
			row[4] = fmt.Sprintf("%+.4f", l.Mean)
			row[5] = fmt.Sprintf("[%+.4f, %+.4f]", l.Lo, l.Hi)
			row[6] = fmt.Sprintf("[%+.4f, %+.4f]", l.EqLo, l.EqHi)
		}
		if !math.IsNaN(p.Skew) {
			row[7] = fmt.Sprintf("%.2f", p.Skew)
			if p.Skewed() {
				row[7] += " (skewed: a one-sided verdict may err more often than declared)"
			}
		}
		row[1] += openNote(p, looks)
		rows = append(rows, row)
	}
	return header, rows
}

func openNote(p SettlePath, looks int) string {
	if p.Decision != stats.Continue {
		return ""
	}
	return fmt.Sprintf(" (look %d of %d next, at %d seeds)", len(p.Looks)+1, looks, p.Next)
}

// pathTable is one comparison's looks.
func (c *SettleCard) pathTable(p SettlePath) (header []string, rows [][]string) {
	header = []string{"look", "seeds", "mean", "repeated interval", "better/worse beyond ±", "equivalent within ±", "decision"}
	for i, l := range p.Looks {
		eq := "–"
		if b := c.State.Design.Margin - l.TEq*l.SE; b > 0 {
			eq = fmt.Sprintf("%.4f", b)
		}
		dec := l.Decision.String()
		rows = append(rows, []string{fmt.Sprint(i + 1), fmt.Sprint(l.Seeds), fmt.Sprintf("%+.4f", l.Mean),
			fmt.Sprintf("[%+.4f, %+.4f]", l.Lo, l.Hi), boundText(l.TDiff * l.SE), eq, dec})
	}
	return header, rows
}

// boundText keeps the enormous first boundaries readable.
func boundText(b float64) string {
	if b >= 10 {
		return fmt.Sprintf("%.3g", b)
	}
	return fmt.Sprintf("%.4f", b)
}

// NoLook says why a comparison has no path yet.
func (c *SettleCard) NoLook(p SettlePath) string {
	return fmt.Sprintf("No look yet: %s paired, the first look is at %d.", english.Count(len(p.Diffs), "seed"), c.State.Plan.Bounds[0].Seeds)
}

// Markdown renders the card as a report section.
func (c *SettleCard) Markdown() string {
	var b strings.Builder
	b.WriteString("## " + c.Title() + "\n\n")
	for _, s := range c.Intro() {
		b.WriteString(s + "\n\n")
	}
	header, rows := c.Summary()
	writeTable(&b, header, rows)
	for _, p := range c.Paths {
		fmt.Fprintf(&b, "\n### %s\n\n", c.State.Label(p.Comparison))
		if p.Figure.PNG == nil {
			b.WriteString(c.NoLook(p) + "\n")
			continue
		}
		fmt.Fprintf(&b, "![%s](%s)\n\n*%s*\n\n", p.Figure.Caption, p.Figure.Name, p.Figure.Caption)
		header, rows = c.pathTable(p)
		writeTable(&b, header, rows)
	}
	return b.String()
}

func writeTable(b *strings.Builder, header []string, rows [][]string) {
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range rows {
		cells := slices.Clone(r)
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
}

var settleHTML = htmltemplate.Must(htmltemplate.New("settle").Parse(`<h2>{{.Title}}</h2>
{{range .Intro}}<p>{{.}}</p>
{{end}}{{template "table" .Summary}}
{{range .Paths}}<h3>{{.Label}}</h3>
{{if .NoLook}}<p>{{.NoLook}}</p>{{else}}<figure><img class="chart" src="{{.Figure.DataURI}}" alt="{{.Figure.Caption}}"><figcaption>{{.Figure.Caption}}</figcaption></figure>
{{template "table" .Table}}{{end}}
{{end}}
{{- define "table"}}<table class="settle">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>{{end}}`))

type htmlTable struct {
	Header []string
	Rows   [][]string
}

// HTML renders the card as a report section.
func (c *SettleCard) HTML() htmltemplate.HTML {
	type path struct {
		Label, NoLook string
		Figure        figure
		Table         htmlTable
	}
	var paths []path
	for _, p := range c.Paths {
		h, r := c.pathTable(p)
		pp := path{Label: c.State.Label(p.Comparison), Figure: p.Figure, Table: htmlTable{h, r}}
		if p.Figure.PNG == nil {
			pp.NoLook = c.NoLook(p)
		}
		paths = append(paths, pp)
	}
	h, r := c.Summary()
	var b bytes.Buffer
	err := settleHTML.Execute(&b, map[string]any{"Title": c.Title(), "Intro": c.Intro(), "Summary": htmlTable{h, r}, "Paths": paths})
	if err != nil {
		return htmltemplate.HTML("<p>settle: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
