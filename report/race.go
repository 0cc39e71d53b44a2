package report

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

// RaceMethod is one experiment's trials per draw (seed), in the order it ran
// them: a grid's by index, a search's in the order it drew them (its
// confirmations left out).
type RaceMethod struct {
	Name  string
	Draws map[int64]RaceDraw
}

// RaceDraw is a method's run on one draw: each trial's fit CPU and the
// validation accuracy it can be chosen by (NaN for a pruned or failed one),
// how many were pruned, and the test accuracy of the trial best on
// validation (NaN without one).
type RaceDraw struct {
	Run    []search.Spent
	Pruned int
	Choice float64
}

// LoadRace reads an experiment's current trials as a RaceMethod. A complete
// trial counts with its validation accuracy at its best epoch: what it would
// be chosen by.
func LoadRace(ctx context.Context, st *results.Store, name string) (RaceMethod, error) {
	exp, err := st.Experiment(ctx, name)
	if err != nil {
		return RaceMethod{}, err
	}
	trials, tests, err := trialsAndMetrics(ctx, st, exp)
	if err != nil {
		return RaceMethod{}, err
	}
	recs, err := st.SearchRecords(ctx, exp.ID)
	if err != nil {
		return RaceMethod{}, err
	}
	if len(recs) > 0 {
		order := map[int64]int{}
		for _, r := range recs {
			if r.Rank == 0 {
				order[r.TrialID] = r.Sample
			}
		}
		trials = slices.DeleteFunc(trials, func(t results.Trial) bool { _, ok := order[t.ID]; return !ok })
		slices.SortStableFunc(trials, func(a, b results.Trial) int { return cmp.Compare(order[a.ID], order[b.ID]) })
	}
	m := RaceMethod{Name: name, Draws: map[int64]RaceDraw{}}
	best := map[int64]float64{}
	for _, t := range trials {
		d, ok := m.Draws[t.Seed]
		if !ok {
			d.Choice = math.NaN()
		}
		spent := search.Spent{CPU: t.FitCPUSeconds, Value: math.NaN()}
		switch t.Status {
		case results.StatusPruned:
			d.Pruned++
		case results.StatusDone:
			eps, err := st.Epochs(ctx, t.ID)
			if err != nil {
				return RaceMethod{}, err
			}
			spent.Value, _, _ = searchValue(t, eps, "val_accuracy")
		}
		if b, seen := best[t.Seed]; !math.IsNaN(spent.Value) && (!seen || spent.Value > b) {
			best[t.Seed] = spent.Value
			d.Choice = math.NaN()
			if tm, ok := tests[t.ID]; ok {
				d.Choice = tm.Accuracy
			}
		}
		d.Run = append(d.Run, spent)
		m.Draws[t.Seed] = d
	}
	if len(m.Draws) == 0 {
		return RaceMethod{}, fmt.Errorf("experiment %s has no trials", name)
	}
	return m, nil
}

// Race is a grid and searches measured on the draws they all ran: per draw
// the grid's best validation accuracy and fit CPU, and per method a row of
// means over the draws and a cell per draw.
type Race struct {
	Margin    float64 // how close to the grid's best counts as reaching it
	Seeds     []int64
	GridBest  []float64
	GridCPU   []float64
	Rows      []RaceRow
	DrawCells [][]RaceCell // per method, per draw
}

// RaceRow is a method's means over the draws, but Within and ShareToReach.
type RaceRow struct {
	Name           string
	Trials, Pruned float64
	CPU, CPUShare  float64 // fit CPU seconds per draw, and its share of the grid's
	AtThird, AtAll float64 // best validation accuracy within a third, and all, of the grid's CPU
	AtEnd          float64 // at the method's own end
	Within, Draws  int     // draws within Margin of the grid's best by a third of its CPU
	ShareToReach   float64 // median over draws of the CPU to get within Margin, as a share of the grid's; +Inf when never
	Choice         float64 // test accuracy of the trial it chose on validation
}

// RaceCell is a method on one draw: its best within a third of the grid's
// CPU, and the CPU it needed to get within the margin of the grid's best as
// a share of the grid's (+Inf when it never did).
type RaceCell struct{ AtThird, ShareToReach float64 }

