package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/backbone/backbonetest"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/schemas"
)

// TestSetupRefusesBadNamesBeforeFetching: every name is checked before
// anything is fetched, so a typo costs no download and leaves no cache.
func TestSetupRefusesBadNamesBeforeFetching(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	t.Setenv("DOGRUN_CACHE", cache)
	var got strings.Builder
	for _, args := range [][]string{{"bogus"}, {"mobilefacenet", "vggface-resnet50", "bogus"}, {"-all", "mobilefacenet"}} {
		stdout, stderr, err := dogrun(t, append([]string{"setup"}, args...)...)
		got.WriteString("$ dogrun setup " + strings.Join(args, " ") + "\n" + stdout + stderr)
		if err == nil {
			t.Fatalf("setup %v succeeded", args)
		}
		fmt.Fprintf(&got, "dogrun: %v\nexit %d\n", err, exitCode(err))
	}
	golden(t, "setup_bad_names", got.String())
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("the cache %s exists after refused names (%v): something was fetched", cache, err)
	}
}

// TestSetupAllIsEveryBackbone: -all and the name all fetch every backbone.
func TestSetupAllIsEveryBackbone(t *testing.T) {
	want := backbone.Names()
	for _, tc := range []struct {
		names []string
		all   bool
	}{{nil, true}, {[]string{"all"}, false}} {
		specs, err := setupSpecs(tc.names, tc.all)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range specs {
			got = append(got, s.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("setup %v -all=%v plans %v, want %v", tc.names, tc.all, got, want)
		}
	}
}

// TestQuickstartUsesTheDefaultBackbone: what `make quickstart` runs needs
// nothing but what `dogrun setup` fetches without names.
func TestQuickstartUsesTheDefaultBackbone(t *testing.T) {
	exp, err := schemas.Load(filepath.Join(needs.RepoRoot(t), "experiments", "quickstart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if b := exp.Backbone; b.Name != backbone.Default || len(b.Names) > 0 {
		t.Errorf("the quickstart uses backbone %+v; dogrun setup fetches only %s", b, backbone.Default)
	}
}

// TestSetupFetchesRuntimeAndDefaultOnly runs `dogrun setup` into an empty
// cache from the real npm registry: it fetches ONNX Runtime and the default
// backbone, nothing else, and says what it fetches.
func TestSetupFetchesRuntimeAndDefaultOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads 127 MB from the npm registry")
	}
	needs.Met(t, reachable(backbone.Registry()))
	cache := t.TempDir()
	t.Setenv("DOGRUN_CACHE", cache)
	stdout, stderr, err := dogrun(t, "setup")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	golden(t, "setup_default", strings.ReplaceAll(stdout, cache, "$CACHE"))
	var fetched []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "fetching ") || strings.HasPrefix(line, "converting ") {
			fetched = append(fetched, line[:strings.Index(line, ":")])
		}
	}
	want := []string{"fetching onnxruntime-node@1.24.3 (ONNX Runtime)", "fetching faceplugin-face-recognition-js@0.0.1 (backbone mobilefacenet)"}
	if !slices.Equal(fetched, want) {
		t.Errorf("setup fetched %q, want %q; stderr:\n%s", fetched, want, stderr)
	}
	entries, err := os.ReadDir(filepath.Join(cache, "npm"))
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for _, e := range entries {
		pkgs = append(pkgs, e.Name())
	}
	if want := []string{"faceplugin-face-recognition-js@0.0.1", "onnxruntime-node@1.24.3"}; !slices.Equal(pkgs, want) {
		t.Errorf("the cache holds %v, want %v", pkgs, want)
	}
}

// reachable is nil when the registry answers.
func reachable(registry string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, registry, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// TestMakefileCacheIsFoundFromSubfolders: the binary, started from the
// project folder or any folder below it without DOGRUN_CACHE, uses the
// cache the Makefile exports, so nothing fetched by make setup is fetched
// again (the newcomer issue: predict downloaded 39 MB after make quickstart).
func TestMakefileCacheIsFoundFromSubfolders(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	needs.Met(t, err)
	project := t.TempDir()
	makefile, err := os.ReadFile(filepath.Join(needs.RepoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(project, "Makefile"), makefile)
	sub := filepath.Join(project, "experiments", "mine")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DOGRUN_CACHE=") })

	// The cache make's recipes see.
	cmd := exec.Command(makeBin, "-s", "--no-print-directory", "--eval", "print-cache: ; @echo \"$$DOGRUN_CACHE\"", "print-cache")
	cmd.Dir, cmd.Env = project, env
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	makeCache := strings.TrimSpace(string(out))
	if want := filepath.Join(project, ".cache", "dogrun"); makeCache != want {
		t.Fatalf("make exports DOGRUN_CACHE=%s, want %s", makeCache, want)
	}
	if err := os.MkdirAll(makeCache, 0o755); err != nil {
		t.Fatal(err)
	}
	backbonetest.LinkFetched(t, makeCache)

	for _, run := range []struct {
		dir string
		env []string
	}{
		{project, env},
		{sub, env},
		{sub, append(slices.Clone(env), "DOGRUN_CACHE="+makeCache)}, // as make runs it
	} {
		cmd := exec.Command(os.Args[0], "setup")
		cmd.Dir, cmd.Env = run.dir, append(run.env, "DOGRUN_TEST_AS_CLI=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("dogrun setup in %s: %v\n%s", run.dir, err, stderr.String())
		}
		if want := "onnxruntime          " + filepath.Join(makeCache, "npm") + "/"; !strings.HasPrefix(stdout.String(), want) {
			t.Errorf("dogrun setup in %s uses another cache:\n%s", run.dir, stdout.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("dogrun setup in %s fetched again:\n%s", run.dir, stderr.String())
		}
	}
}
