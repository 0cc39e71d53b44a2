package report

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"math"
	"strings"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/plots"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/search"
)

// SearchCard is a search's part of the report: each seed's draws in the
// order they were made, with the validation value the search went by,
// what its pruner stopped and what that saved, and the best draw of each
// seed as the search chose it (on validation).
type SearchCard struct {
	Method, Metric, Pruner string // Pruner "" without prune
	Maximize               bool
	Params                 []plots.SearchParam // nil when the stored file no longer decodes
	Studies                []SearchStudy
	// Draws by how they ended, and the fit CPU seconds of each kind.
	Complete, Pruned, Failed, Unfinished int
	CompleteCPU, PrunedCPU               float64
}

// SearchStudy is one seed's search.
type SearchStudy struct {
	Seed  int64
	Draws []plots.SearchTrial
	Best  *SearchBest // nil before a draw is complete
}

// SearchBest is a study's best complete draw on validation.
type SearchBest struct {
	Trial   results.Trial
	Value   float64
	Epoch   int     // its best epoch
	FitCPU  float64 // seconds of fit CPU the study spent until it was found (itself included)
	Drawn   int     // its number, from 1
	Compare string  // what the confirmation said of it, if anything
}

// gatherSearch reads the search card; nil for an experiment without a
// search.
func (d *Data) gatherSearch(ctx context.Context, st *results.Store) error {
	recs, err := st.SearchRecords(ctx, d.Experiment.ID)
	if err != nil || len(recs) == 0 {
		return err
	}
	c := &SearchCard{Maximize: true}
	var space *search.Space
	if cfg := d.Config; cfg != nil && cfg.Search.Declared() {
		c.Method, c.Metric, c.Pruner = cfg.Search.Method, cfg.Search.Metric, cfg.Prune.Method
		if _, _, dir := cfg.Searcher(); dir == search.Minimize {
			c.Maximize = false
		}
		if s, err := cfg.SearchSpace(); err == nil {
			space = &s
			c.Params = searchParams(s)
		}
	}
	byID := map[int64]results.Trial{}
	for _, t := range d.Trials {
		byID[t.ID] = t
	}
	studies := map[string]*SearchStudy{}
	var order []string
	curves := map[int64]results.StudyCurve{}
	for _, rec := range recs {
		if rec.Rank > 0 {
			continue
		}
		s, ok := studies[rec.Study]
		if !ok {
			cs, err := st.StudyCurves(ctx, d.Experiment.ID, rec.Study, 0)
			if err != nil {
				return err
			}
			for _, cv := range cs {
				curves[cv.TrialID] = cv
			}
			s = &SearchStudy{Seed: byID[rec.TrialID].Seed}
			studies[rec.Study] = s
			order = append(order, rec.Study)
		}
		t := byID[rec.TrialID]
		v, epoch, ok := searchValue(t, curves[t.ID].Epochs, c.Metric)
		switch {
		case t.Status == results.StatusFailed:
			c.Failed++
		case !ok:
			c.Unfinished++
		case t.Status == results.StatusPruned:
			c.Pruned++
			c.PrunedCPU += t.FitCPUSeconds
		default:
			c.Complete++
			c.CompleteCPU += t.FitCPUSeconds
		}
		if !ok {
			continue
		}
		draw := plots.SearchTrial{N: rec.Sample + 1, Value: v, Pruned: t.Status == results.StatusPruned}
		if space != nil && len(rec.Point) == len(c.Params) {
			draw.Params = append([]float64(nil), rec.Point...)
		}
		s.Draws = append(s.Draws, draw)
		if draw.Pruned {
			continue
		}
		if b := s.Best; b == nil || c.Maximize && v > b.Value || !c.Maximize && v < b.Value {
			s.Best = &SearchBest{Trial: t, Value: v, Epoch: epoch, Drawn: draw.N}
		}
	}
	for _, key := range order {
		s := studies[key]
		if s.Best != nil {
			for _, rec := range recs {
				if t := byID[rec.TrialID]; rec.Study == key && rec.Rank == 0 && rec.Sample < s.Best.Drawn {
					s.Best.FitCPU += t.FitCPUSeconds
				}
			}
		}
		c.Studies = append(c.Studies, *s)
	}
	d.Search = c
	return nil
}

