package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/stats"
)

// BootstrapReps is the number of resamples of the paired bootstrap; with a
// fixed seed the interval is the same on every run.
const (
	BootstrapReps = 4000
	bootstrapSeed = 1
)

// Verdicts compares the values of one sweep axis with a reference value, on
// the same test photos, the way a reviewer would accept: per value the mean
// accuracy over replicates (seeds x folds) with its 95% t interval; against
// the reference the paired bootstrap interval of the accuracy difference,
// McNemar's exact test per replicate, the Wilcoxon signed-rank test across
// replicates with Holm's correction over all comparisons, and effect sizes.
type Verdicts struct {
	Experiment string
	By         string // the compared sweep path, e.g. head.dropout
	Reference  string // its reference value
	Metric     string // top1 or top5: what counts as a correct test photo
	Alpha      float64
	Rows       []VerdictRow
	Notes      VerdictNotes
	// Confirm: the rows are a search's best settings re-run with new seeds,
	// the reference its best on validation.
	Confirm bool
}

// VerdictNotes are what a reader must know to read the verdicts right, as
// values; the table words them.
type VerdictNotes struct {
	TooFew          *TooFewReplicates // nil when a comparison can reach Alpha
	SingleReplicate int               // rows with one replicate: no test across replicates
	Need            int               // the fewest paired replicates with which the tests made can reach Alpha
	Leaky           bool              // some rows use the leaky protocol
	Comparisons     int               // Holm's correction runs over this many
	Where           []string          // only trials with these settings
	Top5            bool              // a photo counts as right when its dog is in the top 5
	Pruned          int               // trials a search's pruner stopped: no test results, left out
}

// TooFewReplicates: with Replicates paired replicates and Comparisons
// comparisons, the smallest Holm-adjusted p is BestP > Alpha; Need would do.
type TooFewReplicates struct {
	Replicates, Comparisons int
	BestP                   float64
	Need                    int
}

// VerdictRow is one value of the compared axis (within one combination of the
// other axes, its Stratum).
type VerdictRow struct {
	Variant   string // the full variant key
	Value     string
	Stratum   string // the other swept settings; "" when By is the only axis
	Reference bool
	Leaky     bool // trained and tested with the leaky protocol
	Accuracy  stats.Estimate
	// Against the reference (zero values on the reference row):
	Pairs      int             // replicates done under both
	MeanDiff   float64         // mean paired accuracy difference
	Diff       *stats.Interval // paired bootstrap over test photos; nil when the test photos differ
	McNemar    []stats.McNemarResult
	McNemarSig int // replicates with McNemar p < Alpha
	Wilcoxon   *stats.WilcoxonResult
	Dz         float64 // Cohen's d_z of the paired differences
	PHolm      float64
	Verdict    string
}

// ErrNoSweep is returned (wrapped) by ComputeVerdicts for an experiment
// without a sweep axis: there is nothing to compare.
var ErrNoSweep = errors.New("no sweep axis: nothing to compare")

// gatherSections fills the split card and the default verdicts.
func (d *Data) gatherSections(ctx context.Context, st *results.Store) error {
	splits, err := st.Splits(ctx, d.Experiment.ID)
	if err != nil {
		return err
	}
	d.SplitCard = BuildSplitCard(splits)
	v, err := ComputeVerdicts(ctx, st, d.Experiment, "", "")
	switch {
	case errors.Is(err, ErrNoSweep):
		return nil
	case err != nil:
		return err
	}
	if len(v.Rows) > 1 {
		d.Verdicts = v
	}
	return nil
}

// VerdictTrial is what the verdicts read of one trial: its place in the
// sweep and, when it is done, its test outcomes.
type VerdictTrial struct {
	Number      int // counted from 1, for messages
	VariantKey  string
	VariantJSON string // the swept settings, in axis order
	Seed        int64
	Fold        int
	Leaky       bool // trained and tested with the leaky protocol
	Done        bool
	Pruned      bool // stopped by a search's pruner: never tested
	Accuracy    float64
	Top5        float64
	Photos      []PhotoOutcome // in test order
}

// PhotoOutcome is whether a trial got one test photo right.
type PhotoOutcome struct {
	Photo      string
	Top1, Top5 bool
}

// LoadVerdictTrials reads what CompareTrials needs of exp's trials from
// the store.
func LoadVerdictTrials(ctx context.Context, st *results.Store, exp results.Experiment) ([]VerdictTrial, error) {
	trials, m, err := trialsAndMetrics(ctx, st, exp)
	if err != nil {
		return nil, err
	}
	return verdictTrials(ctx, st, exp.ID, trials, m)
}

