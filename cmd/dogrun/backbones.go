package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dogrun/dogrun/backbone"
)

type backbonesCommand struct{ stdout, stderr io.Writer }

const backbonesUsage = `Usage: dogrun backbones

Lists the backbones: source, sha256, input contract, feature output and licence.

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
		fmt.Fprintf(w, "%s\t%s\t%s\t%dx%d %s %s (p-%g)*%.4g\t%s\t%s\t%s\n",
			s.Name, s.Source, s.Format, s.InputSize, s.InputSize, s.Layout, s.Channels, s.Mean[0], s.Scale[0],
			strings.Join(cuts, ", "), s.License, s.SHA256()[:16])
	}
	return w.Flush()
}
