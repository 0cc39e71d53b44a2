package schemas

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

var (
	labelType  = reflect.TypeFor[Label]()
	settleType = reflect.TypeFor[Settle]()
)

// Declared reports whether the experiment settles a comparison; after
// validation a settle block without by is refused, so by alone says it.
func (s Settle) Declared() bool { return s.By != "" }

// DefaultSettle is a settle block with every default and nothing else:
// what a file's settle block starts from.
func DefaultSettle() Settle {
	var s Settle
	setDefaults(reflect.ValueOf(&s).Elem())
	return s
}

// SettleSeeds is the order in which a settled experiment runs its seeds:
// those listed under seeds, then the smallest positive integers not listed,
// settle.max_seeds in all. The order is part of the design: every look uses
// a prefix of it.
func (e *Experiment) SettleSeeds() []int64 {
	out := slices.Clone(e.Seeds)
	for n := int64(1); len(out) < e.Settle.MaxSeeds; n++ {
		if !slices.Contains(e.Seeds, n) {
			out = append(out, n)
		}
	}
	return out
}

// SettleValues returns the labels of the compared axis's values, as variant
// keys show them, and the index of the reference among them.
func (e *Experiment) SettleValues() (labels []string, reference int, err error) {
	s := e.Settle
	i := slices.IndexFunc(e.Sweep, func(a Axis) bool { return a.Path == s.By })
	if i < 0 {
		return nil, 0, fmt.Errorf("%s is not swept", s.By)
	}
	ax := e.Sweep[i]
	chain, err := sweepTarget(ax.Path)
	if err != nil {
		return nil, 0, err
	}
	for _, v := range ax.Values {
		fv := reflect.New(chain[len(chain)-1].typ).Elem()
		if ce := assign(fv, v); ce != nil {
			return nil, 0, fmt.Errorf("sweep %s: %s", ax.Path, ce.msg)
		}
		labels = append(labels, formatValue(fv.Interface()))
	}
	if s.Reference == "" {
		return labels, 0, nil
	}
	for j, l := range labels {
		if sameLabel(l, string(s.Reference)) {
			return labels, j, nil
		}
	}
	return labels, 0, fmt.Errorf("%s is not a value of %s (its values: %s)", s.Reference, s.By, strings.Join(labels, ", "))
}

// sameLabel compares values as text, numbers by value: 0 is 0.0.
func sameLabel(a, b string) bool {
	if a == b {
		return true
	}
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	return errA == nil && errB == nil && x == y
}

// settleProblems checks a settle block against the rest of the experiment;
// the tags check each field alone.
func settleProblems(e *Experiment) []problem {
	s := e.Settle
	if s == (Settle{}) {
		if len(e.Seeds) == 0 {
			return []problem{{"seeds", "is required (at least 1 value)"}}
		}
		return nil
	}
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, fmt.Sprintf(format, args...)})
	}
	if s.Margin == 0 {
		add("settle.margin", "is required: the smallest difference in accuracy that matters, e.g. 0.01")
	}
	switch {
	case s.MaxSeeds == 0:
		add("settle.max_seeds", "is required: the most seeds a variant may take, e.g. 48")
	case s.Round >= 2 && s.MaxSeeds%s.Round != 0:
		add("settle.max_seeds", "%d is not a multiple of settle.round %d: looks fall every round seeds, the last at max_seeds", s.MaxSeeds, s.Round)
	}
	if s.MaxSeeds > 0 && len(e.Seeds) > s.MaxSeeds {
		add("seeds", "lists %d seeds, more than settle.max_seeds %d", len(e.Seeds), s.MaxSeeds)
	}
	if s.By == "" {
		return ps // the tag says it is required
	}
	var swept []string
	for _, a := range e.Sweep {
		swept = append(swept, a.Path)
	}
	switch {
	case len(swept) == 0:
		add("settle.by", "%s is not swept, and there is no sweep: settle compares the values of a swept field, e.g. sweep: {%s: [0, 0.5]}", s.By, s.By)
		return ps
	case !slices.Contains(swept, s.By):
		msg := fmt.Sprintf("%s is not swept (swept: %s)", s.By, strings.Join(swept, ", "))
		if c := Closest(s.By, swept); c != "" {
			msg = fmt.Sprintf("%s is not swept, did you mean %q? (swept: %s)", s.By, c, strings.Join(swept, ", "))
		}
		add("settle.by", "%s", msg)
		return ps
	}
	labels, _, err := e.SettleValues()
	switch {
	case err != nil && s.Reference != "":
		add("settle.reference", "%v", err)
	case err == nil && len(labels) == 1:
		add("settle.by", "%s has one value (%s): settle needs another to compare it with", s.By, labels[0])
	}
	return ps
}
