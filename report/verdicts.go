package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"math"
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
	Notes      []string
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

type verdictTrial struct {
	t       results.Trial
	value   string
	stratum string
	leaky   bool
	acc     float64
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

// ComputeVerdictsWith compares the done trials of exp as opt says. Holm's
// correction runs over the comparisons made, so narrowing them with Where and
// Values to those planned beforehand keeps the verdicts reachable.
func ComputeVerdictsWith(ctx context.Context, st *results.Store, exp results.Experiment, opt VerdictOptions) (*Verdicts, error) {
	by, reference := opt.By, opt.Reference
	correct := func(p results.Prediction) bool { return p.Pred == p.True }
	switch opt.Metric {
	case "", "top1":
		opt.Metric = "top1"
	case "top5":
		correct = inTop5
	default:
		return nil, fmt.Errorf("metric %q: want top1 or top5", opt.Metric)
	}
	trials, err := st.Trials(ctx, exp.ID)
	if err != nil {
		return nil, err
	}
	m, err := st.TestMetrics(ctx, exp.ID)
	if err != nil {
		return nil, err
	}
	axes, err := verdictAxes(trials)
	if err != nil {
		return nil, err
	}
	if len(axes) == 0 {
		return nil, fmt.Errorf("experiment %s: %w", exp.Name, ErrNoSweep)
	}
	if by == "" {
		by = axes[0]
	}
	if by != ByVariant && !contains(axes, by) {
		return nil, fmt.Errorf("%s is not a sweep axis of experiment %s (axes: %s, or %s)", by, exp.Name, strings.Join(axes, ", "), ByVariant)
	}
	where, err := parseWhere(opt.Where, axes)
	if err != nil {
		return nil, err
	}
	v := &Verdicts{Experiment: exp.Name, By: by, Metric: opt.Metric, Alpha: stats.Alpha}
	var rows []verdictTrial
	var values []string // in sweep order
	for _, t := range trials {
		settings, _ := parseVariant(t.VariantJSON)
		if !matches(settings, where) {
			continue
		}
		vt := verdictTrial{t: t, leaky: isLeaky(t.ConfigJSON)}
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
		tm, ok := m[t.ID]
		if !ok {
			continue
		}
		vt.acc = tm.Accuracy
		if opt.Metric == "top5" {
			vt.acc = tm.Top5
		}
		rows = append(rows, vt)
	}
	if len(values) == 0 {
		return nil, fmt.Errorf("no trial of experiment %s has %s", exp.Name, strings.Join(opt.Where, "; "))
	}
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
		return nil, fmt.Errorf("%s=%s is not in the sweep (values: %s)", by, reference, strings.Join(values, ", "))
	}
	v.Reference = ref
	if opt.Values != nil {
		kept := []string{ref}
		for _, want := range opt.Values {
			found := false
			for _, val := range values {
				if sameLabel(val, want) && !contains(kept, val) {
					kept, found = append(kept, val), true
				}
			}
			if !found {
				return nil, fmt.Errorf("%s=%s is not in the sweep (values: %s)", by, want, strings.Join(values, "; "))
			}
		}
		values = kept
	}

	// Strata in order of first appearance, values in sweep order.
	var strata []string
	for _, r := range rows {
		if !contains(strata, r.stratum) {
			strata = append(strata, r.stratum)
		}
	}
	predCache := map[int64][]results.Prediction{}
	preds := func(id int64) ([]results.Prediction, error) {
		if p, ok := predCache[id]; ok {
			return p, nil
		}
		p, err := st.Predictions(ctx, id)
		predCache[id] = p
		return p, err
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
			byValue[r.value][replicate{r.t.Seed, r.t.Fold}] = r
		}
		refTrials := byValue[ref]
		for _, val := range values {
			reps := byValue[val]
			if len(reps) == 0 {
				continue
			}
			row := VerdictRow{Value: val, Stratum: stratum, Reference: val == ref, Dz: math.NaN(), PHolm: math.NaN()}
			var accs []float64
			for _, k := range sortedReplicates(reps) {
				accs = append(accs, reps[k].acc)
				row.Variant = reps[k].t.VariantKey
				row.Leaky = reps[k].leaky
			}
			row.Accuracy = stats.Mean(stats.Values(accs))
			minReplicates = min(minReplicates, len(accs))
			if row.Reference {
				row.Verdict = "reference"
				v.Rows = append(v.Rows, row)
				continue
			}
			if err := compareRow(&row, reps, refTrials, preds, correct); err != nil {
				return nil, err
			}
			v.Rows = append(v.Rows, row)
			if row.Wilcoxon != nil {
				pvals = append(pvals, row.Wilcoxon.P)
				tested = append(tested, len(v.Rows)-1)
			}
		}
	}
	for k, p := range stats.Holm(pvals) {
		v.Rows[tested[k]].PHolm = p
	}
	for i := range v.Rows {
		r := &v.Rows[i]
		if r.Reference {
			continue
		}
		r.Verdict = verdictText(r, v.Alpha, len(pvals))
	}
	// The smallest Holm-adjusted p that n pairs allow is m * 2/2^n (all
	// differences on one side, m comparisons): say when it cannot pass alpha.
	if m := len(pvals); m > 0 && minReplicates != math.MaxInt {
		if best := float64(m) * math.Ldexp(2, -minReplicates); best > v.Alpha {
			v.Notes = append(v.Notes, fmt.Sprintf("Too few replicates for a verdict: with %d paired replicates and %d comparisons the smallest possible Holm-adjusted p is %.3g > %g, so \"no significant difference\" here only means too few seeds (use at least %d).",
				minReplicates, m, best, v.Alpha, minPairs(m, v.Alpha)))
		}
	}
	for _, r := range v.Rows {
		if r.Leaky {
			v.Notes = append(v.Notes, "Rows marked LEAKY use the seed's protocol (augment, then split): augmented copies of training photos are in their test set, so their accuracy is inflated and their test photos differ from the others'; only the across-seed comparison applies to them.")
			break
		}
	}
	if len(pvals) > 1 {
		v.Notes = append(v.Notes, fmt.Sprintf("Holm's correction is over the %d comparisons with the reference.", len(pvals)))
	}
	if len(opt.Where) > 0 {
		v.Notes = append(v.Notes, "Only trials with "+strings.Join(opt.Where, "; ")+".")
	}
	if opt.Metric == "top5" {
		v.Notes = append(v.Notes, "Accuracy here is top-5 accuracy: a test photo counts as right when its dog is among the five best-scored; McNemar and the bootstrap pair photos on that.")
	}
	return v, nil
}

