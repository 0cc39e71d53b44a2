package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
)

type backbonesCommand struct{ stdout, stderr io.Writer }

const backbonesUsage = `Usage: dogrun backbones

Lists the backbones: source, sha256, input contract, feature output and licence,
and how to name a backbone's metric-learned adapter.

`

func (c *backbonesCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("backbones", backbonesUsage, c.stderr)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSOURCE\tFORMAT\tINPUT\tCUTS (first = default)\tLICENCE\tSHA256")
	for _, s := range backbone.All() {
		var cuts []string
		for _, c := range s.Cuts {
			cuts = append(cuts, fmt.Sprintf("%s %d-d", c.Name, c.Dim))
		}
		input := fmt.Sprintf("%dx%d %s %s (p-%s)*%s",
			s.InputSize, s.InputSize, s.Layout, s.Channels, perChannel(s.Mean), perChannel(s.Scale))
		if s.InputSize == 0 { // the user's own model: the experiment says
			input, cuts = "as backbone.input_size etc. say", []string{"backbone.output"}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.Name, s.Source, s.Format, input, strings.Join(cuts, ", "), s.License, shortSHA256(s))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "\nAny name%s (e.g. mobilefacenet%s) is that backbone with a metric-learned adapter: a projection trained with an ArcFace loss on the experiment folder's dogs with fewer than dataset.min_images_per_class photos, never on its own dogs.\n",
		adapter.Suffix, adapter.Suffix)
	return err
}

// perChannel prints one number when every channel shares it, else all three.
func perChannel(v [3]float32) string {
	if v[0] == v[1] && v[1] == v[2] {
		return fmt.Sprintf("%.4g", v[0])
	}
	return fmt.Sprintf("[%.4g %.4g %.4g]", v[0], v[1], v[2])
}

// shortSHA256 is the backbone's identity, or what makes it for a
// bring-your-own backbone, whose identity is the user's file.
func shortSHA256(s backbone.Spec) string {
	if s.NeedsFile() {
		return "your file's"
	}
	return s.SHA256()[:16]
}
