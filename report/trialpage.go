package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/tensorboard"
)

// trialView is what the per-trial templates see.
type trialView struct {
	Experiment   string
	Generated    string
	Trial        results.Trial
	Row          trialRow
	Metrics      *results.TrialMetrics
	Env          []EnvRow
	Curve        *figure
	ClassF1      *figure
	WorstClasses []ClassRow
	Confusion    *confusionBlock
	Config       string   // resolved config, indented JSON
	TensorBoard  []string // event files, relative to LogDir
	LogDir       string   // the trial's folder, relative to the page showing it
	Up           string   // from the page to the main report's folder
}

// trialPage draws the pictures of trial t's page into its folder under
// root (pictures know root) and returns what its templates show.
func (d *Data) trialPage(root string, pics *pictures, t results.Trial, row trialRow, th *thumbs, generated string) (*trialView, error) {
	rel := trialDir(t) + "/"
	dir := filepath.Join(root, filepath.FromSlash(rel))
	tv := &trialView{Experiment: d.Experiment.Name, Generated: generated, Trial: t, Row: row, Up: "../../", LogDir: ".",
		Env: d.trialEnvironment(t)}
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(t.ConfigJSON), "", "  ") == nil {
		tv.Config = pretty.String()
	} else {
		tv.Config = t.ConfigJSON
	}
	if m, ok := d.Metrics[t.ID]; ok {
		tv.Metrics = &m
	}
	for _, sub := range []string{tensorboard.TrainDir, tensorboard.ValidationDir} {
		files, _ := filepath.Glob(filepath.Join(dir, sub, tensorboard.FilePrefix+"*"))
		for _, f := range files {
			tv.TensorBoard = append(tv.TensorBoard, sub+"/"+filepath.Base(f))
		}
	}

	if eps := d.Epochs[t.ID]; len(eps) > 0 {
		f, err := learningCurveFigure(pics, rel, fmt.Sprintf("Trial %d (%s, seed %d)", trialNumber(t), t.VariantKey, t.Seed), t, eps)
		if err != nil {
			return nil, err
		}
		f.Caption = "Loss and accuracy per epoch on the training and validation photos; the checkpoint is the best epoch."
		tv.Curve = &f
	}
	if rep, ok := d.Reports[t.ID]; ok && len(rep.PerClass) > 0 {
		rows := classRows([]metrics.Report{rep})
		var err error
		if tv.ClassF1, err = classF1Figure(pics, rel, fmt.Sprintf("Per-class F1 of trial %d", trialNumber(t)), rows, false); err != nil {
			return nil, err
		}
		tv.WorstClasses = worstClasses(rows, 10, th)
		if tv.Confusion, err = confusionFigure(pics, rel, fmt.Sprintf("Confusion of trial %d", trialNumber(t)),
			rep.Confusion, classNames(rep), 1, "this trial", th); err != nil {
			return nil, err
		}
	}
	return tv, nil
}

// write writes the trial's index.md and index.html into its folder.
func (tv *trialView) write(root string) error {
	dir := filepath.Join(root, filepath.FromSlash(trialDir(tv.Trial)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return render(filepath.Join(dir, "index.md"), filepath.Join(dir, "index.html"), trialPage, tv)
}

// embedded is the view shown inside report.html, whose folder is the
// report's.
func (tv *trialView) embedded() *trialView {
	e := *tv
	e.LogDir = trialDir(tv.Trial)
	return &e
}

// pictureBytes is how much tv's pictures add to a page that embeds them.
func (tv *trialView) pictureBytes() int {
	n := 0
	for _, f := range []*figure{tv.Curve, tv.ClassF1} {
		if f != nil {
			n += len(f.PNG)
		}
	}
	if tv.Confusion != nil {
		n += len(tv.Confusion.Figure.PNG)
	}
	return n
}

// trialEnvironment is the environment block of one trial.
func (d *Data) trialEnvironment(t results.Trial) []EnvRow {
	if t.Status != results.StatusDone {
		return nil
	}
	commit := t.GitCommit
	note := "clean working tree"
	warn := false
	if t.GitDirty {
		note, warn = "uncommitted changes: the commit alone does not identify the code", true
	}
	if commit == "" {
		commit = "unknown"
	}
	backbone := "?"
	if cfg, ok := d.Configs[t.ID]; ok {
		backbone = cfg.Backbone.Name
	}
	return []EnvRow{
		{Key: "Go", Value: t.GoVersion},
		{Key: "Git commit", Value: commit, Note: note, Warn: warn},
		{Key: "Backbone", Value: backbone + " sha256 " + t.BackboneSHA256},
		{Key: "Data fingerprint", Value: d.Experiment.DatasetFingerprint},
		{Key: "Checkpoint", Value: t.CheckpointPath},
		{Key: "Worker", Value: t.Worker},
	}
}
