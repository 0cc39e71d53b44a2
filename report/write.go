package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

//go:embed report.md.tmpl
var markdownTemplate string

//go:embed report.html.tmpl
var htmlTemplate string

//go:embed trial.md.tmpl
var trialMarkdownTemplate string

//go:embed trial.html.tmpl
var trialHTMLTemplate string

//go:embed common.md.tmpl
var commonMarkdown string

//go:embed common.html.tmpl
var commonHTML string

// figure is one picture of a page, kept as PNG bytes.
type figure struct {
	Name    string // file name beside the Markdown page
	Caption string
	PNG     []byte
}

// DataURI embeds the picture in HTML, so the file stands alone.
func (f figure) DataURI() htmltemplate.URL {
	return htmltemplate.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG))
}

// confusionBlock is a heatmap with its most confused pairs beside it.
type confusionBlock struct {
	Figure  figure
	Pairs   []ConfusedPair
	Classes int
	Seeds   int    // how many trials' matrices were added up
	Source  string // whose matrix: "the 2 seeds of head.dropout=0.5", "this trial"
}

// view is what the main templates see.
type view struct {
	*Data
	Generated  string
	Env        []EnvRow
	Top        *Variant
	Comparison []figure // variants, sweep axes, validation curves per variant
	// SearchFigures follow a search's text (SearchMarkdown, SearchHTML).
	SearchFigures  []figure
	SearchMarkdown string
	SearchHTML     htmltemplate.HTML
	BestCurve      *figure
	ClassF1        *figure
	WorstClasses   []ClassRow
	Confusion      *confusionBlock
	VariantLinks   map[string][]trialLink
	Rows           []trialRow
	TensorBoardDir string
	// Embedded are the trial pages report.html carries, as collapsed
	// sections; Separate counts those it only links to, past embedBudget.
	Embedded []*trialView
	Separate int
}

// embedBudget bounds the bytes of pictures of the trial pages report.html
// embeds, so that the one file stays small enough to mail.
const embedBudget = 8 << 20

type trialLink struct {
	Seed int64
	Dir  string // trials/<hash16>, relative to the report
	Done bool
	Href string // where report.html shows the trial: its section, or its page
}

type trialRow struct {
	Number                  int // counted from 1
	Variant                 string
	Seed                    int64
	Status                  string
	Accuracy, Top5, MacroF1 string
	BestEpoch, StoppedEpoch int
	Duration, Hash, Error   string
	Dir                     string // trials/<hash16>
	Href                    string // see trialLink
}

func (d *Data) rows() []trialRow {
	out := make([]trialRow, len(d.Trials))
	for i, t := range d.Trials {
		r := trialRow{Number: trialNumber(t), Variant: t.VariantKey, Seed: t.Seed, Status: string(t.Status),
			Accuracy: "–", Top5: "–", MacroF1: "–", BestEpoch: t.BestEpoch, StoppedEpoch: t.StoppedEpoch,
			Hash: t.Hash[:min(12, len(t.Hash))], Error: oneLine(t.Error), Dir: trialDir(t)}
		if m, ok := d.Metrics[t.ID]; ok {
			r.Accuracy, r.Top5, r.MacroF1 = fmt.Sprintf("%.3f", m.Accuracy), fmt.Sprintf("%.3f", m.Top5), fmt.Sprintf("%.3f", m.MacroF1)
		}
		if t.DurationSeconds > 0 {
			r.Duration = roundSeconds(t.DurationSeconds).String()
		}
		out[i] = r
	}
	return out
}

// embed puts the trial pages into report.html, in trial order, while their
// pictures fit embedBudget, and points the report's trial links at them.
func (v *view) embed(pages []*trialView) {
	used := 0
	href := map[string]string{}
	for i, tv := range pages {
		r := &v.Rows[i]
		r.Href = r.Dir + "/index.html"
		if used += tv.pictureBytes(); used <= embedBudget {
			v.Embedded = append(v.Embedded, tv.embedded())
			r.Href = fmt.Sprintf("#trial-%d", r.Number)
		} else {
			v.Separate++
		}
		href[r.Dir] = r.Href
	}
	for _, links := range v.VariantLinks {
		for i := range links {
			links[i].Href = href[links[i].Dir]
		}
	}
}

