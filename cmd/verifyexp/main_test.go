package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMessagesAndExitCodes: help asked for goes to stdout with status 0; a
// mistake in the arguments goes to stderr with the usage and status 2; a
// failure (no such photo folder) is one line on stderr with status 1.
func TestMessagesAndExitCodes(t *testing.T) {
	t.Setenv("DOGRUN_CACHE", t.TempDir())
	var got strings.Builder
	for _, args := range [][]string{
		{"-h"},
		{"-protocol", "frob"},
		{"-draws", "1"},
		{"extra"},
		{"-frob"},
		{"-data", "/no/such/folder", "-protocol", "verify"},
	} {
		var stdout, stderr bytes.Buffer
		code := 0
		if err := Run(t.Context(), args, &stdout, &stderr); err != nil {
			code = fail(&stderr, err)
		}
		fmt.Fprintf(&got, "$ verifyexp %s\nexit %d\n--- stdout\n%s--- stderr\n%s\n", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	golden(t, "cli", got.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/verifyexp -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got); go test ./cmd/verifyexp -update rewrites it:\n%s", path, d)
	}
}