// searchValue is the value a trial's search went by: the metric at a
// complete trial's best epoch, at a pruned one's last; ok is false for a
// trial without that epoch (running, failed).
func searchValue(t results.Trial, eps []results.Epoch, metric string) (v float64, epoch int, ok bool) {
	switch t.Status {
	case results.StatusDone:
		epoch = t.BestEpoch
	case results.StatusPruned:
		epoch = t.StoppedEpoch
	default:
		return 0, 0, false
	}
	for _, e := range eps {
		if e.Epoch == epoch {
			v = e.ValAccuracy
			if metric == "val_loss" {
				v = e.ValLoss
			}
			return v, epoch, !math.IsNaN(v) && !math.IsInf(v, 0)
		}
	}
	return 0, 0, false
}

// searchParams are the axes of a space, as the figures draw them.
func searchParams(s search.Space) []plots.SearchParam {
	var out []plots.SearchParam
	for _, p := range s.Params() {
		sp := plots.SearchParam{Name: p.Name, Log: p.Kind == search.LogUniform || p.Kind == search.Int && p.Log}
		for _, c := range p.Choices {
			sp.Labels = append(sp.Labels, fmt.Sprint(c))
		}
		out = append(out, sp)
	}
	return out
}

// plotStudies are the studies as the figures take them: each seed's drawn
// draws, those with a point in the space when params are known.
func (c *SearchCard) plotStudies() []plots.SearchStudy {
	out := make([]plots.SearchStudy, len(c.Studies))
	for i, s := range c.Studies {
		out[i] = plots.SearchStudy{Label: fmt.Sprintf("seed %d", s.Seed), Trials: s.Draws}
	}
	return out
}

// figures draws the optimisation history, the slices and the parallel
// coordinates of the search.
func (c *SearchCard) figures(pics *pictures) ([]figure, error) {
	studies := c.plotStudies()
	metric := strings.ReplaceAll(c.Metric, "val_", "validation ")
	var out []figure
	title := "Optimisation history: " + metric + " of each draw"
	png, err := pics.draw("search_history.png", []any{title, studies, c.Maximize, wideW, wideH}, func() ([]byte, error) {
		return plots.SearchHistory(title, metric, studies, c.Maximize, plots.PNG, wideW, wideH)
	})
	if err != nil {
		return nil, fmt.Errorf("search history: %w", err)
	}
	out = append(out, figure{Name: "search_history.png", PNG: png,
		Caption: "Each draw in the order it was made, by its " + metric + " (a complete draw's at its best epoch, a pruned one's at the epoch it was stopped); the line is each seed's best complete draw so far."})
	if c.Params == nil {
		return out, nil
	}
	for _, s := range studies {
		for _, t := range s.Trials {
			if t.Params == nil {
				return out, nil // a draw of another space: no axes to put it on
			}
		}
	}
	rows := (len(c.Params) + 2) / 3
	h := min(maxFigureH, 120+300*rows)
	title = metric + " against each setting"
	png, err = pics.draw("search_slices.png", []any{title, c.Params, studies, wideW, h}, func() ([]byte, error) {
		return plots.SearchSlices(title, metric, c.Params, studies, plots.PNG, wideW, h)
	})
	if err != nil {
		return nil, fmt.Errorf("search slices: %w", err)
	}
	out = append(out, figure{Name: "search_slices.png", PNG: png,
		Caption: "The " + metric + " of every draw against each setting it drew; pruned draws as grey crosses."})
	title = "The space as the search covered it"
	png, err = pics.draw("search_parallel.png", []any{title, c.Params, studies, c.Maximize, wideW, wideH}, func() ([]byte, error) {
		return plots.ParallelCoordinates(title, metric, c.Params, studies, c.Maximize, plots.PNG, wideW, wideH)
	})
	if err != nil {
		return nil, fmt.Errorf("search parallel coordinates: %w", err)
	}
	out = append(out, figure{Name: "search_parallel.png", PNG: png,
		Caption: "Every draw as a line through its settings to its " + metric + ": the better, the darker; pruned draws light grey."})
	return out, nil
}

