// Package needs lets tests depend on tools outside Go (node, chromium, h5py):
// a missing tool skips the test on a developer's machine, but fails it under
// CI=true, where scripts/bootstrap must have installed it, so nothing is ever
// silently left untested in CI.
package needs

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Met skips or fails t when err (why a tool is missing) is not nil.
func Met(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true: scripts/bootstrap --test installs it)", err)
	}
	t.Skipf("%v (scripts/bootstrap installs it)", err)
}

// Node returns the node binary once the npm module is installed under
// tools/parity, the Node reference runtimes of the parity tests. repoRoot is
// the path from the test's package to the repository.
func Node(t testing.TB, repoRoot, module string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(repoRoot, "tools", "parity", "node_modules", filepath.FromSlash(module), "package.json"))
	}
	Met(t, err)
	return node
}
