package dedupe

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// LabelledPair is a pair of photos of one dog from the shared DogFaceNet
// photos, labelled by eye (labelled/README.md says how).
type LabelledPair struct {
	A, B  string // dataset-relative paths, e.g. "39/39.1.jpg"
	Label string // "same", "different" or "unsure"
	Kind  string // of a same pair: "realigned" (one photo) or "burst"
	Mined string // how the pair was picked for labelling
	Line  int    // in the CSV, for messages
}

//go:embed labelled/pairs.csv
var labelledCSV string

// LabelledPairsFile is where the labelled pairs live in the repository.
const LabelledPairsFile = "dedupe/labelled/pairs.csv"

// LabelledPairs returns the labelled real pairs.
func LabelledPairs() ([]LabelledPair, error) {
	return ParseLabelledPairs(strings.NewReader(labelledCSV), LabelledPairsFile)
}

// ParseLabelledPairs reads a labelled-pairs CSV (header a,b,label,kind,mined);
// errors name the file, line and field.
func ParseLabelledPairs(r io.Reader, name string) ([]LabelledPair, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 5
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if strings.Join(header, ",") != "a,b,label,kind,mined" {
		return nil, fmt.Errorf("%s:1: header %q, want a,b,label,kind,mined", name, strings.Join(header, ","))
	}
	var out []LabelledPair
	seen := map[[2]string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		p := LabelledPair{A: rec[0], B: rec[1], Label: rec[2], Kind: rec[3], Mined: rec[4], Line: line}
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		key := [2]string{min(p.A, p.B), max(p.A, p.B)}
		if first, ok := seen[key]; ok {
			return nil, fmt.Errorf("%s:%d: pair %s, %s already labelled on line %d", name, line, p.A, p.B, first)
		}
		seen[key] = line
		out = append(out, p)
	}
}

func (p LabelledPair) check() error {
	for _, f := range []struct{ name, v string }{{"a", p.A}, {"b", p.B}} {
		dog, _, ok := strings.Cut(f.v, "/")
		if !ok || dog == "" || strings.Contains(f.v, "..") {
			return fmt.Errorf("field %s: %q is not a dog-relative photo path like 39/39.1.jpg", f.name, f.v)
		}
	}
	if p.A == p.B {
		return fmt.Errorf("field b: the same photo as a (%s)", p.A)
	}
	if da, db := p.A[:strings.Index(p.A, "/")], p.B[:strings.Index(p.B, "/")]; da != db {
		return fmt.Errorf("field b: %s is not filed under a's dog %s", p.B, da)
	}
	switch p.Label {
	case "same":
		if p.Kind != "realigned" && p.Kind != "burst" {
			return fmt.Errorf("field kind: %q, want realigned or burst for a same pair", p.Kind)
		}
	case "different", "unsure":
		if p.Kind != "" {
			return fmt.Errorf("field kind: %q, want it empty for a %s pair", p.Kind, p.Label)
		}
	default:
		return fmt.Errorf("field label: %q, want same, different or unsure", p.Label)
	}
	return nil
}

// calibrationLabel is how a labelled pair counts in calibration; unsure pairs
// do not count.
func (p LabelledPair) calibrationLabel() (Label, bool) {
	switch p.Label {
	case "same":
		return Label{Kind: p.Kind, Positive: true}, true
	case "different":
		return Label{Kind: "different"}, true
	}
	return Label{}, false
}