// Summary says what the search did, in a sentence.
func (c *SearchCard) Summary() string {
	draws := c.Complete + c.Pruned + c.Failed + c.Unfinished
	s := fmt.Sprintf("A %s search on %s: %s over %s", c.Method, c.Metric, english.Count(draws, "draw"), english.Count(len(c.Studies), "seed"))
	if c.Pruner != "" {
		cpu := c.CompleteCPU + c.PrunedCPU
		share := 0.0
		if cpu > 0 {
			share = c.PrunedCPU / cpu
		}
		s += fmt.Sprintf("; %s stopped %d of them early (%s), which took %s of the heads' fit CPU time", c.Pruner, c.Pruned,
			formatRate(float64(c.Pruned)/float64(max(draws, 1))), formatRate(share))
	}
	if c.Failed > 0 {
		s += fmt.Sprintf("; %d failed", c.Failed)
	}
	if c.Unfinished > 0 {
		s += fmt.Sprintf("; %d not finished yet", c.Unfinished)
	}
	return s + fmt.Sprintf(". Each seed's best draw is chosen on validation photos only; the test accuracy beside it was not looked at to choose it. Fit CPU: %.0f s for complete draws, %.0f s for pruned ones.", c.CompleteCPU, c.PrunedCPU)
}

// searchHeader is the table of each seed's best draw.
var searchHeader = []string{"seed", "draws", "pruned", "best draw on validation", "its value", "best epoch", "test accuracy", "fit CPU until found"}

func (c *SearchCard) table(metrics map[int64]results.TrialMetrics) [][]string {
	var rows [][]string
	for _, s := range c.Studies {
		pruned := 0
		for _, d := range s.Draws {
			if d.Pruned {
				pruned++
			}
		}
		row := []string{fmt.Sprint(s.Seed), fmt.Sprint(len(s.Draws)), fmt.Sprint(pruned), "–", "–", "–", "–", "–"}
		if b := s.Best; b != nil {
			row[3], row[4], row[5] = b.Trial.VariantKey, fmt.Sprintf("%.4f", b.Value), fmt.Sprint(b.Epoch)
			if m, ok := metrics[b.Trial.ID]; ok {
				row[6] = fmt.Sprintf("%.3f", m.Accuracy)
			}
			row[7] = fmt.Sprintf("%.1f s", b.FitCPU)
		}
		rows = append(rows, row)
	}
	return rows
}

// Markdown is the card's text; the report's figures follow it.
func (d *Data) searchMarkdown() string {
	c := d.Search
	var b strings.Builder
	fmt.Fprintf(&b, "## Search\n\n%s\n\n| %s |\n|", c.Summary(), strings.Join(searchHeader, " | "))
	for range searchHeader {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range c.table(d.Metrics) {
		for i := range r {
			r[i] = strings.ReplaceAll(r[i], "|", "\\|")
		}
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

var searchHTML = htmltemplate.Must(htmltemplate.New("search").Parse(`<h2>Search</h2>
<p>{{.Summary}}</p>
<table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>`))

func (d *Data) searchHTML() htmltemplate.HTML {
	var b bytes.Buffer
	err := searchHTML.Execute(&b, struct {
		Summary string
		Header  []string
		Rows    [][]string
	}{d.Search.Summary(), searchHeader, d.Search.table(d.Metrics)})
	if err != nil {
		return htmltemplate.HTML("<p>search: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