// verdictTrials reads the outcomes of trials of experiment expID, whose test
// metrics m holds when they are done.
func verdictTrials(ctx context.Context, st *results.Store, expID int64, trials []results.Trial, m map[int64]results.TrialMetrics) ([]VerdictTrial, error) {
	// One read for every trial's answers: thousands of trials would
	// otherwise cost thousands of queries. Finish stores a trial's metrics
	// and answers at once, so a trial done above has its answers here.
	outcomes, err := st.PhotoOutcomes(ctx, expID, "")
	if err != nil {
		return nil, err
	}
	photos := map[int64][]PhotoOutcome{}
	for _, o := range outcomes {
		photos[o.TrialID] = append(photos[o.TrialID], PhotoOutcome{Photo: o.Photo, Top1: o.Pred == o.True, Top5: o.Top5})
	}
	out := make([]VerdictTrial, len(trials))
	for i, t := range trials {
		vt := VerdictTrial{Number: trialNumber(t), VariantKey: t.VariantKey, VariantJSON: t.VariantJSON,
			Seed: t.Seed, Fold: t.Fold, Leaky: isLeaky(t.ConfigJSON), Pruned: t.Status == results.StatusPruned}
		if tm, ok := m[t.ID]; ok {
			vt.Done, vt.Accuracy, vt.Top5, vt.Photos = true, tm.Accuracy, tm.Top5, photos[t.ID]
		}
		out[i] = vt
	}
	return out, nil
}

// ComputeVerdicts compares the done trials of exp along the sweep axis by
// ("" = the first axis) against the value reference ("" = the axis's first
// value).
func ComputeVerdicts(ctx context.Context, st *results.Store, exp results.Experiment, by, reference string) (*Verdicts, error) {
	return ComputeVerdictsWith(ctx, st, exp, VerdictOptions{By: by, Reference: reference})
}

// ByVariant as VerdictOptions.By compares whole variants (every swept
// setting at once) with the reference variant, named by its variant key.
const ByVariant = "variant"

// VerdictOptions choose what ComputeVerdictsWith compares.
type VerdictOptions struct {
	By        string   // sweep axis, or ByVariant; "" = the first axis
	Reference string   // value of By compared with; "" = its first value
	Where     []string // "path=value" settings a trial must have to take part
	Values    []string // values of By compared with the reference; nil = all
	Metric    string   // "top1" ("" too) or "top5"
}

// ComputeVerdictsWith compares the done trials of exp as opt says: it loads
// them (LoadVerdictTrials) and compares them (CompareTrials). A search with
// confirmations, asked for no axis, compares its confirmations.
func ComputeVerdictsWith(ctx context.Context, st *results.Store, exp results.Experiment, opt VerdictOptions) (*Verdicts, error) {
	if opt.By == "" {
		recs, err := st.SearchRecords(ctx, exp.ID)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(recs, func(r results.SearchRecord) bool { return r.Rank > 0 }) {
			return confirmVerdicts(ctx, st, exp, recs, opt)
		}
	}
	trials, err := LoadVerdictTrials(ctx, st, exp)
	if err != nil {
		return nil, err
	}
	return CompareTrials(exp.Name, trials, opt)
}

// confirmVerdicts compares a search's confirmations: each setting re-run
// against its best one (rank 1, the reference unless opt names another),
// on the seeds both have.
func confirmVerdicts(ctx context.Context, st *results.Store, exp results.Experiment, recs []results.SearchRecord, opt VerdictOptions) (*Verdicts, error) {
	rank := map[int64]int{}
	for _, r := range recs {
		if r.Rank > 0 {
			rank[r.TrialID] = r.Rank
		}
	}
	trials, m, err := trialsAndMetrics(ctx, st, exp)
	if err != nil {
		return nil, err
	}
	var confirms []results.Trial
	for _, t := range trials {
		if r, ok := rank[t.ID]; ok {
			confirms = append(confirms, t)
			if r == 1 && opt.Reference == "" {
				opt.Reference = t.VariantKey
			}
		}
	}
	vts, err := verdictTrials(ctx, st, exp.ID, confirms, m)
	if err != nil {
		return nil, err
	}
	opt.By = ByVariant
	v, err := CompareTrials(exp.Name, vts, opt)
	if err != nil {
		return nil, err
	}
	v.Confirm = true
	return v, nil
}

// verdictTrial is a done trial placed on the compared axis.
type verdictTrial struct {
	VerdictTrial
	value   string
	stratum string
	acc     float64
}

