// Package settle applies the sequential method of package stats to an
// experiment's trials: the design its settle block (or the command line)
// declares, the comparisons of its sweep, the paired per-seed differences in
// seed order, and each comparison's path and verdict. The path is not
// stored: it is a function of the design and the stored outcomes, so it is
// recomputed, exactly, wherever it is shown (docs/settle.md).
package settle

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/stats"
)

// Design is the design e's settle block declares, its reference as variant
// keys show it and its seeds in the order they run.
func Design(e *schemas.Experiment) (results.SettleDesign, error) {
	s := e.Settle
	labels, ref, err := e.SettleValues()
	if err != nil {
		return results.SettleDesign{}, e.ErrorAt("settle.by", err.Error())
	}
	d := results.SettleDesign{By: s.By, Reference: labels[ref], Metric: s.Metric, Margin: s.Margin, Alpha: s.Alpha,
		Round: s.Round, MaxSeeds: s.MaxSeeds, Spending: s.Spending, Seeds: e.SettleSeeds()}
	comps, err := Comparisons(d, e)
	if err != nil {
		return results.SettleDesign{}, err
	}
	for _, c := range comps {
		d.Comparisons = append(d.Comparisons, [2]string{c.Variant, c.Reference})
	}
	return d, nil
}

// Comparison is one value of the compared field against the reference,
// within one combination of the other swept fields.
type Comparison struct {
	Variant, Reference string // their variant keys
	Value              string // the compared field's value
	Stratum            string // the other swept settings; "" when only By is swept
	// Paired are the seeds done under both, a prefix of the design's order
	// (a seed counts once all its folds are done), and Diffs the variant's
	// metric minus the reference's on each, averaged over folds.
	Paired []int64
	Diffs  []float64
	stats.Settled
}

// Open reports whether the comparison needs more seeds.
func (c Comparison) Open() bool { return c.Decision == stats.Continue }

// Last is the comparison's last look, nil before the first.
func (c Comparison) Last() *stats.SettleLook {
	if len(c.Looks) == 0 {
		return nil
	}
	return &c.Looks[len(c.Looks)-1]
}

// Skewed reports a sample skewness beyond 1 in size, where one side's error
// rate can be twice the declared one (docs/settle.md), and beyond twice its
// standard error under normal differences, which few seeds easily reach by
// chance (1.0 at 4 seeds, 0.47 at 24).
func (c Comparison) Skewed() bool {
	n := float64(len(c.Diffs[:c.Seeds]))
	se := math.Sqrt(6 * n * (n - 1) / ((n - 2) * (n + 1) * (n + 3)))
	return math.Abs(c.Skew) > max(1, 2*se)
}

// State is where a settled experiment stands.
type State struct {
	Design      results.SettleDesign
	Plan        stats.SettlePlan
	Comparisons []Comparison
	Resample    bool // each seed draws its own dogs and split (dataset.resample)
}

// Evaluate computes each comparison's path from e's sweep and the stored
// trials with their test metrics, under design d.
func Evaluate(d results.SettleDesign, e *schemas.Experiment, trials []results.Trial, m map[int64]results.TrialMetrics) (*State, error) {
	comps, err := Comparisons(d, e)
	if err != nil {
		return nil, err
	}
	plan, err := Plan(d, len(comps))
	if err != nil {
		return nil, err
	}
	out := outcomes(d, e, trials, m)
	st := &State{Design: d, Plan: plan, Resample: e.Dataset.Resample}
	for _, c := range comps {
		for _, seed := range d.Seeds {
			a, okA := out[c.Variant][seed]
			b, okB := out[c.Reference][seed]
			if !okA || !okB {
				break
			}
			c.Paired, c.Diffs = append(c.Paired, seed), append(c.Diffs, a-b)
		}
		c.Settled = plan.Settle(c.Diffs)
		st.Comparisons = append(st.Comparisons, c)
	}
	return st, nil
}

