package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/search"
)

// method is one experiment's trials, per draw (seed) in the order it ran
// them.
type method struct {
	name   string
	search bool
	draws  map[int64]draw
}

// draw is a method's run on one draw.
type draw struct {
	run    []search.Spent
	pruned int
	choice float64 // test accuracy of the trial best on validation; NaN without one
}

// load reads an experiment's current trials: a search's draws by study and
// index (its confirmations left out), a grid's trials by index.
func load(ctx context.Context, st *results.Store, name string) (method, error) {
	exp, err := st.Experiment(ctx, name)
	if err != nil {
		return method{}, err
	}
	trials, err := st.Trials(ctx, exp.ID)
	if err != nil {
		return method{}, err
	}
	tests, err := st.TestMetrics(ctx, exp.ID)
	if err != nil {
		return method{}, err
	}
	recs, err := st.SearchRecords(ctx, exp.ID)
	if err != nil {
		return method{}, err
	}
	m := method{name: name, search: len(recs) > 0, draws: map[int64]draw{}}
	if m.search {
		order := map[int64]int{}
		for _, r := range recs {
			if r.Rank == 0 {
				order[r.TrialID] = r.Sample
			}
		}
		trials = slices.DeleteFunc(trials, func(t results.Trial) bool { _, ok := order[t.ID]; return !ok })
		slices.SortStableFunc(trials, func(a, b results.Trial) int { return cmp.Compare(order[a.ID], order[b.ID]) })
	}
	best := map[int64]float64{}
	for _, t := range trials {
		d := m.draws[t.Seed]
		if len(d.run) == 0 {
			d.choice = math.NaN()
		}
		spent := search.Spent{CPU: t.FitCPUSeconds, Value: math.NaN()}
		switch t.Status {
		case results.StatusPruned:
			d.pruned++
		case results.StatusDone:
			eps, err := st.Epochs(ctx, t.ID)
			if err != nil {
				return method{}, err
			}
			for _, e := range eps {
				if e.Epoch == t.BestEpoch {
					spent.Value = e.ValAccuracy
				}
			}
		}
		if b, ok := best[t.Seed]; !math.IsNaN(spent.Value) && (!ok || spent.Value > b) {
			best[t.Seed] = spent.Value
			d.choice = math.NaN()
			if tm, ok := tests[t.ID]; ok {
				d.choice = tm.Accuracy
			}
		}
		d.run = append(d.run, spent)
		m.draws[t.Seed] = d
	}
	if len(m.draws) == 0 {
		return method{}, fmt.Errorf("experiment %s has no trials", name)
	}
	return m, nil
}

// row is a method's line of the summary table; its values are means over
// the draws, but Within (draws) and Share (median).
type row struct {
	name           string
	trials, pruned float64
	cpu, cpuShare  float64 // seconds per draw; share of the grid's
	atThird, atAll float64 // best validation accuracy within a third, and all, of the grid's CPU
	atEnd          float64 // at the method's own end
	within, draws  int     // draws within the margin of the grid's best by a third of its CPU
	shareToReach   float64 // median over draws of the CPU needed to reach it, as a share of the grid's; +Inf when most never do
	choice         float64 // test accuracy of its choice
}

// table is the measurement: a summary row per method and a row per draw.
type table struct {
	margin      float64
	seeds       []int64
	grid, gridT []float64 // the grid's best and CPU per draw
	rows        []row
	detail      [][]string
}

// compare measures every method against the first, a grid, on the draws
// they all ran.
func compare(methods []method, margin float64) (table, error) {
	t := table{margin: margin}
	for seed := range methods[0].draws {
		if !slices.ContainsFunc(methods[1:], func(m method) bool { _, ok := m.draws[seed]; return !ok }) {
			t.seeds = append(t.seeds, seed)
		}
	}
	if len(t.seeds) == 0 {
		return t, fmt.Errorf("%s and the searches share no draw (seed)", methods[0].name)
	}
	slices.Sort(t.seeds)
	for _, seed := range t.seeds {
		g := methods[0].draws[seed].run
		t.grid = append(t.grid, search.Reached(g, math.Inf(1), search.Maximize))
		t.gridT = append(t.gridT, search.Total(g))
	}
	for _, m := range methods {
		r := row{name: m.name, draws: len(t.seeds)}
		var shares []float64
		n := float64(len(t.seeds))
		cells := []string{m.name}
		for i, seed := range t.seeds {
			d := m.draws[seed]
			total, budget := search.Total(d.run), t.gridT[i]
			r.trials += float64(len(d.run)) / n
			r.pruned += float64(d.pruned) / n
			r.cpu += total / n
			r.cpuShare += total / budget / n
			third := search.Reached(d.run, budget/3, search.Maximize)
			r.atThird += third / n
			r.atAll += search.Reached(d.run, budget, search.Maximize) / n
			r.atEnd += search.Reached(d.run, math.Inf(1), search.Maximize) / n
			r.choice += d.choice / n
			s, ok := search.TimeToReach(d.run, t.grid[i]-margin, search.Maximize)
			share := s / budget
			if !ok {
				share = math.Inf(1)
			}
			shares = append(shares, share)
			if share <= 1.0/3 {
				r.within++
			}
			cells = append(cells, fmt.Sprintf("%s / %s", acc(third), shareText(share)))
		}
		slices.Sort(shares)
		r.shareToReach = shares[len(shares)/2]
		if len(shares)%2 == 0 {
			r.shareToReach = (shares[len(shares)/2-1] + shares[len(shares)/2]) / 2
		}
		t.rows = append(t.rows, r)
		t.detail = append(t.detail, cells)
	}
	return t, nil
}

func acc(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

func shareText(s float64) string {
	if math.IsInf(s, 1) {
		return "never"
	}
	return fmt.Sprintf("%.2f", s)
}

// markdown renders the table.
func (t table) markdown() string {
	var b strings.Builder
	pt := fmt.Sprintf("%g point", 100*t.margin)
	if t.margin != 0.01 {
		pt += "s"
	}
	fmt.Fprintf(&b, "Means over %d draws (seeds %s). CPU is the heads' fit CPU time; \"grid's best\" is the grid's best validation accuracy on the same draw.\n\n", len(t.seeds), joinSeeds(t.seeds))
	b.WriteString("| method | trials per draw | pruned | fit CPU per draw | of the grid's | best val. accuracy within 1/3 of the grid's CPU | within all of it | at its own end | draws within " + pt + " of the grid's best by 1/3 of its CPU | CPU to get there, share of the grid's (median) | test accuracy of its choice |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range t.rows {
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %.1f s | %.2f | %s | %s | %s | %d of %d | %s | %s |\n",
			r.name, r.trials, r.pruned, r.cpu, r.cpuShare, acc(r.atThird), acc(r.atAll), acc(r.atEnd), r.within, r.draws, shareText(r.shareToReach), acc(r.choice))
	}
	b.WriteString("\nPer draw: the best validation accuracy within 1/3 of the grid's CPU / the CPU needed to get within " + pt + " of the grid's best, as a share of the grid's.\n\n| method |")
	for i, s := range t.seeds {
		fmt.Fprintf(&b, " seed %d (grid's best %.3f, %.0f s) |", s, t.grid[i], t.gridT[i])
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(t.seeds)) + "\n")
	for _, cells := range t.detail {
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func joinSeeds(seeds []int64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ", ")
}
