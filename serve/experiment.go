package serve

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/report"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/settle"
)

// Page sizes: enough to read, few enough to stay fast at any sweep size.
const (
	variantsPerPage = 25
	trialsPerPage   = 50
)

// expData is what an experiment's page shows at one results version; the
// per-request parts (pages of trials, verdicts) are read apart from it.
type expData struct {
	Exp         results.Experiment
	Version     string // the results version it was read at
	DatasetDir  string // "" when the stored file no longer names it
	Counts      results.StatusCounts
	DoneSeconds float64
	Variants    []variantRow // best mean accuracy first, unfinished last
	Points      []results.TrialPoint
	Settings    [][]report.Setting // per point
	Axes        []axisValues
	Settle      *settleView // nil unless the experiment settles a question
}

// settleView is a settled experiment's verdicts and paths (docs/settle.md).
type settleView struct {
	Title  string
	Intro  []string
	Header []string
	Rows   [][]string
	Paths  []settlePath
	card   *report.SettleCard
}

// settlePath is one settled comparison: its chart, or why it has none yet.
type settlePath struct {
	Label, NoLook, Chart string
}

// settleOf reads experiment e's settle design and path, if it has one.
func (s *Server) settleOf(c context.Context, e results.Experiment, version string) (*settleView, error) {
	state, err := settle.Load(c, s.st, e)
	if err != nil && c.Err() == nil {
		// The rest of the page still shows: say why this part cannot.
		return &settleView{Title: "Settled comparisons", Intro: []string{"They cannot be shown: " + err.Error()}}, nil
	}
	if err != nil || state == nil {
		return nil, err
	}
	trials, err := s.st.Trials(c, e.ID)
	if err != nil {
		return nil, err
	}
	card := report.BuildSettleCard(state, trials)
	v := &settleView{Title: card.Title(), Intro: card.Intro(), card: card}
	v.Header, v.Rows = card.Summary()
	for i, p := range card.Paths {
		sp := settlePath{Label: state.Label(p.Comparison)}
		if len(p.Looks) == 0 {
			sp.NoLook = card.NoLook(p)
		} else {
			sp.Chart = link("/chart/settle.svg", "e", e.Name, "i", strconv.Itoa(i), "v", version)
		}
		v.Paths = append(v.Paths, sp)
	}
	return v, nil
}

// variantRow is one variant with its trials summarised.
type variantRow struct {
	Rank                    int
	Key, Hash               string // Hash: its first trial's, naming the variant in links
	Trials, Done, Running   int
	Accuracy, Top5, MacroF1 metrics.Summary
	TrialsLink              string
}

// axisValues is a sweep axis with its values in sweep order.
type axisValues struct {
	Path    string
	Values  []string
	Numeric bool
}

