package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/dogrun/dogrun/plots"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

//go:embed report.md.tmpl
var markdownTemplate string

//go:embed report.html.tmpl
var htmlTemplate string

// figure is one picture of the report, kept as PNG bytes.
type figure struct {
	Name    string // file name beside the Markdown report
	Caption string
	PNG     []byte
}

// DataURI embeds the picture in HTML, so the file stands alone.
func (f figure) DataURI() htmltemplate.URL {
	return htmltemplate.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG))
}

type view struct {
	*Data
	Generated string
	Figures   []figure
	Rows      []trialRow
}

type trialRow struct {
	Index                   int
	Variant                 string
	Seed                    int64
	Status                  string
	Accuracy, Top5, MacroF1 string
	BestEpoch, StoppedEpoch int
	Duration, Hash, Error   string
}

func (d *Data) rows() []trialRow {
	out := make([]trialRow, len(d.Trials))
	for i, t := range d.Trials {
		r := trialRow{Index: t.Index, Variant: t.VariantKey, Seed: t.Seed, Status: string(t.Status),
			Accuracy: "–", Top5: "–", MacroF1: "–", BestEpoch: t.BestEpoch, StoppedEpoch: t.StoppedEpoch,
			Hash: t.Hash[:12], Error: oneLine(t.Error)}
		if m, ok := d.Metrics[t.ID]; ok {
			r.Accuracy, r.Top5, r.MacroF1 = fmt.Sprintf("%.3f", m.Accuracy), fmt.Sprintf("%.3f", m.Top5), fmt.Sprintf("%.3f", m.MacroF1)
		}
		if t.DurationSeconds > 0 {
			r.Duration = (time.Duration(t.DurationSeconds*10) * time.Second / 10).String()
		}
		out[i] = r
	}
	return out
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func (d *Data) figures() ([]figure, error) {
	var figs []figure
	if len(d.Variants) > 0 && d.Variants[0].Done > 0 {
		pts := make([]plots.VariantPoints, 0, len(d.Variants))
		for _, v := range d.Variants {
			if v.Done == 0 {
				continue
			}
			lo, hi := math.Max(0, v.Accuracy.Lo), math.Min(1, v.Accuracy.Hi)
			if v.Accuracy.N < 2 {
				lo, hi = math.NaN(), math.NaN()
			}
			pts = append(pts, plots.VariantPoints{Label: v.Key, Values: v.Values, Mean: v.Accuracy.Mean, Lo: lo, Hi: hi})
		}
		png, err := plots.VariantComparison("Test accuracy per variant (dots: seeds; bar: 95% interval)", "test accuracy", pts, plots.PNG, 900, 120+60*len(pts))
		if err != nil {
			return nil, fmt.Errorf("variant chart: %w", err)
		}
		figs = append(figs, figure{Name: "variants.png", Caption: "Test accuracy of every variant: one dot per seed, mean and 95% interval.", PNG: png})
	}
	if d.Best == nil {
		return figs, nil
	}
	pts := make([]plots.EpochPoint, len(d.BestEpochs))
	for i, e := range d.BestEpochs {
		pts[i] = plots.EpochPoint{Epoch: e.Epoch, TrainLoss: e.TrainLoss, ValLoss: e.ValLoss, TrainAccuracy: e.TrainAccuracy, ValAccuracy: e.ValAccuracy}
	}
	if len(pts) > 0 {
		stopped := d.Best.StoppedEpoch
		if stopped >= plannedEpochs(*d.Best) {
			stopped = 0 // ran every epoch: no early stop to mark
		}
		png, err := plots.LearningCurve(fmt.Sprintf("Best trial %d (%s, seed %d)", d.Best.Index, d.Best.VariantKey, d.Best.Seed),
			pts, d.Best.BestEpoch, stopped, plots.PNG, 1000, 420)
		if err != nil {
			return nil, fmt.Errorf("learning curve: %w", err)
		}
		figs = append(figs, figure{Name: "learning_curve.png", Caption: "Learning curve of the best trial: loss and accuracy per epoch; the checkpoint is the best epoch.", PNG: png})
	}
	if len(d.BestReport.Confusion) > 0 {
		png, err := plots.ConfusionHeatmap(fmt.Sprintf("Confusion matrix of the best trial (%d classes, row-normalised)", len(d.Classes)),
			d.BestReport.Confusion, d.Classes, plots.PNG, 800)
		if err != nil {
			return nil, fmt.Errorf("confusion matrix: %w", err)
		}
		figs = append(figs, figure{Name: "confusion.png", Caption: "Confusion matrix of the best trial on the test photos (rows: true dog, columns: predicted).", PNG: png})
	}
	return figs, nil
}

// plannedEpochs reads the epoch budget from the trial's stored config.
func plannedEpochs(t results.Trial) int {
	var cfg schemas.Experiment
	if err := json.Unmarshal([]byte(t.ConfigJSON), &cfg); err != nil {
		return 0
	}
	return cfg.Train.Epochs
}

// Write renders the report into dir as report.md (pictures beside it) and
// report.html (pictures embedded), and returns both paths.
func Write(d *Data, dir string, now time.Time) (md, html string, err error) {
	figs, err := d.figures()
	if err != nil {
		return "", "", err
	}
	v := view{Data: d, Generated: now.UTC().Format(time.RFC3339), Figures: figs, Rows: d.rows()}
	funcs := template.FuncMap{"interval": Interval, "add1": func(i int) int { return i + 1 }}
	var mdBuf, htmlBuf bytes.Buffer
	mdT, err := template.New("md").Funcs(funcs).Parse(markdownTemplate)
	if err != nil {
		return "", "", err
	}
	if err := mdT.Execute(&mdBuf, v); err != nil {
		return "", "", err
	}
	htmlT, err := htmltemplate.New("html").Funcs(htmltemplate.FuncMap(funcs)).Parse(htmlTemplate)
	if err != nil {
		return "", "", err
	}
	if err := htmlT.Execute(&htmlBuf, v); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	for _, f := range figs {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.PNG, 0o644); err != nil {
			return "", "", err
		}
	}
	md, html = filepath.Join(dir, "report.md"), filepath.Join(dir, "report.html")
	if err := os.WriteFile(md, mdBuf.Bytes(), 0o644); err != nil {
		return "", "", err
	}
	return md, html, os.WriteFile(html, htmlBuf.Bytes(), 0o644)
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
