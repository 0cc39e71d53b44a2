package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Kind is how a parameter's values are distributed.
type Kind int

const (
	Uniform    Kind = iota // a real number in [Low, High]
	LogUniform             // a real number in [Low, High], uniform in its logarithm
	Int                    // Low, Low+Step, ..., High; uniform in the logarithm when Log
	Choice                 // one of Choices, any values (numbers, strings, lists)
)

func (k Kind) String() string {
	switch k {
	case Uniform:
		return "uniform"
	case LogUniform:
		return "loguniform"
	case Int:
		return "int"
	case Choice:
		return "choice"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Param is one axis of a search space, as Optuna's FloatDistribution,
// IntDistribution and CategoricalDistribution define them.
type Param struct {
	Name      string  // the setting it sets, e.g. "train.lr"
	Kind      Kind    //
	Low, High float64 // Uniform, LogUniform, Int: inclusive bounds
	Step      int     // Int: distance between values; 0 means 1
	Log       bool    // Int: uniform in the logarithm (Step must be 1)
	Choices   []any   // Choice: the values, at least one
}

// Space is a validated set of parameters, sorted by name so that the order
// in which a file lists them does not change what a seed draws.
type Space struct {
	params []Param
}

// NewSpace checks every parameter and returns the space. Errors name the
// parameter; the experiment parser adds the file, line and column.
func NewSpace(params ...Param) (Space, error) {
	ps := slices.Clone(params)
	slices.SortFunc(ps, func(a, b Param) int { return cmp.Compare(a.Name, b.Name) })
	for i := range ps {
		if ps[i].Kind == Int && ps[i].Step == 0 {
			ps[i].Step = 1
		}
		if err := ps[i].check(); err != nil {
			return Space{}, err
		}
		if i > 0 && ps[i].Name == ps[i-1].Name {
			return Space{}, fmt.Errorf("search: parameter %s is given twice", ps[i].Name)
		}
	}
	if len(ps) == 0 {
		return Space{}, fmt.Errorf("search: the space has no parameters")
	}
	return Space{params: ps}, nil
}

// Params returns the parameters in the order a Point lists their values.
func (s Space) Params() []Param { return s.params }

func (p Param) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("search: %s: %s %s", p.Name, p.Kind, fmt.Sprintf(format, args...))
	}
	if p.Name == "" {
		return fmt.Errorf("search: a parameter has no name")
	}
	finite := !math.IsNaN(p.Low) && !math.IsInf(p.Low, 0) && !math.IsNaN(p.High) && !math.IsInf(p.High, 0)
	switch p.Kind {
	case Uniform:
		if !finite || p.Low >= p.High {
			return bad("needs finite low < high, got [%g, %g]", p.Low, p.High)
		}
	case LogUniform:
		if !finite || p.Low <= 0 || p.Low >= p.High {
			return bad("needs 0 < low < high, got [%g, %g]", p.Low, p.High)
		}
	case Int:
		if !finite || p.Low != math.Trunc(p.Low) || p.High != math.Trunc(p.High) || p.Low >= p.High {
			return bad("needs whole numbers low < high, got [%g, %g]", p.Low, p.High)
		}
		if p.Step < 1 {
			return bad("step must be at least 1, got %d", p.Step)
		}
		if math.Mod(p.High-p.Low, float64(p.Step)) != 0 {
			return bad("high %g is not low %g plus a multiple of step %d", p.High, p.Low, p.Step)
		}
		if p.Log && p.Step != 1 {
			return bad("cannot be log with step %d (only step 1)", p.Step)
		}
		if p.Log && p.Low < 1 {
			return bad("log needs low >= 1, got %g", p.Low)
		}
	case Choice:
		if len(p.Choices) == 0 {
			return bad("needs at least one value")
		}
	default:
		return fmt.Errorf("search: %s: unknown kind %d", p.Name, int(p.Kind))
	}
	if p.Kind != Int && (p.Step != 0 || p.Log) {
		return bad("takes no step or log")
	}
	if p.Kind != Choice && p.Choices != nil {
		return bad("takes no choices")
	}
	return nil
}

// Point is one configuration: Point[i] is the value of Space.Params()[i],
// the number itself for Uniform, LogUniform and Int, the index into Choices
// for Choice.
type Point []float64

// Value is x as the setting takes it: a float64, an int, or the chosen value.
func (p Param) Value(x float64) any {
	switch p.Kind {
	case Int:
		return int(x)
	case Choice:
		return p.Choices[int(x)]
	}
	return x
}

// Values maps each parameter's name to its value in pt.
func (s Space) Values(pt Point) map[string]any {
	m := make(map[string]any, len(s.params))
	for i, p := range s.params {
		m[p.Name] = p.Value(pt[i])
	}
	return m
}

// checkPoint reports a point that this space cannot have drawn, as when a
// stored search is resumed with a changed space.
func (s Space) checkPoint(pt Point) error {
	if len(pt) != len(s.params) {
		return fmt.Errorf("search: a point has %d values for %d parameters", len(pt), len(s.params))
	}
	for i, p := range s.params {
		x := pt[i]
		var ok bool
		switch p.Kind {
		case Choice:
			ok = x == math.Trunc(x) && x >= 0 && int(x) < len(p.Choices)
		case Int:
			ok = x >= p.Low && x <= p.High && math.Mod(x-p.Low, float64(p.Step)) == 0
		default:
			ok = x >= p.Low && x <= p.High
		}
		if !ok {
			return fmt.Errorf("search: %s = %g is outside the space (%s)", p.Name, x, p.describe())
		}
	}
	return nil
}

func (p Param) describe() string {
	switch p.Kind {
	case Choice:
		return fmt.Sprintf("choice of %d", len(p.Choices))
	case Int:
		return fmt.Sprintf("int [%g, %g] step %d", p.Low, p.High, p.Step)
	}
	return fmt.Sprintf("%s [%g, %g]", p.Kind, p.Low, p.High)
}

// The numeric kinds are modelled on a line, "inside": the value itself, or
// its logarithm for LogUniform and log Int. An Int's range widens by half a
// step each side so that every value owns a cell of equal width (Optuna does
// the same), and a number drawn on the line rounds to the nearest value.

// bounds of the parameter on the inside line.
func (p Param) bounds() (lo, hi float64) {
	switch {
	case p.Kind == LogUniform:
		return math.Log(p.Low), math.Log(p.High)
	case p.Kind == Int && p.Log:
		return math.Log(p.Low - 0.5), math.Log(p.High + 0.5)
	case p.Kind == Int:
		h := float64(p.Step) / 2
		return p.Low - h, p.High + h
	}
	return p.Low, p.High
}

// inside is value x on the inside line.
func (p Param) inside(x float64) float64 {
	if p.Kind == LogUniform || p.Log {
		return math.Log(x)
	}
	return x
}

// outside is the value at y on the inside line: exp for the log kinds,
// rounded to the nearest allowed value for Int, kept within [Low, High].
func (p Param) outside(y float64) float64 {
	x := y
	if p.Kind == LogUniform || p.Log {
		x = math.Exp(y)
	}
	if p.Kind == Int {
		s := float64(p.Step)
		x = math.Round((x-p.Low)/s)*s + p.Low
	}
	return min(max(x, p.Low), p.High)
}

// cell is the stretch of the inside line that rounds to Int value x.
func (p Param) cell(x float64) (lo, hi float64) {
	h := float64(p.Step) / 2
	return p.inside(x - h), p.inside(x + h)
}