// expData reads experiment e's page data, or reuses it while its results
// have not changed.
func (s *Server) expData(c context.Context, e results.Experiment) (*expData, error) {
	v, err := s.versions.get(c, e.ID)
	if err != nil {
		return nil, err
	}
	return cached(s.memo, "exp\x00"+strconv.FormatInt(e.ID, 10)+"\x00"+v.Results, func() (*expData, error) {
		d := &expData{Exp: e, Version: v.Results, Counts: results.StatusCounts{}}
		if cfg, err := schemas.Decode(e.File, []byte(e.ConfigYAML)); err == nil {
			if dir := schemas.DatasetDir(cfg); dir != "" {
				d.DatasetDir, _ = filepath.Abs(dir)
			}
		}
		aggs, err := s.st.VariantAggregates(c, e.ID)
		if err != nil {
			return nil, err
		}
		if d.Points, err = s.st.TrialPoints(c, e.ID); err != nil {
			return nil, err
		}
		first := map[string]string{}
		for _, p := range d.Points {
			d.Counts[p.Status]++
			if p.Status == results.StatusDone {
				d.DoneSeconds += p.Seconds
			}
			if _, ok := first[p.VariantKey]; !ok {
				first[p.VariantKey] = p.Hash
			}
			ss, _ := report.ParseVariant(p.VariantJSON)
			d.Settings = append(d.Settings, ss)
		}
		d.Axes = axesOf(d.Settings)
		if d.Settle, err = s.settleOf(c, e, v.Results); err != nil {
			return nil, err
		}
		for _, a := range aggs {
			d.Variants = append(d.Variants, variantRow{Key: a.Key, Hash: first[a.Key], Trials: a.Trials, Done: a.Done, Running: a.Running,
				Accuracy: summary(a.Accuracy), Top5: summary(a.Top5), MacroF1: summary(a.MacroF1),
				TrialsLink: link("/experiment", "e", e.Name, "variant", a.Key) + "#trials"})
		}
		sort.SliceStable(d.Variants, func(i, j int) bool {
			a, b := d.Variants[i], d.Variants[j]
			if a.Done == 0 || b.Done == 0 {
				return a.Done > b.Done
			}
			return a.Accuracy.Mean > b.Accuracy.Mean
		})
		for i := range d.Variants {
			d.Variants[i].Rank = i + 1
		}
		return d, nil
	})
}

// axesOf lists the swept paths with their values in order of appearance.
func axesOf(settings [][]report.Setting) []axisValues {
	var axes []axisValues
	index := map[string]int{}
	for _, ss := range settings {
		for _, st := range ss {
			i, ok := index[st.Path]
			if !ok {
				i = len(axes)
				index[st.Path] = i
				axes = append(axes, axisValues{Path: st.Path, Numeric: true})
			}
			a := &axes[i]
			if !slices.Contains(a.Values, st.Label) {
				a.Values = append(a.Values, st.Label)
				a.Numeric = a.Numeric && st.IsNum
			}
		}
	}
	return axes
}

// experimentView is the experiment page.
type experimentView struct {
	*expData
	Name, Link  string
	Statuses    []statusCount
	Running     []runningRow
	ETA         string
	VariantPage []variantRow
	VPager      pager
	TrialRows   []trialRow
	TPager      pager
	Filter      trialFilter
	Verdict     verdictForm
	Parts       map[string]string // each live part's URL
	Charts      map[string]string // each chart's URL
	Compare     bool              // variants can be compared
	Done, Total int
	Points      string // the parallel-coordinates data's URL
	versions    results.Versions
}

// trialFilter is which trials the trials table shows.
type trialFilter struct {
	Status, Variant string
	ByAccuracy      bool
	Statuses        []string
}

// trialRow is a trial of the trials table.
type trialRow struct {
	Number          int
	Hash, Link      string
	Label           string
	Status          results.TrialStatus
	Accuracy, Top5  float64
	Epochs, Seconds string
	Error           string
}

func (s *Server) experimentPage(w http.ResponseWriter, r *http.Request) error {
	return s.experimentHTML(w, r, func(v *experimentView) ([]byte, error) {
		return s.pages.html("experiment.html", "layout",
			view{Title: v.Name, Events: link("/events", "e", v.Name), Versions: v.versions, Path: r.URL.RequestURI(), D: v})
	})
}

// experimentPart renders one live part of the experiment page.
func (s *Server) experimentPart(w http.ResponseWriter, r *http.Request) error {
	part := r.PathValue("part")
	if part == "verdicts" {
		return s.verdictsPart(w, r)
	}
	if !slices.Contains([]string{"status", "settle", "variants", "charts", "trials"}, part) {
		return notFound("no part %q", part)
	}
	return s.experimentHTML(w, r, func(v *experimentView) ([]byte, error) {
		return s.pages.html("experiment.html", "part-"+part, view{D: v})
	})
}