// parseWhere reads "path=value" filters on sweep axes.
func parseWhere(where, axes []string) ([]setting, error) {
	var out []setting
	for _, w := range where {
		path, val, ok := strings.Cut(w, "=")
		path, val = strings.TrimSpace(path), strings.TrimSpace(val)
		if !ok || !contains(axes, path) {
			return nil, fmt.Errorf("where %q: want AXIS=VALUE with a sweep axis (axes: %s)", w, strings.Join(axes, ", "))
		}
		out = append(out, setting{Path: path, Label: val})
	}
	return out, nil
}

// matches reports whether settings have every where value.
func matches(settings, where []setting) bool {
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

// inTop5 is a photo whose dog is among its five best-scored classes.
func inTop5(p results.Prediction) bool {
	for i, c := range p.TopK {
		if i < 5 && c.Class == p.True {
			return true
		}
	}
	return false
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
// both have.
func compareRow(row *VerdictRow, reps, refReps map[replicate]verdictTrial, preds func(int64) ([]results.Prediction, error), correct func(results.Prediction) bool) error {
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
		pa, err := preds(a.t.ID)
		if err != nil {
			return err
		}
		pb, err := preds(r.t.ID)
		if err != nil {
			return err
		}
		ca, cb, common := alignPredictions(pa, pb, correct)
		if common*2 < max(len(pa), len(pb)) {
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
	w, err := stats.Wilcoxon(stats.Values(xs), stats.Values(ys))
	if err != nil {
		return err
	}
	row.Wilcoxon = &w
	row.Dz = stats.CohenDz(stats.Values(xs), stats.Values(ys))
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

// alignPredictions pairs two trials' predictions by photo, in a's order,
// with whether each is correct.
func alignPredictions(a, b []results.Prediction, correct func(results.Prediction) bool) (aligned, aligned, int) {
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

func verdictAxes(trials []results.Trial) ([]string, error) {
	var axes []string
	for _, t := range trials {
		ss, ok := parseVariant(t.VariantJSON)
		if !ok && t.VariantJSON != "" {
			return nil, fmt.Errorf("trial %d: bad variant %q", trialNumber(t), t.VariantJSON)
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

// Table is the verdict table as rows of cells, the same for every format.
func (v *Verdicts) Table() (header []string, rows [][]string) {
	acc := "accuracy"
	if v.Metric == "top5" {
		acc = "top-5 accuracy"
	}
	header = []string{"variant", "n", acc + " mean [95% CI]", "Δ vs " + v.By + "=" + v.Reference + " [95% bootstrap]",
		"McNemar p (per replicate)", "Wilcoxon p", "Holm p", "effect r / d_z", "verdict"}
	for _, r := range v.Rows {
		name := r.Variant
		if r.Leaky {
			name += " (LEAKY)"
		}
		cells := []string{name, strconv.Itoa(r.Accuracy.N), estimateText(r.Accuracy)}
		if r.Reference {
			cells = append(cells, "reference", "", "", "", "", "reference")
			rows = append(rows, cells)
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
		if r.Wilcoxon != nil {
			wp = pText(r.Wilcoxon.P)
			hp = pText(r.PHolm)
			eff = floatText(r.Wilcoxon.Effect) + " / " + floatText(r.Dz)
		}
		cells = append(cells, diff, mc, wp, hp, eff, r.Verdict)
		rows = append(rows, cells)
	}
	return header, rows
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

const verdictIntro = "Each variant is compared with the reference on the same test photos. " +
	"Δ is the accuracy difference with a paired bootstrap interval over test photos; McNemar's exact test is run per replicate (seed × fold); " +
	"the Wilcoxon signed-rank test compares the replicates' accuracies, with Holm's correction over all comparisons; " +
	"effects are the rank-biserial correlation r and Cohen's d_z. A verdict needs Holm p ≤ %g."

// Markdown renders the verdicts as a report section.
func (v *Verdicts) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Verdicts: %s\n\n", v.By)
	fmt.Fprintf(&b, verdictIntro+"\n\n", v.Alpha)
	header, rows := v.Table()
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for i := range header {
		if i == 1 {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		for i := range r {
			r[i] = strings.ReplaceAll(r[i], "|", "\\|")
		}
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	for _, n := range v.Notes {
		b.WriteString("\n" + n + "\n")
	}
	return b.String()
}

var verdictHTML = htmltemplate.Must(htmltemplate.New("verdicts").Parse(`<h2>Verdicts: {{.V.By}}</h2>
<p>{{.Intro}}</p>
<table class="verdicts">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{range .V.Notes}}<p class="note">{{.}}</p>
{{end}}`))

// HTML renders the verdicts as a report section.
func (v *Verdicts) HTML() htmltemplate.HTML {
	header, rows := v.Table()
	var b bytes.Buffer
	err := verdictHTML.Execute(&b, map[string]any{"V": v, "Intro": fmt.Sprintf(verdictIntro, v.Alpha), "Header": header, "Rows": rows})
	if err != nil {
		return htmltemplate.HTML("<p>verdicts: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
