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
	"github.com/dogrun/dogrun/plots"
	"github.com/dogrun/dogrun/results"
)

// fewAllowed is the number of impostor pairs let through below which a
// true-accept rate is flagged: one pair more or less on the wrong side then
// moves the threshold by a tenth of its margin or more.
const fewAllowed = 10

// The DogFaceNet paper's figures on its 48 unseen dogs (Mougeot, Li and Jia,
// PRICAI 2019): verification accuracy at the threshold best for its own
// pairs, and one-shot identification within the five most similar.
const (
	paperAccuracy = 0.92
	paperRank5    = 0.88
)

// VerificationCard shows an evaluation experiment's measures per variant
// over its draws of dogs, beside the DogFaceNet paper's.
type VerificationCard struct {
	TargetFARs []float64
	MaxRank    int
	Rows       []VerificationRow
	// Per draw, the fewest and most of each count over every trial.
	Dogs, ThresholdDogs    int
	GenuineLo, GenuineHi   int
	ImpostorLo, ImpostorHi int
	QueriesLo, QueriesHi   int
	ROC, CMC               *figure
	rocCurves              []plots.ROCCurve
	cmcValues              []string
	cmcPositions           []float64
	cmcSeries              []plots.AxisSeries
	photosLo, photosHi     int
}

// VerificationRow is one variant over its draws.
type VerificationRow struct {
	Variant      string
	Draws        int
	Accuracy     metrics.Summary // at the threshold chosen on other dogs
	BestAccuracy metrics.Summary // at the measured pairs' own best threshold
	AUC          metrics.Summary
	TAR          []metrics.Summary // per target FAR
	Allowed      []int             // per target FAR: the fewest impostor pairs a draw's threshold let through
	Rank         []metrics.Summary // rank 1, 2, ..., MaxRank
}