// CompareTrials compares the done trials of an experiment as opt says, on
// nothing but its arguments. Holm's correction runs over the comparisons
// made, so narrowing them with Where and Values to those planned beforehand
// keeps the verdicts reachable.
func CompareTrials(experiment string, trials []VerdictTrial, opt VerdictOptions) (*Verdicts, error) {
	correct := func(o PhotoOutcome) bool { return o.Top1 }
	switch opt.Metric {
	case "", "top1":
		opt.Metric = "top1"
	case "top5":
		correct = func(o PhotoOutcome) bool { return o.Top5 }
	default:
		return nil, fmt.Errorf("metric %q: want top1 or top5", opt.Metric)
	}
	axes, err := verdictAxes(trials)
	if err != nil {
		return nil, err
	}
	if len(axes) == 0 {
		return nil, fmt.Errorf("experiment %s: %w", experiment, ErrNoSweep)
	}
	by := opt.By
	if by == "" {
		by = axes[0]
	}
	if by != ByVariant && !contains(axes, by) {
		return nil, fmt.Errorf("%s is not a sweep axis of experiment %s (axes: %s, or %s)", by, experiment, strings.Join(axes, ", "), ByVariant)
	}
	where, err := parseWhere(opt.Where, axes)
	if err != nil {
		return nil, err
	}
	rows, values, pruned := placeTrials(trials, by, where, opt.Metric)
	if len(values) == 0 {
		return nil, fmt.Errorf("no trial of experiment %s has %s", experiment, strings.Join(opt.Where, "; "))
	}
	ref, values, err := pickValues(by, values, opt.Reference, opt.Values)
	if err != nil {
		return nil, err
	}
	v := &Verdicts{Experiment: experiment, By: by, Reference: ref, Metric: opt.Metric, Alpha: stats.Alpha,
		Notes: VerdictNotes{Where: opt.Where, Top5: opt.Metric == "top5", Pruned: pruned}}
	if err := v.compare(rows, values, correct); err != nil {
		return nil, err
	}
	return v, nil
}

// placeTrials places the trials that have every where setting on the axis
// by: the done ones with their accuracy under metric, and the axis's values
// in sweep order, those of trials not done yet included; and counts the
// pruned ones, which have no test results.
func placeTrials(trials []VerdictTrial, by string, where []Setting, metric string) (rows []verdictTrial, values []string, pruned int) {
	for _, t := range trials {
		settings, _ := ParseVariant(t.VariantJSON)
		if !matches(settings, where) {
			continue
		}
		if t.Pruned {
			pruned++
		}
		vt := verdictTrial{VerdictTrial: t}
		var other []string
		for _, s := range settings {
			if s.Path == by {
				vt.value = s.Label
			} else {
				other = append(other, s.Path+"="+s.Label)
			}
		}
		vt.stratum = strings.Join(other, ", ")
		if by == ByVariant {
			vt.value, vt.stratum = t.VariantKey, ""
		}
		if !contains(values, vt.value) {
			values = append(values, vt.value)
		}
		if !t.Done {
			continue
		}
		vt.acc = t.Accuracy
		if metric == "top5" {
			vt.acc = t.Top5
		}
		rows = append(rows, vt)
	}
	return rows, values, pruned
}

// pickValues finds the reference value (typed by a person; "" = the first)
// and the values compared with it (nil = all), reference first.
func pickValues(by string, values []string, reference string, want []string) (string, []string, error) {
	if reference == "" {
		reference = values[0]
	}
	ref := ""
	for _, val := range values {
		if sameValue(val, reference) {
			ref = val
		}
	}
	if ref == "" {
		return "", nil, fmt.Errorf("%s=%s is not in the sweep (values: %s)", by, reference, strings.Join(values, ", "))
	}
	if want == nil {
		return ref, values, nil
	}
	kept := []string{ref}
	for _, w := range want {
		found := false
		for _, val := range values {
			if sameLabel(val, w) && !contains(kept, val) {
				kept, found = append(kept, val), true
			}
		}
		if !found {
			return "", nil, fmt.Errorf("%s=%s is not in the sweep (values: %s)", by, w, strings.Join(values, "; "))
		}
	}
	return ref, kept, nil
}

