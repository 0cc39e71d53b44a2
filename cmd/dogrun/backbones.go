package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
)

type backbonesCommand struct{ stdout, stderr io.Writer }

const backbonesUsage = `Usage: dogrun backbones

Lists the backbones: format and sha256, source, input contract, feature
outputs (cuts), inner layers' maps (pooled to features), licence, and how to
name a backbone's metric-learned adapter.

`

// width is the terminal width the listing fits.
const width = 100

func (c *backbonesCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("backbones", backbonesUsage, c.stderr)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	var b strings.Builder
	for i, s := range backbone.All() {
		if i > 0 {
			b.WriteString("\n")
		}
		var cuts, maps []string
		for _, c := range s.Cuts {
			if c.Map {
				maps = append(maps, fmt.Sprintf("%s %d", c.Name, c.Dim))
				continue
			}
			cuts = append(cuts, fmt.Sprintf("%s %d-d", c.Name, c.Dim))
		}
		if len(cuts) > 0 {
			cuts[0] += " (default)"
		}
		input := fmt.Sprintf("%dx%d %s %s, (p-%s)*%s",
			s.InputSize, s.InputSize, s.Layout, s.Channels, perChannel(s.Mean), perChannel(s.Scale))
		if s.InputSize == 0 { // the user's own model: the experiment says
			input, cuts = "as backbone.input_size, layout, channels, mean and scale say", []string{"backbone.output"}
		}
		fmt.Fprintf(&b, "%s  (%s, %s)\n", s.Name, s.Format, identity(s))
		fields := [][2]string{
			{"source", s.Source.String()},
			{"input", input},
			{"cuts", strings.Join(cuts, ", ")},
		}
		if len(maps) > 0 {
			fields = append(fields, [2]string{"maps", "(channels; name:map in backbone.names, pooled by features.pool) " + strings.Join(maps, ", ")})
		}
		for _, field := range append(fields, [2]string{"licence", s.License}) {
			b.WriteString(wrap(fmt.Sprintf("  %-9s", field[0]), field[1], width))
		}
	}
	fmt.Fprintf(&b, "\n%s", wrap("", fmt.Sprintf("Any name%s (e.g. mobilefacenet%s) is that backbone with a metric-learned adapter: a projection trained with an ArcFace loss on the experiment folder's dogs with fewer than dataset.min_images_per_class photos, never on its own dogs.",
		adapter.Suffix, adapter.Suffix), width))
	_, err := io.WriteString(c.stdout, b.String())
	return err
}

// wrap writes label then text, broken at spaces into lines of at most
// width columns (a longer word stands alone), each further line indented as
// far as the label reaches.
func wrap(label, text string, width int) string {
	var b strings.Builder
	b.WriteString(label)
	col := len(label)
	for i, word := range strings.Fields(text) {
		switch {
		case i == 0:
		case col+1+len(word) > width:
			b.WriteString("\n" + strings.Repeat(" ", len(label)))
			col = len(label)
		default:
			b.WriteString(" ")
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String() + "\n"
}

// perChannel prints one number when every channel shares it, else all three.
func perChannel(v [3]float32) string {
	if v[0] == v[1] && v[1] == v[2] {
		return fmt.Sprintf("%.4g", v[0])
	}
	return fmt.Sprintf("[%.4g %.4g %.4g]", v[0], v[1], v[2])
}

// identity is the backbone's sha256, or for a bring-your-own backbone what
// stands in for it: the user's file.
func identity(s backbone.Spec) string {
	if s.NeedsFile() {
		return "identified by your file's sha256"
	}
	return "sha256 " + s.SHA256()[:16]
}
