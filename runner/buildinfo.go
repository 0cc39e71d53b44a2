package runner

import (
	"os/exec"
	"runtime/debug"
	"strings"
)

// BuildInfo says which code produced a result.
type BuildInfo struct {
	Commit string
	Dirty  bool
}

// ReadBuildInfo takes the commit stamped into the binary by `go build`, or asks git
// in dir when the binary has none (go run, go test).
func ReadBuildInfo(dir string) BuildInfo {
	var b BuildInfo
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Dirty = s.Value == "true"
			}
		}
	}
	if b.Commit != "" {
		return b
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return b
	}
	b.Commit = strings.TrimSpace(string(out))
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	b.Dirty = err == nil && len(strings.TrimSpace(string(status))) > 0
	return b
}