// experimentHTML writes the experiment page or a part of it, rendered by
// render once per versions of the experiment.
func (s *Server) experimentHTML(w http.ResponseWriter, r *http.Request, render func(*experimentView) ([]byte, error)) error {
	id := func(c context.Context) (int64, error) {
		e, err := s.experiment(c, r.URL.Query().Get("e"))
		return e.ID, err
	}
	return cachedPage(s, w, r, id, s.experimentView, render)
}

// experimentData is the page data of the experiment called name.
func (s *Server) experimentData(c context.Context, name string) (*expData, error) {
	e, err := s.experiment(c, name)
	if err != nil {
		return nil, err
	}
	return s.expData(c, e)
}

func (s *Server) experimentView(r *http.Request) (*experimentView, error) {
	c, cancel := ctx(r)
	defer cancel()
	q := r.URL.Query()
	e, err := s.experiment(c, q.Get("e"))
	if err != nil {
		return nil, err
	}
	d, err := s.expData(c, e)
	if err != nil {
		return nil, err
	}
	vers, err := s.versions.get(c, e.ID)
	if err != nil {
		return nil, err
	}
	v := &experimentView{expData: d, Name: e.Name, Link: link("/experiment", "e", e.Name), Statuses: ordered(d.Counts),
		Done: d.Counts[results.StatusDone], Total: len(d.Points), Points: link("/points.json", "e", e.Name), versions: vers}
	if d.Counts[results.StatusRunning] > 0 {
		running, err := s.st.RunningTrials(c, e.ID)
		if err != nil {
			return nil, err
		}
		v.Running = runningRows(running, len(d.Points))
	}
	v.ETA = eta(d.Counts, d.DoneSeconds, runningElapsed(v.Running))

	// Every link keeps the page's other choices.
	keep := []string{"e", e.Name, "vpage", q.Get("vpage"), "tpage", q.Get("tpage"), "status", q.Get("status"),
		"variant", q.Get("variant"), "sort", q.Get("sort"), "by", q.Get("by"), "ref", q.Get("ref"), "metric", q.Get("metric")}
	with := func(path, name, value string) string {
		kv := slices.Clone(keep)
		for i := 0; i < len(kv); i += 2 {
			if kv[i] == name {
				kv[i+1] = value
			}
		}
		return link(path, kv...)
	}
	v.VPager = newPager(atoi(q.Get("vpage")), len(d.Variants), variantsPerPage, func(p int) string {
		return with("/experiment", "vpage", strconv.Itoa(p)) + "#variants"
	})
	v.VariantPage = d.Variants[v.VPager.Offset():v.VPager.Last]
	v.Compare = len(d.Variants) > 1

	v.Filter = trialFilter{Status: q.Get("status"), Variant: q.Get("variant"), ByAccuracy: q.Get("sort") == "accuracy"}
	for _, st := range v.Statuses {
		v.Filter.Statuses = append(v.Filter.Statuses, string(st.Status))
	}
	tq := results.TrialQuery{Status: results.TrialStatus(v.Filter.Status), Variant: v.Filter.Variant, ByAccuracy: v.Filter.ByAccuracy, Limit: trialsPerPage}
	total := 0
	for _, p := range d.Points {
		if (tq.Status == "" || p.Status == tq.Status) && (tq.Variant == "" || p.VariantKey == tq.Variant) {
			total++
		}
	}
	v.TPager = newPager(atoi(q.Get("tpage")), total, trialsPerPage, func(p int) string {
		return with("/experiment", "tpage", strconv.Itoa(p)) + "#trials"
	})
	tq.Offset = v.TPager.Offset()
	rows, err := cached(s.memo, "trials\x00"+strconv.FormatInt(e.ID, 10)+"\x00"+d.Version+"\x00"+fmtQuery(tq), func() ([]results.TrialRow, error) {
		rows, _, err := s.st.TrialPage(c, e.ID, tq)
		return rows, err
	})
	if err != nil {
		return nil, err
	}
	for _, t := range rows {
		row := trialRow{Number: t.Index + 1, Hash: t.Hash, Link: link("/trial", "id", t.Hash), Label: runner.Describe(t.VariantKey, t.Seed, t.Fold), Status: t.Status,
			Accuracy: math.NaN(), Top5: math.NaN(), Error: firstLine(t.Error)}
		if t.Metrics != nil {
			row.Accuracy, row.Top5 = t.Metrics.Accuracy, t.Metrics.Top5
			row.Epochs = strconv.Itoa(t.BestEpoch) + "/" + strconv.Itoa(t.StoppedEpoch)
			row.Seconds = seconds(t.DurationSeconds)
		}
		v.TrialRows = append(v.TrialRows, row)
	}

	v.Verdict = s.verdictForm(d, q.Get("by"), q.Get("ref"), q.Get("metric"))
	v.Parts = map[string]string{}
	for _, p := range []string{"status", "settle", "variants", "charts", "trials", "verdicts"} {
		v.Parts[p] = with("/part/experiment/"+p, "", "")
	}
	v.Charts = map[string]string{
		"curves":   link("/chart/curves.svg", "e", e.Name, "v", d.Version),
		"variants": link("/chart/variants.svg", "e", e.Name, "v", d.Version),
	}
	return v, nil
}

