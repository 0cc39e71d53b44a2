package report

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/stats"
)

// VerdictTable is the verdicts as text cells and notes, the same for every
// format: Markdown, HTML and the terminal render it.
type VerdictTable struct {
	Title  string // "Verdicts: head.dropout"
	Intro  string
	Header []string
	Rows   [][]string
	Notes  []string
}

// Table builds the verdict table.
func (v *Verdicts) Table() VerdictTable {
	acc := "accuracy"
	if v.Metric == "top5" {
		acc = "top-5 accuracy"
	}
	t := VerdictTable{Title: "Verdicts: " + v.By, Intro: fmt.Sprintf(verdictIntro, v.Alpha),
		Header: []string{"variant", "n", acc + " mean [95% CI]", "Δ vs " + v.By + "=" + v.Reference + " [95% bootstrap]",
			"McNemar p (per replicate)", "Wilcoxon p", "Holm p", "effect r / d_z", "verdict"},
		Notes: v.Notes.text(v.Alpha)}
	if v.Confirm {
		t.Title = "Confirmation of the search's best settings"
		t.Intro = confirmIntro + " " + t.Intro
		t.Header[3] = "Δ vs the best [95% bootstrap]"
	}
	for _, r := range v.Rows {
		name := r.Variant
		if r.Leaky {
			name += " (LEAKY)"
		}
		cells := []string{name, strconv.Itoa(r.Accuracy.N), estimateText(r.Accuracy)}
		if r.Reference {
			cells = append(cells, "reference", "", "", "", "", "reference")
			t.Rows = append(t.Rows, cells)
			continue
		}
		diff := fmt.Sprintf("%+.3f (paired mean)", r.MeanDiff)
		if r.Diff != nil {
			diff = fmt.Sprintf("%+.3f [%+.3f, %+.3f]", r.Diff.Estimate, r.Diff.Lo, r.Diff.Hi)
		}
		if r.Pairs == 0 {
			diff = "–"
		}
		mc := "–"
		if len(r.McNemar) > 0 {
			ps := make([]float64, len(r.McNemar))
			for i, m := range r.McNemar {
				ps[i] = m.P
			}
			sort.Float64s(ps)
			mc = fmt.Sprintf("median %s, %d/%d < %g", pText(ps[len(ps)/2]), r.McNemarSig, len(ps), v.Alpha)
		}
		wp, hp, eff := "–", "–", "–"
		switch {
		case r.Wilcoxon != nil:
			wp = pText(r.Wilcoxon.P)
			hp = pText(r.PHolm)
			eff = floatText(r.Wilcoxon.Effect) + " / " + floatText(r.Dz)
		case r.Pairs == 1:
			wp, hp = "n/a (1 seed: too few)", "n/a"
		}
		cells = append(cells, diff, mc, wp, hp, eff, r.Verdict)
		t.Rows = append(t.Rows, cells)
	}
	return t
}

// text words the notes.
func (n VerdictNotes) text(alpha float64) []string {
	var out []string
	if f := n.TooFew; f != nil {
		out = append(out, fmt.Sprintf("Too few replicates for a verdict: with %s and %s the smallest possible Holm-adjusted p is %.3g > %g, so \"no significant difference\" here only means too few seeds (use at least %d).",
			english.Count(f.Replicates, "paired replicate"), english.Count(f.Comparisons, "comparison"), f.BestP, alpha, f.Need))
	}
	if n.SingleReplicate > 0 {
		out = append(out, fmt.Sprintf("With a single seed in common with the reference (%s), the Wilcoxon test across seeds cannot run: its p could only be 1. The bootstrap interval and McNemar's test still compare the test photos of that seed; a verdict needs at least %d seeds.",
			english.Count(n.SingleReplicate, "row"), n.Need))
	}
	if n.Leaky {
		out = append(out, "Rows marked LEAKY use the original Keras scripts' protocol (augment, then split): augmented copies of training photos are in their test set, so their accuracy is inflated and their test photos differ from the others'; only the across-seed comparison applies to them.")
	}
	if n.Comparisons > 1 {
		out = append(out, fmt.Sprintf("Holm's correction is over the %d comparisons with the reference.", n.Comparisons))
	}
	if len(n.Where) > 0 {
		out = append(out, "Only trials with "+strings.Join(n.Where, "; ")+".")
	}
	if n.Pruned > 0 {
		out = append(out, fmt.Sprintf("%s stopped by the search's pruner %s no test results and %s left out.",
			english.Count(n.Pruned, "trial"), english.Noun(n.Pruned, "has|have"), english.Noun(n.Pruned, "is|are")))
	}
	if n.Top5 {
		out = append(out, "Accuracy here is top-5 accuracy: a test photo counts as right when its dog is among the five best-scored; McNemar and the bootstrap pair photos on that.")
	}
	return out
}

func estimateText(e stats.Estimate) string {
	switch {
	case e.N == 0:
		return "–"
	case e.N == 1 || math.IsNaN(e.Lo):
		return fmt.Sprintf("%.3f", e.Mean)
	}
	return fmt.Sprintf("%.3f ± %.3f [%.3f, %.3f]", e.Mean, (e.Hi-e.Lo)/2, math.Max(0, e.Lo), math.Min(1, e.Hi))
}

func pText(p float64) string {
	switch {
	case math.IsNaN(p):
		return "–"
	case p < 0.001:
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

func floatText(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%+.2f", x)
}

const confirmIntro = "The search chose its best settings on validation photos alone; each is re-run here with seeds the search did not use, on the same split, and compared with the best (the reference) on the test photos."

const verdictIntro = "Each variant is compared with the reference on the same test photos. " +
	"Δ is the accuracy difference with a paired bootstrap interval over test photos; McNemar's exact test is run per replicate (seed × fold); " +
	"the Wilcoxon signed-rank test compares the replicates' accuracies, with Holm's correction over all comparisons; " +
	"effects are the rank-biserial correlation r and Cohen's d_z. A verdict needs Holm p ≤ %g."

// Markdown renders the verdicts as a report section.
func (v *Verdicts) Markdown() string {
	t := v.Table()
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n%s\n\n", t.Title, t.Intro)
	b.WriteString("| " + strings.Join(t.Header, " | ") + " |\n|")
	for i := range t.Header {
		if i == 1 {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		for i := range r {
			r[i] = strings.ReplaceAll(r[i], "|", "\\|")
		}
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	for _, n := range t.Notes {
		b.WriteString("\n" + n + "\n")
	}
	return b.String()
}

var verdictHTML = htmltemplate.Must(htmltemplate.New("verdicts").Parse(`<h2>{{.Title}}</h2>
<p>{{.Intro}}</p>
<table class="verdicts">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}`))

// HTML renders the verdicts as a report section.
func (v *Verdicts) HTML() htmltemplate.HTML {
	var b bytes.Buffer
	if err := verdictHTML.Execute(&b, v.Table()); err != nil {
		return htmltemplate.HTML("<p>verdicts: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