// trialDir is a trial's folder relative to the report: the same folder the
// runner keeps its checkpoint and TensorBoard logs in.
func trialDir(t results.Trial) string { return "trials/" + shortHash(t.Hash) }

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// plannedEpochs reads the epoch budget from the trial's stored config.
func plannedEpochs(t results.Trial) int {
	var cfg schemas.Experiment
	if err := json.Unmarshal([]byte(t.ConfigJSON), &cfg); err != nil {
		return 0
	}
	return cfg.Train.Epochs
}

// earlyStop is the epoch to mark as an early stop, or 0 when the trial ran
// its whole epoch budget.
func earlyStop(t results.Trial) int {
	if t.StoppedEpoch >= plannedEpochs(t) {
		return 0
	}
	return t.StoppedEpoch
}

var funcs = template.FuncMap{
	"interval": Interval,
	"add1":     func(i int) int { return i + 1 },
	"f3":       func(x float64) string { return fmt.Sprintf("%.3f", x) },
	"pct":      formatRate,
	// cell keeps a value from breaking a Markdown table row.
	"cell": func(s string) string {
		return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
	},
	// dict hands a shared block several values: dict "key" value ...
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict needs key/value pairs")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}

// Write renders the report into dir: report.md (pictures and thumbnails
// beside it) and the self-contained report.html, plus for every trial
// trials/<hash16>/index.md and index.html. It returns the two main paths.
func Write(d *Data, dir string, now time.Time) (md, html string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	pics := openPictures(dir)
	th := newThumbs(d.DatasetDir, d.ClassPhotos, pics)
	v, err := d.mainView(th, pics, now)
	if err != nil {
		return "", "", err
	}
	// Trial pages are independent, and drawing them is most of the work.
	pages := make([]*trialView, len(d.Trials))
	errs := make([]error, len(d.Trials))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, t := range d.Trials {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			tv, err := d.trialPage(dir, pics, t, v.Rows[i], th, v.Generated)
			if err == nil {
				err = tv.write(dir)
			}
			if err != nil {
				errs[i] = fmt.Errorf("trial %d page: %w", trialNumber(t), err)
			}
			pages[i] = tv
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", "", err
	}
	v.embed(pages)
	md, html = filepath.Join(dir, "report.md"), filepath.Join(dir, "report.html")
	if err := render(md, html, mainPage, v); err != nil {
		return "", "", err
	}
	if err := pics.save(); err != nil {
		return "", "", err
	}
	return md, html, nil
}

// page is a parsed Markdown and HTML template pair, each with the shared
// blocks of its format.
type page struct {
	md   *template.Template
	html *htmltemplate.Template
}

func parsePage(mdText, htmlText string) (page, error) {
	var p page
	var err error
	if p.md, err = template.New("md").Funcs(funcs).Parse(mdText); err == nil {
		_, err = p.md.Parse(commonMarkdown)
	}
	if err != nil {
		return page{}, err
	}
	if p.html, err = htmltemplate.New("html").Funcs(htmltemplate.FuncMap(funcs)).Parse(htmlText); err == nil {
		_, err = p.html.Parse(commonHTML)
	}
	return p, err
}

var (
	mainPage  = sync.OnceValues(func() (page, error) { return parsePage(markdownTemplate, htmlTemplate) })
	trialPage = sync.OnceValues(func() (page, error) { return parsePage(trialMarkdownTemplate, trialHTMLTemplate) })
)

// render executes a page's templates on data and writes both files.
func render(mdPath, htmlPath string, parsed func() (page, error), data any) error {
	p, err := parsed()
	if err != nil {
		return err
	}
	var mdBuf, htmlBuf bytes.Buffer
	if err := p.md.Execute(&mdBuf, data); err != nil {
		return err
	}
	if err := p.html.Execute(&htmlBuf, data); err != nil {
		return err
	}
	if err := os.WriteFile(mdPath, mdBuf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(htmlPath, htmlBuf.Bytes(), 0o644)
}

// StatusCounts counts trials per status, in life-cycle order, for the summary line.
func (d *Data) StatusCounts() string {
	counts := map[results.TrialStatus]int{}
	for _, t := range d.Trials {
		counts[t.Status]++
	}
	var parts []string
	for _, s := range []results.TrialStatus{results.StatusDone, results.StatusPruned, results.StatusRunning, results.StatusPending, results.StatusFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// trialNumber is a trial as people count them, from 1; Index counts from 0.
func trialNumber(t results.Trial) int { return t.Index + 1 }