// compare fills v's rows: per stratum (in order of first appearance) and
// value (in the order of values), the value's replicates against the
// reference's; then Holm's correction over the tests made, the verdicts
// and the notes.
func (v *Verdicts) compare(rows []verdictTrial, values []string, correct func(PhotoOutcome) bool) error {
	var strata []string
	for _, r := range rows {
		if !contains(strata, r.stratum) {
			strata = append(strata, r.stratum)
		}
	}
	var pvals []float64
	var tested []int // row index of each p-value
	minReplicates := math.MaxInt
	for _, stratum := range strata {
		byValue := map[string]map[replicate]verdictTrial{}
		for _, r := range rows {
			if r.stratum != stratum {
				continue
			}
			if byValue[r.value] == nil {
				byValue[r.value] = map[replicate]verdictTrial{}
			}
			byValue[r.value][replicate{r.Seed, r.Fold}] = r
		}
		for _, val := range values {
			reps := byValue[val]
			if len(reps) == 0 {
				continue
			}
			row := VerdictRow{Value: val, Stratum: stratum, Reference: val == v.Reference, Dz: math.NaN(), PHolm: math.NaN()}
			var accs []float64
			for _, k := range sortedReplicates(reps) {
				accs = append(accs, reps[k].acc)
				row.Variant = reps[k].VariantKey
				row.Leaky = reps[k].Leaky
			}
			row.Accuracy = stats.Mean(stats.Values(accs))
			v.Notes.Leaky = v.Notes.Leaky || row.Leaky
			if row.Reference {
				row.Verdict = "reference"
				v.Rows = append(v.Rows, row)
				continue
			}
			if err := compareRow(&row, reps, byValue[v.Reference], correct); err != nil {
				return err
			}
			v.Rows = append(v.Rows, row)
			switch {
			case row.Wilcoxon != nil:
				pvals = append(pvals, row.Wilcoxon.P)
				tested = append(tested, len(v.Rows)-1)
				minReplicates = min(minReplicates, row.Pairs)
			case row.Pairs == 1:
				v.Notes.SingleReplicate++
			}
		}
	}
	for k, p := range stats.Holm(pvals) {
		v.Rows[tested[k]].PHolm = p
	}
	for i := range v.Rows {
		if r := &v.Rows[i]; !r.Reference {
			r.Verdict = verdictText(r, v.Alpha, len(pvals))
		}
	}
	m := len(pvals)
	v.Notes.Comparisons = m
	v.Notes.Need = minPairs(max(1, m), v.Alpha)
	// The smallest Holm-adjusted p that n pairs allow is m * 2/2^n (all
	// differences on one side, m comparisons): say when it cannot pass alpha.
	if best := float64(m) * math.Ldexp(2, -minReplicates); m > 0 && best > v.Alpha {
		v.Notes.TooFew = &TooFewReplicates{Replicates: minReplicates, Comparisons: m, BestP: best, Need: minPairs(m, v.Alpha)}
	}
	return nil
}

// parseWhere reads "path=value" filters on sweep axes.
func parseWhere(where, axes []string) ([]Setting, error) {
	var out []Setting
	for _, w := range where {
		path, val, ok := strings.Cut(w, "=")
		path, val = strings.TrimSpace(path), strings.TrimSpace(val)
		if !ok || !contains(axes, path) {
			return nil, fmt.Errorf("where %q: want AXIS=VALUE with a sweep axis (axes: %s)", w, strings.Join(axes, ", "))
		}
		out = append(out, Setting{Path: path, Label: val})
	}
	return out, nil
}