// BuildVerificationCard summarizes the stored verification results per
// variant, in the variants' rank order; nil when no trial measured any.
func BuildVerificationCard(variants []Variant, vs map[int64]*results.Verification) *VerificationCard {
	var c *VerificationCard
	for _, v := range variants {
		var draws []*results.Verification
		for _, t := range v.Trials {
			if x := vs[t.ID]; x != nil {
				draws = append(draws, x)
			}
		}
		if len(draws) == 0 {
			continue
		}
		if c == nil {
			first := draws[0]
			c = &VerificationCard{MaxRank: len(first.CMC), Dogs: first.Dogs, ThresholdDogs: first.ThresholdDogs,
				GenuineLo: math.MaxInt, ImpostorLo: math.MaxInt, QueriesLo: math.MaxInt, photosLo: math.MaxInt}
			for _, t := range first.TARs {
				c.TargetFARs = append(c.TargetFARs, t.TargetFAR)
			}
			for k := 1; k <= c.MaxRank; k++ {
				c.cmcValues = append(c.cmcValues, strconv.Itoa(k))
				c.cmcPositions = append(c.cmcPositions, float64(k))
			}
		}
		row := VerificationRow{Variant: v.Key, Draws: len(draws)}
		collect := func(f func(*results.Verification) float64) ([]float64, metrics.Summary) {
			xs := make([]float64, len(draws))
			for i, d := range draws {
				xs[i] = f(d)
			}
			return xs, metrics.Summarize(xs)
		}
		_, row.Accuracy = collect(func(d *results.Verification) float64 { return d.Accuracy() })
		_, row.BestAccuracy = collect(func(d *results.Verification) float64 { return d.BestAccuracy })
		_, row.AUC = collect(func(d *results.Verification) float64 { return d.AUC })
		for _, far := range c.TargetFARs {
			allowed := math.MaxInt
			_, s := collect(func(d *results.Verification) float64 {
				for _, t := range d.TARs {
					if t.TargetFAR == far {
						allowed = min(allowed, t.Allowed)
						return t.TAR
					}
				}
				return math.NaN()
			})
			row.TAR = append(row.TAR, s)
			row.Allowed = append(row.Allowed, allowed)
		}
		series := plots.AxisSeries{Label: v.Key}
		for k := 1; k <= c.MaxRank; k++ {
			xs, s := collect(func(d *results.Verification) float64 { return d.Rank(k) })
			row.Rank = append(row.Rank, s)
			lo, hi := math.Max(0, s.Lo), math.Min(1, s.Hi)
			series.Points = append(series.Points, plots.AxisPoint{X: k - 1, Values: xs, Mean: s.Mean, Lo: lo, Hi: hi})
		}
		c.cmcSeries = append(c.cmcSeries, series)
		c.rocCurves = append(c.rocCurves, meanROC(v.Key, draws))
		for _, d := range draws {
			c.GenuineLo, c.GenuineHi = min(c.GenuineLo, d.Genuine), max(c.GenuineHi, d.Genuine)
			c.ImpostorLo, c.ImpostorHi = min(c.ImpostorLo, d.Impostor), max(c.ImpostorHi, d.Impostor)
			c.QueriesLo, c.QueriesHi = min(c.QueriesLo, d.Queries), max(c.QueriesHi, d.Queries)
			c.photosLo, c.photosHi = min(c.photosLo, d.Photos), max(c.photosHi, d.Photos)
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

// meanROC is a variant's ROC curve averaged over its draws at a grid of
// FARs, log-spaced from the smallest a draw can show (one impostor pair) to
// 1, with the lowest and highest draw as its band. A draw's TAR at FAR f is
// that of its last stored point at or below f, as ThinROC kept them.
func meanROC(label string, draws []*results.Verification) plots.ROCCurve {
	most := 0
	for _, d := range draws {
		most = max(most, d.Impostor)
	}
	out := plots.ROCCurve{Label: label}
	const steps = 80
	for i := 0; i <= steps; i++ {
		far := math.Pow(float64(most), -1+float64(i)/steps)
		sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
		for _, d := range draws {
			tar := 0.0
			for _, p := range d.ROC {
				if p.FAR <= far*(1+1e-9) {
					tar = p.TAR
				}
			}
			sum += tar
			lo, hi = math.Min(lo, tar), math.Max(hi, tar)
		}
		out.Points = append(out.Points, plots.ROCPoint{FAR: far, TAR: sum / float64(len(draws))})
		out.Lo, out.Hi = append(out.Lo, lo), append(out.Hi, hi)
	}
	return out
}

// gatherVerification reads the verification results of the experiment's
// done trials.
func (d *Data) gatherVerification(ctx context.Context, st *results.Store) error {
	vs, err := st.Verifications(ctx, d.Experiment.ID)
	if err != nil {
		return err
	}
	d.Verification = BuildVerificationCard(d.Variants, vs)
	return nil
}

// draw renders the card's ROC and CMC charts.
func (c *VerificationCard) draw(pics *pictures) error {
	const rocTitle = "Verification ROC per variant (mean over draws)"
	png, err := pics.draw("roc.png", []any{rocTitle, c.rocCurves, c.TargetFARs, chartW, chartH}, func() ([]byte, error) {
		return plots.ROCCurves(rocTitle, c.rocCurves, c.TargetFARs, plots.PNG, chartW, chartH)
	})
	if err != nil {
		return fmt.Errorf("ROC chart: %w", err)
	}
	c.ROC = &figure{Name: "roc.png", PNG: png, Caption: "Share of genuine pairs accepted (TAR) against the share of impostor pairs accepted (FAR, log scale) as the threshold falls: the mean over draws, the band from the lowest to the highest draw; dotted lines at the target FARs of the table."}
	const cmcTitle = "One-shot identification: cumulative match characteristic"
	png, err = pics.draw("cmc.png", []any{cmcTitle, c.cmcValues, c.cmcPositions, c.cmcSeries, chartW, chartH}, func() ([]byte, error) {
		return plots.SweepAxis(cmcTitle, "rank", "queries found within the rank", c.cmcValues, c.cmcPositions, c.cmcSeries, plots.PNG, chartW, chartH)
	})
	if err != nil {
		return fmt.Errorf("CMC chart: %w", err)
	}
	c.CMC = &figure{Name: "cmc.png", PNG: png, Caption: "Share of one-shot queries whose own dog's gallery photo is among the k most similar: every draw as a small dot, the mean as a large dot with its 95% interval."}
	return nil
}

// farLabel writes a rate as a percentage: 0.01 is "1%", 0.001 "0.1%".
func farLabel(f float64) string {
	return strconv.FormatFloat(100*f, 'g', -1, 64) + "%"
}

// Intro says what was measured and how.
func (c *VerificationCard) Intro() []string {
	return []string{
		fmt.Sprintf("No head is trained: each seed draws %s nothing was trained on (%d to %d photos) to measure, and %d others whose pairs choose the threshold. Features are each backbone's vector at unit length, side by side, compared by cosine.",
			english.Count(c.Dogs, "dog"), c.photosLo, c.photosHi, c.ThresholdDogs),
		fmt.Sprintf("Verification: %d to %d genuine pairs (two photos of one dog) and %d to %d impostor pairs (two dogs) per draw, near-duplicates never paired. Accuracy is of the genuine pairs and as many impostor pairs, at the threshold of best accuracy on the other dogs' pairs; the paper's figure is at the best threshold for the measured pairs themselves. TAR at FAR f: the share of genuine pairs accepted at the threshold letting through floor(f x impostor pairs).",
			c.GenuineLo, c.GenuineHi, c.ImpostorLo, c.ImpostorHi),
		fmt.Sprintf("One-shot identification: one gallery photo per measured dog drawn with the seed, every other photo a query (%d to %d per draw, near-duplicates of their gallery photo left out); rank k is the share of queries whose dog's gallery photo is among the k most similar, a tie counting against the query. The variants' test accuracy elsewhere in this report is rank-1.",
			c.QueriesLo, c.QueriesHi),
		"Intervals are 95% Student-t over draws, cut to [0, 1].",
	}
}

// ranks are the CMC columns shown: rank-1, rank-5 (the paper's) when
// measured, and the largest rank.
func (c *VerificationCard) ranks() []int {
	out := []int{1}
	if c.MaxRank >= 5 {
		out = append(out, 5)
	}
	if c.MaxRank != 5 && c.MaxRank > 1 {
		out = append(out, c.MaxRank)
	}
	return out
}

func (c *VerificationCard) table() (header []string, rows [][]string) {
	header = []string{"variant", "draws", "accuracy (threshold from other dogs)", "accuracy (best threshold on these pairs)", "ROC AUC"}
	for _, f := range c.TargetFARs {
		header = append(header, "TAR at FAR "+farLabel(f))
	}
	for _, k := range c.ranks() {
		header = append(header, fmt.Sprintf("one-shot rank-%d", k))
	}
	for _, r := range c.Rows {
		row := []string{r.Variant, strconv.Itoa(r.Draws), Interval(r.Accuracy), Interval(r.BestAccuracy), Interval(r.AUC)}
		for i, s := range r.TAR {
			cell := Interval(s)
			switch {
			case r.Allowed[i] == 0:
				cell += " (not measurable: no impostor pair may pass)"
			case r.Allowed[i] < fewAllowed:
				cell += fmt.Sprintf(" (rests on %d impostor pairs)", r.Allowed[i])
			}
			row = append(row, cell)
		}
		for _, k := range c.ranks() {
			row = append(row, Interval(r.Rank[k-1]))
		}
		rows = append(rows, row)
	}
	paper := []string{"DogFaceNet paper (48 unseen dogs, one split)", "", "", fmt.Sprintf("%.2f", paperAccuracy), ""}
	for range c.TargetFARs {
		paper = append(paper, "")
	}
	for _, k := range c.ranks() {
		cell := ""
		if k == 5 {
			cell = fmt.Sprintf("%.2f", paperRank5)
		}
		paper = append(paper, cell)
	}
	return header, append(rows, paper)
}

// Warnings flag the true-accept rates resting on few impostor pairs.
func (c *VerificationCard) Warnings() []string {
	var out []string
	for i, f := range c.TargetFARs {
		fewest := math.MaxInt
		for _, r := range c.Rows {
			fewest = min(fewest, r.Allowed[i])
		}
		switch {
		case fewest == 0:
			out = append(out, fmt.Sprintf("TAR at FAR %s is not measurable: with %d impostor pairs not one may pass, so the threshold is the highest impostor score whatever the target. Raise evaluation.impostor_pairs to %d or more.",
				farLabel(f), c.ImpostorLo, int(math.Ceil(fewAllowed/f))))
		case fewest < fewAllowed:
			out = append(out, fmt.Sprintf("TAR at FAR %s rests on %d impostor pairs let through per draw (fewer than %d): one pair more or less on the wrong side moves it noticeably. Raise evaluation.impostor_pairs to %d or more.",
				farLabel(f), fewest, fewAllowed, int(math.Ceil(fewAllowed/f))))
		}
	}
	return out
}

// Differences are the ways this protocol departs from the DogFaceNet
// authors', as their published evaluation script and paper describe it.
func (c *VerificationCard) Differences() []string {
	return []string{
		"Network: the paper's embedding was trained with a triplet loss on about 1,300 other dogs of its data set; here the backbones are frozen networks trained on human faces, and nothing is trained on dogs (unless a variant's backbone is a +arcface adapter, trained on the folder's dogs below min_images_per_class).",
		"Dogs: the paper's 48 test dogs are one fixed tenth of its dog folders (any with 2 or more photos) in a version of the data set with 1,393 dogs; here each seed draws its own measured and threshold dogs from those with at least min_images_per_class photos, and the interval is over those draws.",
		"Pairs: the paper draws 5,000 pairs, each genuine or impostor by a coin flip and with replacement; here the genuine and impostor pairs are counted out exactly, never repeated, and near-duplicate photos are never paired.",
		"Threshold: the paper reports accuracy at the threshold best for its measured pairs (the fourth column here); here the threshold is also chosen on other dogs' pairs (the third column), as a deployed system must.",
		"One-shot: how the paper picks each dog's gallery photo is not in its script; here one photo per dog is drawn with the seed.",
	}
}

// Markdown renders the card as a report section.
func (c *VerificationCard) Markdown() string {
	var b strings.Builder
	b.WriteString("## Verification and one-shot identification\n\n")
	for _, s := range c.Intro() {
		b.WriteString(s + "\n\n")
	}
	header, rows := c.table()
	writeTable(&b, header, rows)
	for _, w := range c.Warnings() {
		b.WriteString("\n**" + w + "**\n")
	}
	for _, f := range []*figure{c.ROC, c.CMC} {
		if f != nil {
			fmt.Fprintf(&b, "\n![%s](%s)\n\n*%s*\n", f.Caption, f.Name, f.Caption)
		}
	}
	b.WriteString("\n### Differences from the DogFaceNet protocol\n\n")
	for _, s := range c.Differences() {
		b.WriteString("- " + s + "\n")
	}
	return b.String()
}

var verificationHTML = htmltemplate.Must(htmltemplate.New("verification").Parse(`<h2>Verification and one-shot identification</h2>
{{range .Intro}}<p>{{.}}</p>
{{end}}<table class="verification">
<tr>{{range .Table.Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Table.Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{range .Warnings}}<p class="warn">{{.}}</p>
{{end}}{{range .Figures}}<figure><img class="chart" src="{{.DataURI}}" alt="{{.Caption}}"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}<h3>Differences from the DogFaceNet protocol</h3>
<ul>{{range .Differences}}<li>{{.}}</li>{{end}}</ul>`))

// HTML renders the card as a report section.
func (c *VerificationCard) HTML() htmltemplate.HTML {
	h, r := c.table()
	var figs []figure
	for _, f := range []*figure{c.ROC, c.CMC} {
		if f != nil {
			figs = append(figs, *f)
		}
	}
	var b bytes.Buffer
	err := verificationHTML.Execute(&b, map[string]any{"Intro": c.Intro(), "Table": htmlTable{h, r}, "Warnings": c.Warnings(),
		"Figures": figs, "Differences": c.Differences()})
	if err != nil {
		return htmltemplate.HTML("<p>verification: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