// CompareRace measures every method against the first, a grid, on the draws
// they all ran.
func CompareRace(methods []RaceMethod, margin float64) (*Race, error) {
	if len(methods) < 2 {
		return nil, fmt.Errorf("a race needs a grid and at least one search")
	}
	r := &Race{Margin: margin}
	for seed := range methods[0].Draws {
		if !slices.ContainsFunc(methods[1:], func(m RaceMethod) bool { _, ok := m.Draws[seed]; return !ok }) {
			r.Seeds = append(r.Seeds, seed)
		}
	}
	if len(r.Seeds) == 0 {
		return nil, fmt.Errorf("%s and the searches share no draw (seed)", methods[0].Name)
	}
	slices.Sort(r.Seeds)
	for _, seed := range r.Seeds {
		g := methods[0].Draws[seed].Run
		r.GridBest = append(r.GridBest, search.Reached(g, math.Inf(1), search.Maximize))
		r.GridCPU = append(r.GridCPU, search.Total(g))
	}
	n := float64(len(r.Seeds))
	for _, m := range methods {
		row := RaceRow{Name: m.Name, Draws: len(r.Seeds)}
		var cells []RaceCell
		var shares []float64
		for i, seed := range r.Seeds {
			d := m.Draws[seed]
			total, budget := search.Total(d.Run), r.GridCPU[i]
			third := search.Reached(d.Run, budget/3, search.Maximize)
			row.Trials += float64(len(d.Run)) / n
			row.Pruned += float64(d.Pruned) / n
			row.CPU += total / n
			row.CPUShare += total / budget / n
			row.AtThird += third / n
			row.AtAll += search.Reached(d.Run, budget, search.Maximize) / n
			row.AtEnd += search.Reached(d.Run, math.Inf(1), search.Maximize) / n
			row.Choice += d.Choice / n
			s, ok := search.TimeToReach(d.Run, r.GridBest[i]-margin, search.Maximize)
			share := s / budget
			if !ok {
				share = math.Inf(1)
			}
			if share <= 1.0/3 {
				row.Within++
			}
			shares = append(shares, share)
			cells = append(cells, RaceCell{AtThird: third, ShareToReach: share})
		}
		slices.Sort(shares)
		row.ShareToReach = shares[len(shares)/2]
		if len(shares)%2 == 0 {
			row.ShareToReach = (shares[len(shares)/2-1] + shares[len(shares)/2]) / 2
		}
		r.Rows = append(r.Rows, row)
		r.DrawCells = append(r.DrawCells, cells)
	}
	return r, nil
}

// Markdown renders the race as two tables: the means, then each draw.
func (r *Race) Markdown() string {
	var b strings.Builder
	within := fmt.Sprintf("%g point", 100*r.Margin)
	if r.Margin != 0.01 {
		within += "s"
	}
	seeds := make([]string, len(r.Seeds))
	for i, s := range r.Seeds {
		seeds[i] = fmt.Sprint(s)
	}
	fmt.Fprintf(&b, "Means over %d draws (seeds %s). CPU is the heads' fit CPU time; \"the grid's best\" is the grid's best validation accuracy on the same draw.\n\n",
		len(r.Seeds), strings.Join(seeds, ", "))
	b.WriteString("| method | trials per draw | pruned | fit CPU per draw | of the grid's | best val. accuracy within 1/3 of the grid's CPU | within all of it | at its own end | draws within " + within + " of the grid's best by 1/3 of its CPU | CPU to get there, share of the grid's (median) | test accuracy of its choice |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %.1f s | %.2f | %s | %s | %s | %d of %d | %s | %s |\n",
			row.Name, row.Trials, row.Pruned, row.CPU, row.CPUShare, accText(row.AtThird), accText(row.AtAll), accText(row.AtEnd),
			row.Within, row.Draws, shareText(row.ShareToReach), accText(row.Choice))
	}
	b.WriteString("\nPer draw: the best validation accuracy within 1/3 of the grid's CPU / the CPU needed to get within " + within + " of the grid's best, as a share of the grid's.\n\n| method |")
	for i, s := range r.Seeds {
		fmt.Fprintf(&b, " seed %d (grid's best %.3f, %.0f s) |", s, r.GridBest[i], r.GridCPU[i])
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(r.Seeds)) + "\n")
	for i, row := range r.Rows {
		b.WriteString("| " + row.Name + " |")
		for _, c := range r.DrawCells[i] {
			b.WriteString(" " + accText(c.AtThird) + " / " + shareText(c.ShareToReach) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func accText(x float64) string {
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