// matches reports whether settings have every where value.
func matches(settings, where []Setting) bool {
	for _, w := range where {
		ok := false
		for _, s := range settings {
			if s.Path == w.Path && sameLabel(s.Label, w.Label) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// sameLabel is sameValue that also lets a list, labelled as compact JSON
// (["a","b"]), be typed as variant keys show it ([a,b]).
func sameLabel(stored, typed string) bool {
	return sameValue(stored, typed) || strings.ReplaceAll(stored, `"`, "") == typed
}

// minPairs is the fewest paired replicates with which m Holm-corrected
// Wilcoxon tests can reach alpha.
func minPairs(m int, alpha float64) int {
	n := 1
	for float64(m)*math.Ldexp(2, -n) > alpha {
		n++
	}
	return n
}

// replicate identifies one run of a variant: its seed and fold.
type replicate struct {
	seed int64
	fold int
}

func sortedReplicates[T any](m map[replicate]T) []replicate {
	out := make([]replicate, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].seed != out[j].seed {
			return out[i].seed < out[j].seed
		}
		return out[i].fold < out[j].fold
	})
	return out
}

// compareRow fills row's comparison with the reference on the replicates
// both have. A single replicate gets no Wilcoxon test: its p could only be 1.
func compareRow(row *VerdictRow, reps, refReps map[replicate]verdictTrial, correct func(PhotoOutcome) bool) error {
	var xs, ys []float64
	units := map[string]*stats.PairedUnit{}
	var names []string
	paired := true
	for _, k := range sortedReplicates(reps) {
		r, ok := refReps[k]
		if !ok {
			continue
		}
		a := reps[k]
		xs, ys = append(xs, a.acc), append(ys, r.acc)
		ca, cb, common := alignPhotos(a.Photos, r.Photos, correct)
		if common*2 < max(len(a.Photos), len(r.Photos)) {
			paired = false // different test sets: the leaky protocol
			continue
		}
		mc, err := stats.McNemar(stats.Bools(ca.correct), stats.Bools(cb.correct))
		if err != nil {
			return err
		}
		row.McNemar = append(row.McNemar, mc)
		if mc.P < stats.Alpha {
			row.McNemarSig++
		}
		for i, name := range ca.names {
			u, ok := units[name]
			if !ok {
				u = &stats.PairedUnit{}
				units[name] = u
				names = append(names, name)
			}
			u.N++
			if ca.correct[i] {
				u.A++
			}
			if cb.correct[i] {
				u.B++
			}
		}
	}
	row.Pairs = len(xs)
	if row.Pairs == 0 {
		row.Verdict = "no replicate in common with the reference"
		return nil
	}
	for i := range xs {
		row.MeanDiff += xs[i] - ys[i]
	}
	row.MeanDiff /= float64(len(xs))
	if row.Pairs > 1 {
		w, err := stats.Wilcoxon(stats.Values(xs), stats.Values(ys))
		if err != nil {
			return err
		}
		row.Wilcoxon = &w
		row.Dz = stats.CohenDz(stats.Values(xs), stats.Values(ys))
	}
	if paired && len(names) > 0 {
		sort.Strings(names)
		list := make([]stats.PairedUnit, len(names))
		for i, n := range names {
			list[i] = *units[n]
		}
		iv, err := stats.PairedBootstrap(list, BootstrapReps, 0.95, bootstrapSeed)
		if err != nil {
			return err
		}
		row.Diff = &iv
	} else {
		row.McNemar, row.McNemarSig = nil, 0
	}
	return nil
}

type aligned struct {
	names   []string
	correct []bool
}

// alignPhotos pairs two trials' outcomes by photo, in a's order, with
// whether each is correct.
func alignPhotos(a, b []PhotoOutcome, correct func(PhotoOutcome) bool) (aligned, aligned, int) {
	idx := map[string]int{}
	for i, p := range b {
		idx[p.Photo] = i
	}
	var ca, cb aligned
	for _, p := range a {
		j, ok := idx[p.Photo]
		if !ok {
			continue
		}
		ca.names = append(ca.names, p.Photo)
		cb.names = append(cb.names, p.Photo)
		ca.correct = append(ca.correct, correct(p))
		cb.correct = append(cb.correct, correct(b[j]))
	}
	return ca, cb, len(ca.names)
}

func verdictText(r *VerdictRow, alpha float64, comparisons int) string {
	switch {
	case r.Wilcoxon == nil && r.Pairs == 1:
		return "no verdict: one seed is too few for a test across seeds"
	case r.Wilcoxon == nil:
		if r.Verdict != "" {
			return r.Verdict
		}
		return "not compared"
	case r.Wilcoxon.N == 0:
		return "no difference: the same accuracy in every replicate"
	case r.PHolm <= alpha && r.MeanDiff > 0:
		return "better"
	case r.PHolm <= alpha && r.MeanDiff < 0:
		return "worse"
	case r.Wilcoxon.Warning != "" || float64(comparisons)*math.Ldexp(2, -r.Wilcoxon.N) > alpha:
		return "no significant difference (too few replicates to show one)"
	}
	return "no significant difference"
}

func verdictAxes(trials []VerdictTrial) ([]string, error) {
	var axes []string
	for _, t := range trials {
		ss, ok := ParseVariant(t.VariantJSON)
		if !ok && t.VariantJSON != "" {
			return nil, fmt.Errorf("trial %d: bad variant %q", t.Number, t.VariantJSON)
		}
		for _, s := range ss {
			if !contains(axes, s.Path) {
				axes = append(axes, s.Path)
			}
		}
	}
	return axes, nil
}

func isLeaky(configJSON string) bool {
	var c struct {
		Split struct {
			Leaky bool `json:"leaky"`
		} `json:"split"`
	}
	return json.Unmarshal([]byte(configJSON), &c) == nil && c.Split.Leaky
}

// sameValue compares a stored value with one typed by a person: "0" and
// "0.0" are the same dropout.
func sameValue(stored, typed string) bool {
	if stored == typed {
		return true
	}
	a, errA := strconv.ParseFloat(stored, 64)
	b, errB := strconv.ParseFloat(typed, 64)
	return errA == nil && errB == nil && a == b
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
