package main

import (
	"bytes"
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
)

// TestCLIConventions: help that is asked for goes to stdout with status 0;
// mistakes go to stderr with status 2; dogrun alone prints the usage and
// nothing after it.
func TestCLIConventions(t *testing.T) {
	t.Setenv("DOGRUN_RUNS", "/runs") // -runs shows its default; keep it the same everywhere
	var got strings.Builder
	for _, args := range [][]string{
		nil,
		{"stauts"},
		{"frobnicate"},
		{"help"},
		{"help", "run"},
		{"run", "-h"},
		{"status", "--help"},
		{"help", "frob"},
		{"help", "help"},
		{"--version"},
		{"status", "-frob"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), &stdout, &stderr, args)
		code := 0
		if err != nil {
			code = fail(&stderr, err)
		}
		got.WriteString("$ dogrun " + strings.Join(args, " ") + "\n")
		got.WriteString(fmt.Sprintf("exit %d\n", code))
		got.WriteString("--- stdout\n" + stdout.String() + "--- stderr\n" + stderr.String() + "\n")
	}
	golden(t, "cli_conventions", got.String())

	help, _, err := dogrun(t, "help", "run")
	dashH, _, err2 := dogrun(t, "run", "-h")
	if err != nil || err2 != nil || help != dashH || !strings.Contains(help, "-stale duration") {
		t.Errorf("dogrun help run (%v) and dogrun run -h (%v) differ or lack the flags:\n%s\n%s", err, err2, help, dashH)
	}
}

// TestEveryCommandHasHelp: each command answers -h on stdout, status 0.
func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands(nil, nil) {
		stdout, stderr, err := dogrun(t, name, "-h")
		if err != nil || !strings.HasPrefix(stdout, "Usage: dogrun "+name) || stderr != "" {
			t.Errorf("dogrun %s -h: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, err := dogrun(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	// What varies with the build: the module version, the commit, Go.
	masked := regexp.MustCompile(`(?m)^(dogrun|commit|go) +.*$`).ReplaceAllString(out, "$1 ...")
	golden(t, "version", masked)
	if !strings.Contains(out, runtime.Version()) || !strings.Contains(out, backbone.ONNXRuntime.Source.Version) {
		t.Errorf("version lacks Go %s or ONNX Runtime %s:\n%s", runtime.Version(), backbone.ONNXRuntime.Source.Version, out)
	}

	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"},
		Deps:     []*debug.Module{{Path: "github.com/gomlx/gomlx", Version: "v0.1.0", Replace: &debug.Module{Version: "v0.1.1"}}},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	want := map[string]string{"dogrun": "v1.2.3", "commit": "abc123 (dirty: built with uncommitted changes)", "gomlx": "v0.1.1 (replacing v0.1.0)"}
	for _, kv := range versions(info) {
		if w, ok := want[kv[0]]; ok && kv[1] != w {
			t.Errorf("%s: %q, want %q", kv[0], kv[1], w)
		}
	}
	if v := versions(&debug.BuildInfo{}); v[1][1] != "unknown (go build or go install in a git checkout records it)" {
		t.Errorf("no VCS stamp: commit %q", v[1][1])
	}
}
