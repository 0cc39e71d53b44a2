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
	Generated      string
	Env            []EnvRow
	Top            *Variant
	Comparison     []figure // variants, sweep axes, validation curves per variant
	BestCurve      *figure
	ClassF1        *figure
	WorstClasses   []ClassRow
	Confusion      *confusionBlock
	VariantLinks   map[string][]trialLink
	Rows           []trialRow
	TensorBoardDir string
}

type trialLink struct {
	Seed int64
	Dir  string // trials/<hash16>, relative to the report
	Done bool
}

type trialRow struct {
	Index                   int
	Variant                 string
	Seed                    int64
	Status                  string
	Accuracy, Top5, MacroF1 string
	BestEpoch, StoppedEpoch int
	Duration, Hash, Error   string
	Dir                     string // trials/<hash16>
}

func (d *Data) rows() []trialRow {
	out := make([]trialRow, len(d.Trials))
	for i, t := range d.Trials {
		r := trialRow{Index: t.Index, Variant: t.VariantKey, Seed: t.Seed, Status: string(t.Status),
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
	th := newThumbs(d.DatasetDir, d.ClassPhotos)
	v, err := d.mainView(th, now)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	figs := append([]figure(nil), v.Comparison...)
	for _, f := range []*figure{v.BestCurve, v.ClassF1} {
		if f != nil {
			figs = append(figs, *f)
		}
	}
	if v.Confusion != nil {
		figs = append(figs, v.Confusion.Figure)
	}
	if d.GradCAM != nil {
		figs = append(figs, d.GradCAM.figures()...)
	}
	if d.Settle != nil {
		figs = append(figs, d.Settle.figures()...)
	}
	if err := writeFigures(dir, figs); err != nil {
		return "", "", err
	}
	md, html = filepath.Join(dir, "report.md"), filepath.Join(dir, "report.html")
	if err := render(md, html, mainPage, v); err != nil {
		return "", "", err
	}
	// Trial pages are independent, and drawing them is most of the work.
	errs := make([]error, len(d.Trials))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, t := range d.Trials {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := d.writeTrialPage(filepath.Join(dir, filepath.FromSlash(trialDir(t))), t, v.Rows[i], th, v.Generated); err != nil {
				errs[i] = fmt.Errorf("trial %d page: %w", t.Index, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", "", err
	}
	// Thumbnails last: every page has asked for its own by now.
	if err := os.MkdirAll(filepath.Join(dir, "thumbs"), 0o755); err != nil {
		return "", "", err
	}
	for _, t := range th.all() {
		if t.Missing != "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(t.File)), t.JPEG, 0o644); err != nil {
			return "", "", err
		}
	}
	return md, html, nil
}

func writeFigures(dir string, figs []figure) error {
	for _, f := range figs {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.PNG, 0o644); err != nil {
			return err
		}
	}
	return nil
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
	for _, s := range []results.TrialStatus{results.StatusDone, results.StatusRunning, results.StatusPending, results.StatusFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}
