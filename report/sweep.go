package report

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/plots"
)

// Setting is one swept field of a variant, as stored in its VariantJSON.
type Setting struct {
	Path  string
	Label string // the value as written in the variant key
	Num   float64
	IsNum bool
}

// ParseVariant reads a VariantJSON object keeping its key order (the sweep's
// axis order), which a map would lose.
func ParseVariant(js string) ([]Setting, bool) {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []Setting
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, ok := tok.(string)
		if !ok {
			return nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		s := Setting{Path: key, Label: string(raw)}
		var str string
		var num json.Number
		switch {
		case json.Unmarshal(raw, &str) == nil:
			s.Label = str
		case json.Unmarshal(raw, &num) == nil:
			if f, err := num.Float64(); err == nil {
				s.Num, s.IsNum = f, true
			}
		default:
			var compact bytes.Buffer
			if json.Compact(&compact, raw) == nil {
				s.Label = compact.String()
			}
		}
		out = append(out, s)
	}
	return out, true
}

// sweepAxis is one swept setting with the values the variants took, in the
// order of the run file, and one chart series per combination of the other
// settings.
type sweepAxis struct {
	Path      string
	Values    []string
	Positions []float64 // nil unless every value is a number
	Series    []plots.AxisSeries
}

// sweepAxes groups the finished variants by each swept setting. Axes with a
// single value and experiments without a sweep give no axis.
func sweepAxes(variants []Variant) []sweepAxis {
	type parsed struct {
		v        Variant
		settings []Setting
	}
	var vs []parsed
	var order []string
	for _, v := range variants {
		if v.Done == 0 || len(v.Trials) == 0 {
			continue
		}
		ss, ok := ParseVariant(v.Trials[0].VariantJSON)
		if !ok || len(ss) == 0 {
			continue
		}
		vs = append(vs, parsed{v, ss})
		for _, s := range ss {
			if !slices.Contains(order, s.Path) {
				order = append(order, s.Path)
			}
		}
	}
	// Variants are ranked by accuracy; the run file's order comes from
	// the trial index.
	slices.SortStableFunc(vs, func(a, b parsed) int { return a.v.Trials[0].Index - b.v.Trials[0].Index })

	var axes []sweepAxis
	for _, path := range order {
		ax := sweepAxis{Path: path}
		index := map[string]int{}
		allNum := true
		var nums []float64
		seriesIndex := map[string]int{}
		for _, p := range vs {
			var own *Setting
			var others []string
			for i, s := range p.settings {
				if s.Path == path {
					own = &p.settings[i]
				} else {
					others = append(others, s.Path+"="+s.Label)
				}
			}
			if own == nil {
				continue
			}
			xi, ok := index[own.Label]
			if !ok {
				xi = len(ax.Values)
				index[own.Label] = xi
				ax.Values = append(ax.Values, own.Label)
				nums = append(nums, own.Num)
				allNum = allNum && own.IsNum
			}
			label := strings.Join(others, ", ")
			si, ok := seriesIndex[label]
			if !ok {
				si = len(ax.Series)
				seriesIndex[label] = si
				ax.Series = append(ax.Series, plots.AxisSeries{Label: label})
			}
			acc := p.v.Accuracy
			lo, hi := math.Max(0, acc.Lo), math.Min(1, acc.Hi)
			ax.Series[si].Points = append(ax.Series[si].Points, plots.AxisPoint{
				X: xi, Values: p.v.Values, Mean: acc.Mean, Lo: lo, Hi: hi})
		}
		if len(ax.Values) < 2 {
			continue
		}
		if allNum {
			ax.Positions = nums
		}
		axes = append(axes, ax)
	}
	return axes
}

// fileSafe turns a setting path into part of a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// shortHash is the trial folder name: the first 16 hex digits of its hash.
func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// formatRate prints a fraction as a percentage with no false precision.
func formatRate(r float64) string {
	return strconv.FormatFloat(100*r, 'f', 0, 64) + "%"
}