// Comparisons pairs each variant of e with the reference variant of its
// stratum, with nothing paired yet.
func Comparisons(d results.SettleDesign, e *schemas.Experiment) ([]Comparison, error) {
	c := *e
	c.Settle, c.Seeds = schemas.Settle{}, []int64{1}
	variants, err := c.Trials()
	if err != nil {
		return nil, err
	}
	type entry struct{ key, value, stratum string }
	var all []entry
	for _, t := range variants {
		en := entry{key: t.VariantKey(), value: "\x00"}
		var other []string
		for _, s := range t.Variant {
			if s.Path == d.By {
				en.value = s.Label()
			} else {
				other = append(other, s.Path+"="+s.Label())
			}
		}
		if en.value == "\x00" {
			return nil, fmt.Errorf("settle: %s compares %s, which it no longer sweeps", e.File, d.By)
		}
		en.stratum = strings.Join(other, ", ")
		all = append(all, en)
	}
	var out []Comparison
	for _, ref := range all {
		if ref.value != d.Reference {
			continue
		}
		for _, v := range all {
			if v.stratum == ref.stratum && v.value != d.Reference {
				out = append(out, Comparison{Variant: v.key, Reference: ref.key, Value: v.value, Stratum: v.stratum})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("settle: %s: no value of %s besides the reference %s to compare", e.File, d.By, d.Reference)
	}
	return out, nil
}

// outcomes is each variant's metric per seed, averaged over its folds, for
// the seeds whose folds are all done.
func outcomes(d results.SettleDesign, e *schemas.Experiment, trials []results.Trial, m map[int64]results.TrialMetrics) map[string]map[int64]float64 {
	folds := max(1, e.Split.KFold)
	type key struct {
		variant string
		seed    int64
	}
	sum, n := map[key]float64{}, map[key]int{}
	for _, t := range trials {
		tm, ok := m[t.ID]
		if !ok {
			continue
		}
		v := tm.Accuracy
		if d.Metric == "top5" {
			v = tm.Top5
		}
		k := key{t.VariantKey, t.Seed}
		sum[k] += v
		n[k]++
	}
	out := map[string]map[int64]float64{}
	for k, count := range n {
		if count != folds {
			continue
		}
		if out[k.variant] == nil {
			out[k.variant] = map[int64]float64{}
		}
		out[k.variant][k.seed] = sum[k] / float64(folds)
	}
	return out
}

var (
	plansMu sync.Mutex
	plans   = map[string]stats.SettlePlan{}
)

// Plan is the design's plan for m comparisons. Planning calibrates the
// boundaries on simulated studies (about a second), so a process plans each
// design once.
func Plan(d results.SettleDesign, m int) (stats.SettlePlan, error) {
	key := fmt.Sprint(d.Alpha, d.Margin, d.Round, d.MaxSeeds, d.Spending, m)
	plansMu.Lock()
	defer plansMu.Unlock()
	if p, ok := plans[key]; ok {
		return p, nil
	}
	spending, err := stats.ParseSpending(d.Spending)
	if err != nil {
		return stats.SettlePlan{}, err
	}
	looks, err := stats.SettleLooks(d.Round, d.MaxSeeds)
	if err != nil {
		return stats.SettlePlan{}, err
	}
	p, err := stats.PlanSettle(stats.SettleDesign{Looks: looks, Alpha: d.Alpha, Comparisons: m, Margin: d.Margin, Spending: spending})
	if err != nil {
		return stats.SettlePlan{}, err
	}
	plans[key] = p
	return p, nil
}

// Decided reports whether every comparison is decided (or undecided at the cap).
func (s *State) Decided() bool {
	return !slices.ContainsFunc(s.Comparisons, Comparison.Open)
}

// Needs is how many seeds, in the design's order, each variant still in
// play needs for its comparisons' next look: the reference of a stratum as
// long as any of its comparisons is open.
func (s *State) Needs() map[string]int {
	out := map[string]int{}
	for _, c := range s.Comparisons {
		if c.Open() {
			out[c.Variant] = max(out[c.Variant], c.Next)
			out[c.Reference] = max(out[c.Reference], c.Next)
		}
	}
	return out
}

// Seen is the most paired seeds any comparison has: outcomes already stored.
func (s *State) Seen() int {
	n := 0
	for _, c := range s.Comparisons {
		n = max(n, len(c.Diffs))
	}
	return n
}

// Level is the coverage of the repeated intervals: each comparison's two
// sides spend alpha/m together, whatever look it stops at.
func (s *State) Level() float64 { return 1 - s.Design.Alpha/float64(len(s.Comparisons)) }

// Population says which population the verdicts cover.
func (s *State) Population() string {
	if s.Resample {
		return "new draws of dogs and split: each seed drew its own dogs and split (dataset.resample), so a verdict covers other draws of dogs from this folder, not only the test photos used"
	}
	return "training randomness on one fixed split: every seed trained and tested on the same dogs and test photos, so a verdict covers other seeds on this split, not other dogs or splits (dataset.resample would draw them anew with each seed)"
}

// Label names a comparison: "head.dropout=0.25 vs 0", with its stratum.
func (s *State) Label(c Comparison) string {
	l := fmt.Sprintf("%s=%s vs %s", s.Design.By, c.Value, s.Design.Reference)
	if c.Stratum != "" {
		l += " (" + c.Stratum + ")"
	}
	return l
}

// Summary is a line saying where the comparison stands.
func (s *State) Summary(c Comparison) string {
	looks := len(s.Plan.Bounds)
	l := c.Last()
	if l == nil {
		return fmt.Sprintf("%s: no look yet (%s paired; the first look is at %d)",
			s.Label(c), english.Count(len(c.Diffs), "seed"), s.Plan.Bounds[0].Seeds)
	}
	state := c.Decision.String()
	switch c.Decision {
	case stats.Continue:
		state = fmt.Sprintf("open after %s (look %d of %d; the next at %d)", english.Count(l.Seeds, "seed"), len(c.Looks), looks, c.Next)
	case stats.Undecided:
		state = fmt.Sprintf("undecided at the cap of %s (look %d of %d)", english.Count(l.Seeds, "seed"), len(c.Looks), looks)
	default:
		state = fmt.Sprintf("%s after %s (look %d of %d)", state, english.Count(l.Seeds, "seed"), len(c.Looks), looks)
	}
	line := fmt.Sprintf("%s: %s: difference %+.4f, %.4g%% repeated interval [%+.4f, %+.4f], equivalence interval [%+.4f, %+.4f] against ±%g",
		s.Label(c), state, l.Mean, 100*s.Level(), l.Lo, l.Hi, l.EqLo, l.EqHi, s.Design.Margin)
	if c.Skewed() {
		line += fmt.Sprintf("; skewness %.2f: a one-sided verdict may err more often than declared", c.Skew)
	}
	return line
}

// Changes lists how design b differs from a, as "margin 0.01 -> 0.02".
func Changes(a, b results.SettleDesign) []string {
	var out []string
	diff := func(name string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			out = append(out, fmt.Sprintf("%s %v -> %v", name, x, y))
		}
	}
	diff("by", a.By, b.By)
	diff("reference", a.Reference, b.Reference)
	diff("metric", a.Metric, b.Metric)
	diff("margin", a.Margin, b.Margin)
	diff("alpha", a.Alpha, b.Alpha)
	diff("round", a.Round, b.Round)
	diff("max_seeds", a.MaxSeeds, b.MaxSeeds)
	diff("spending", a.Spending, b.Spending)
	diff("seed order", a.Seeds, b.Seeds)
	diff("comparisons", a.Comparisons, b.Comparisons)
	return out
}

// Load computes the stored experiment's state under the design it
// declared, from the experiment file it stored; nil when it declared none.
func Load(ctx context.Context, st *results.Store, exp results.Experiment) (*State, error) {
	d, found, err := st.SettleDesign(ctx, exp.ID)
	if err != nil || !found {
		return nil, err
	}
	cfg, err := schemas.Decode(exp.File, []byte(exp.ConfigYAML))
	if err != nil {
		return nil, fmt.Errorf("settle: the stored experiment file no longer decodes: %w", err)
	}
	trials, err := st.Trials(ctx, exp.ID)
	if err != nil {
		return nil, err
	}
	m, err := st.TestMetrics(ctx, exp.ID)
	if err != nil {
		return nil, err
	}
	return Evaluate(d, cfg, trials, m)
}

// SeedList shows a seed order, runs of three or more consecutive seeds as
// a-b: "1-48", "7, 2, 1, 3-46".
func SeedList(seeds []int64) string {
	var parts []string
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		if j > i+1 {
			parts = append(parts, fmt.Sprintf("%d-%d", seeds[i], seeds[j]))
			i = j + 1
			continue
		}
		parts = append(parts, fmt.Sprint(seeds[i]))
		i++
	}
	return strings.Join(parts, ", ")
}
