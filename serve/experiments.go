package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

// statusOrder is the order statuses are shown in; others follow by name.
var statusOrder = []results.TrialStatus{results.StatusDone, results.StatusRunning, results.StatusPending,
	results.StatusFailed, "pruned"}

// statusCount is one status with its count, for templates.
type statusCount struct {
	Status results.TrialStatus
	N      int
}

// ordered lists the counts in statusOrder, the four of every sweep always.
func ordered(c results.StatusCounts) []statusCount {
	var out []statusCount
	for i, s := range statusOrder {
		if i < 4 || c[s] > 0 {
			out = append(out, statusCount{s, c[s]})
		}
	}
	var more []string
	for s := range c {
		known := false
		for _, k := range statusOrder {
			known = known || k == s
		}
		if !known {
			more = append(more, string(s))
		}
	}
	sort.Strings(more)
	for _, s := range more {
		out = append(out, statusCount{results.TrialStatus(s), c[results.TrialStatus(s)]})
	}
	return out
}

// experimentRow is one experiment on the list.
type experimentRow struct {
	Name, Link, File string
	Counts           []statusCount
	Total, Done      int
	Best             float64
	Running          []runningRow
	ETA              string
	LastFinished     *time.Time
}

// runningRow is a running trial with its progress and how long it has left.
type runningRow struct {
	Number       int
	Label, Link  string
	Worker       string
	Phase        string
	Epoch        int
	Epochs       int
	Fraction     float64 // of its epochs done: the bar
	EpochSeconds float64
	ValAccuracy  float64
	Elapsed      string
	Left         string // at most this long (early stopping may end it sooner)
	elapsed      float64
}

type experimentsView struct {
	Rows     []experimentRow
	versions results.Versions
}

func (s *Server) experimentsPage(w http.ResponseWriter, r *http.Request) error {
	return s.experimentsHTML(w, r, func(v *experimentsView) ([]byte, error) {
		return s.pages.html("experiments.html", "layout", view{Title: "Experiments", Events: "/events", Versions: v.versions, Path: "/", D: v})
	})
}

func (s *Server) experimentsPart(w http.ResponseWriter, r *http.Request) error {
	return s.experimentsHTML(w, r, func(v *experimentsView) ([]byte, error) {
		return s.pages.html("experiments.html", "part-experiments", view{D: v})
	})
}

// experimentsHTML writes the list of experiments, or its part, rendered
// by render once per versions of the store.
func (s *Server) experimentsHTML(w http.ResponseWriter, r *http.Request, render func(*experimentsView) ([]byte, error)) error {
	store := func(context.Context) (int64, error) { return 0, nil }
	return cachedPage(s, w, r, store, s.overview, render)
}

// overview is the list of experiments at the store's current version.
func (s *Server) overview(r *http.Request) (*experimentsView, error) {
	c, cancel := ctx(r)
	defer cancel()
	v, err := s.versions.get(c, 0)
	if err != nil {
		return nil, err
	}
	return cached(s.memo, "overview\x00"+v.Results+"\x00"+v.Progress, func() (*experimentsView, error) {
		exps, err := s.st.ExperimentOverviews(c)
		if err != nil {
			return nil, err
		}
		out := &experimentsView{versions: v}
		for _, e := range exps {
			row := experimentRow{Name: e.Name, Link: link("/experiment", "e", e.Name), File: e.File, Counts: ordered(e.Counts),
				Total: e.Counts.Total(), Done: e.Counts[results.StatusDone], Best: e.Best, LastFinished: e.LastFinished}
			if e.Counts[results.StatusRunning] > 0 {
				running, err := s.st.RunningTrials(c, e.ID)
				if err != nil {
					return nil, err
				}
				row.Running = runningRows(running, e.Counts.Total())
			}
			row.ETA = eta(e.Counts, e.DoneSeconds, runningElapsed(row.Running))
			out.Rows = append(out.Rows, row)
		}
		return out, nil
	})
}

// runningRows describes running trials of a sweep of total trials.
func runningRows(running []results.RunningTrial, total int) []runningRow {
	now := time.Now()
	var out []runningRow
	for _, t := range running {
		row := runningRow{Number: t.Index + 1, Label: runner.Describe(t.VariantKey, t.Seed, t.Fold), Link: link("/trial", "id", t.Hash),
			Worker: t.Worker, Phase: "starting", EpochSeconds: math.NaN(), ValAccuracy: math.NaN(), Left: "–"}
		if t.StartedAt != nil {
			row.elapsed = now.Sub(*t.StartedAt).Seconds()
			row.Elapsed = seconds(row.elapsed)
		}
		if p := t.Progress; p != nil {
			row.Phase, row.Epoch, row.Epochs, row.EpochSeconds, row.ValAccuracy = p.Phase, p.Epoch, p.Epochs, p.EpochSeconds, p.ValAccuracy
			if p.Epochs > 0 {
				row.Fraction = float64(p.Epoch) / float64(p.Epochs)
			}
			if p.Phase == results.PhaseTraining && !math.IsNaN(p.EpochSeconds) {
				row.Left = "≤ " + seconds(float64(p.Epochs-p.Epoch)*p.EpochSeconds)
			}
		}
		out = append(out, row)
	}
	return out
}

// runningElapsed is how long each running trial has run, in seconds.
func runningElapsed(rows []runningRow) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r.elapsed)
	}
	return out
}

// eta estimates when a sweep ends: each trial left takes as long as the
// done ones did on average, as many at a time as are running now.
func eta(c results.StatusCounts, doneSeconds float64, running []float64) string {
	done, pending := c[results.StatusDone], c[results.StatusPending]
	if done == 0 || len(running) == 0 {
		return "" // nothing runs now: no sweep to see the end of
	}
	mean := doneSeconds / float64(done)
	work := float64(pending) * mean
	for _, elapsed := range running {
		work += math.Max(mean-elapsed, 0)
	}
	at := max(len(running), 1)
	return fmt.Sprintf("about %s (%s a trial, %d at a time)", seconds(work/float64(at)), seconds(mean), at)
}

// experiment finds an experiment by name at the store's current version.
func (s *Server) experiment(c context.Context, name string) (results.Experiment, error) {
	if name == "" {
		return results.Experiment{}, badRequest("which experiment? (e=NAME)")
	}
	v, err := s.versions.get(c, 0)
	if err != nil {
		return results.Experiment{}, err
	}
	return cached(s.memo, "experiment\x00"+v.Results+"\x00"+name, func() (results.Experiment, error) {
		e, err := s.st.Experiment(c, name)
		if errors.Is(err, results.ErrNotFound) {
			return e, notFound("%v", err)
		}
		return e, err
	})
}