func fmtQuery(q results.TrialQuery) string {
	b, _ := json.Marshal(q) // plain fields: always marshals
	return string(b)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// firstLine is the first line of s: a failed trial's step and reason.
func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}

// pointsJSON gives the parallel-coordinates view every trial: its
// settings on each axis, status and test accuracy.
func (s *Server) pointsJSON(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	d, err := s.experimentData(c, r.URL.Query().Get("e"))
	if err != nil {
		return err
	}
	b, err := cached(s.memo, "points\x00"+strconv.FormatInt(d.Exp.ID, 10)+"\x00"+d.Version, func() ([]byte, error) {
		return pointsBody(d)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

// The JSON of pointsJSON. Values are labels; a numeric axis also gives
// each value's number, so the browser can space them on a scale.
type (
	pointsOut struct {
		Experiment string     `json:"experiment"`
		Version    string     `json:"version"`
		Axes       []axisOut  `json:"axes"`
		Trials     []trialOut `json:"trials"`
	}
	axisOut struct {
		Path    string    `json:"path"`
		Values  []string  `json:"values"`
		Numbers []float64 `json:"numbers,omitempty"`
	}
	trialOut struct {
		Number   int      `json:"n"`
		Hash     string   `json:"hash"`
		Status   string   `json:"status"`
		Seed     int64    `json:"seed"`
		Fold     int      `json:"fold,omitempty"`
		Accuracy *float64 `json:"accuracy"`
		Values   []int    `json:"values"` // per axis, the index of its value; -1 when the trial lacks the axis
	}
)

func pointsBody(d *expData) ([]byte, error) {
	out := pointsOut{Experiment: d.Exp.Name, Version: d.Version, Axes: []axisOut{}, Trials: []trialOut{}}
	for _, a := range d.Axes {
		ao := axisOut{Path: a.Path, Values: a.Values}
		if a.Numeric {
			for _, val := range a.Values {
				f, _ := strconv.ParseFloat(val, 64)
				ao.Numbers = append(ao.Numbers, f)
			}
		}
		out.Axes = append(out.Axes, ao)
	}
	for i, p := range d.Points {
		t := trialOut{Number: p.Index + 1, Hash: p.Hash, Status: string(p.Status), Seed: p.Seed, Fold: p.Fold}
		if !math.IsNaN(p.Accuracy) {
			acc := p.Accuracy
			t.Accuracy = &acc
		}
		for _, a := range d.Axes {
			idx := -1
			for _, st := range d.Settings[i] {
				if st.Path == a.Path {
					idx = slices.Index(a.Values, st.Label)
				}
			}
			t.Values = append(t.Values, idx)
		}
		out.Trials = append(out.Trials, t)
	}
	return json.Marshal(out)
}
