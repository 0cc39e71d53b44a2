package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/dogrun/dogrun/backbone"
)

type versionCommand struct{ stdout, stderr io.Writer }

const versionUsage = `Usage: dogrun version

Prints what this dogrun was built from and runs on: its module version and
git commit (dirty when built with uncommitted changes), Go, the ONNX Runtime
release dogrun setup fetches, and the GoMLX it trains with.

`

func (c *versionCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("version", versionUsage, c.stderr)
	if err := parseNone(fs, args); err != nil {
		return err
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = &debug.BuildInfo{}
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	for _, kv := range versions(info) {
		fmt.Fprintf(w, "%s\t%s\n", kv[0], kv[1])
	}
	return w.Flush()
}

// versions lists what dogrun reports about itself, from its build info.
func versions(info *debug.BuildInfo) [][2]string {
	module := info.Main.Version
	if module == "" {
		module = "unknown"
	}
	commit, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case commit == "":
		commit = "unknown (go build or go install in a git checkout records it)"
	case dirty:
		commit += " (dirty: built with uncommitted changes)"
	}
	dep := func(path string) string {
		for _, d := range info.Deps {
			if d.Path == path {
				if d.Replace != nil {
					return d.Replace.Version + " (replacing " + d.Version + ")"
				}
				return d.Version
			}
		}
		return "unknown"
	}
	ort := backbone.ONNXRuntime.Source
	return [][2]string{
		{"dogrun", module},
		{"commit", commit},
		{"go", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
		{"onnxruntime", fmt.Sprintf("%s (npm %s@%s, fetched by dogrun setup; Go binding onnxruntime_go %s)",
			ort.Version, ort.Package, ort.Version, dep("github.com/yalue/onnxruntime_go"))},
		{"gomlx", dep("github.com/gomlx/gomlx")},
	}
}
