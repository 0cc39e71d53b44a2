package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogrun/dogrun/backbone/backbonetest"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/pgtest"
	"github.com/dogrun/dogrun/internal/slurmtest"
	"github.com/dogrun/dogrun/results"
)

// TestMain lets the test binary stand in for the dogrun binary: with
// DOGRUN_TEST_AS_CLI=1 it is main() on its arguments. The crash and
// concurrency tests start it as a child process, so what they SIGKILL or run
// twice is the real command, and no separate build is needed. The
// PostgreSQL server and Slurm cluster that tests started are stopped at the
// end.
func TestMain(m *testing.M) {
	if os.Getenv("DOGRUN_TEST_AS_CLI") == "1" {
		os.Args = append([]string{"dogrun"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	code := m.Run()
	slurmtest.StopShared()
	pgtest.StopShared()
	os.Exit(code)
}

// proc is a dogrun child process whose stdout and stderr are read line by line.
type proc struct {
	cmd   *exec.Cmd
	lines chan string // every line, closed at EOF
	mu    sync.Mutex
	out   strings.Builder
}

// startCLI starts `dogrun args...` with env added to the test's environment.
func startCLI(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "DOGRUN_TEST_AS_CLI=1"), env...)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1<<16)}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

// await reads lines until one matches, returning false if the process ends
// first. It fails the test after timeout.
func (p *proc) await(t *testing.T, timeout time.Duration, match func(string) bool) bool {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return false
			}
			if match(line) {
				return true
			}
		case <-deadline:
			t.Fatalf("no matching line after %s; output so far:\n%s", timeout, p.output())
		}
	}
}

// kill sends SIGKILL: no deferred function, signal handler or Ctrl-C path runs.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
}

// wait drains the output and reaps the process; its pid is then free, as a
// crashed worker's is.
func (p *proc) wait() (string, error) {
	for range p.lines {
	}
	err := p.cmd.Wait()
	return p.output(), err
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *proc) worker(t *testing.T) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return host + ":" + strconv.Itoa(p.cmd.Process.Pid)
}

// realRunPrereqs skips unless the real photos and the fetched backbone are
// there, and returns a feature cache of the test's own sharing them.
func realRunPrereqs(t *testing.T) (cache string) {
	t.Helper()
	if testing.Short() {
		t.Skip("real end-to-end runs")
	}
	needs.Photos(t)
	return backbonetest.FreshCache(t)
}

// realExperiment copies testdata/name, whose dataset.path is $PHOTOS, into a
// temporary folder with the shared photos' path in its place.
func realExperiment(t *testing.T, name string) string {
	t.Helper()
	return withPhotos(t, filepath.Join(packageDir, "testdata", name), "$PHOTOS")
}

// shippedExperiment copies experiments/name the same way, in place of the
// path relative to the repository that it reads the photos from.
func shippedExperiment(t *testing.T, name string) string {
	t.Helper()
	return withPhotos(t, filepath.Join(packageDir, "..", "..", "experiments", name), "../../shared/data/dogfacenet")
}

func withPhotos(t *testing.T, file, placeholder string) string {
	t.Helper()
	photos := needs.Photos(t)
	p := filepath.Join(t.TempDir(), filepath.Base(file))
	writeFile(t, p, bytes.ReplaceAll(readFile(t, file), []byte(placeholder), []byte(photos)))
	return p
}

// storedTrials opens the database between runs and lists the experiment's trials.
func storedTrials(t *testing.T, db, experiment string) []results.Trial {
	t.Helper()
	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	e, err := st.Experiment(ctx, experiment)
	if errors.Is(err, results.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	return trials
}
