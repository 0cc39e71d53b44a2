package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/pgtest"
	"github.com/dogrun/dogrun/internal/slurmtest"
	"github.com/dogrun/dogrun/results"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestSlurmSweepSurvivesAKilledWorker submits a six-trial sweep to a real
// one-node Slurm cluster as three workers sharing a real PostgreSQL
// database, SIGKILLs one of them in the middle of a trial, and checks that
// the sweep completes; that each trial ran at most once at a time (every
// claim is logged: the killed trial has two attempts, the killed worker's
// ended before the next began, every other trial one); that the results
// equal those of one dogrun run into SQLite; that a rerun finds nothing
// left; and that status, compare and predict say the same on both stores.
func TestSlurmSweepSurvivesAKilledWorker(t *testing.T) {
	realRunPrereqs(t)
	cluster := slurmtest.Shared(t)
	db := pgtest.Database(t)
	exp := realExperiment(t, "scale.yaml")
	runs := t.TempDir()
	env := append([]string{"DOGRUN_DB=" + db}, cluster.Env...)

	p := startCLI(t, env, "submit", "slurm", exp, "-workers", "3", "-cpus", "1", "-runs", runs, "-sbatch")
	out, err := p.wait()
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`submitted job array (\d+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "registered scale: 6 trials in "+db) {
		t.Fatalf("submit said:\n%s", out)
	}
	job := m[1]
	logs := filepath.Join(runs, "scale", "slurm")

	// Kill a worker once it has trained an epoch of a trial.
	killed := awaitWorkerMidTrial(t, logs, 3*time.Minute)
	pid, _ := strconv.Atoi(killed[strings.LastIndexByte(killed, ':')+1:])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", killed, err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		q, err := cluster.Command("squeue", "-h", "-j", job).Output()
		if err == nil && strings.TrimSpace(string(q)) == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still queued or running after 5 minutes: %s %v\n%s", job, q, err, workerLogs(t, logs))
		}
		time.Sleep(time.Second)
	}

	st, err := results.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	e, err := st.Experiment(ctx, "scale")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	attempts, err := st.Attempts(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	perWorker := map[string]int{}
	for _, tr := range trials {
		perWorker[tr.Worker]++
		if tr.Status != results.StatusDone || tr.Attempts != 1 {
			t.Errorf("trial %s: %s after %d counted attempts, want done after 1 (a crash is not counted)", tr.Hash[:12], tr.Status, tr.Attempts)
		}
		as := attempts[tr.ID]
		for i, a := range as {
			last := i == len(as)-1
			if a.EndedAt == nil || (last && a.Outcome != "done") || (!last && (a.Worker != killed || a.Outcome != "released")) {
				t.Errorf("trial %s attempt %d: %+v", tr.Hash[:12], a.Number, a)
			}
			if i > 0 && a.ClaimedAt.Before(*as[i-1].EndedAt) {
				t.Errorf("trial %s ran twice at once: attempt %d claimed at %s, before attempt %d ended at %s",
					tr.Hash[:12], a.Number, a.ClaimedAt, i, as[i-1].EndedAt)
			}
		}
		if len(as) > 1 {
			retried++
			t.Logf("trial %s: claimed by %s, killed, handed back at %s, redone by %s", tr.Hash[:12], as[0].Worker, as[0].EndedAt.Format(time.StampMilli), tr.Worker)
		}
	}
	t.Logf("trials per worker: %v", perWorker)
	if len(trials) != 6 || retried != 1 {
		t.Errorf("%d trials, %d of them claimed again; want 6 and the killed worker's one\n%s", len(trials), retried, workerLogs(t, logs))
	}

	// The same sweep in one process, into SQLite.
	ref := filepath.Join(t.TempDir(), "dogrun.db")
	if out, err := startCLI(t, nil, "run", exp, "-db", ref, "-runs", t.TempDir(), "-threads", "1").wait(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	if d := cmp.Diff(storedResults(t, ref, "scale"), storedResults(t, db, "scale"), cmpopts.EquateNaNs()); d != "" {
		t.Errorf("results of the Slurm sweep differ from one process's (-sqlite +postgres):\n%s", d)
	}

	if out, err := startCLI(t, env, "worker", "scale").wait(); err != nil || !strings.Contains(out, "experiment scale: nothing left to do (6 done, 0 failed)") {
		t.Errorf("a rerun: %v\n%s", err, out)
	}
	sameOnBothStores(t, ref, db, trials[0].Hash[:12])
}

// awaitWorkerMidTrial reads the workers' Slurm logs until one of them has
// trained the first epoch of a trial, and returns that worker's name.
func awaitWorkerMidTrial(t *testing.T, logs string, timeout time.Duration) string {
	t.Helper()
	worker := regexp.MustCompile(`^worker (\S+) on `)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(logs, "*.out"))
		for _, f := range files {
			name, mid := "", false
			fh, err := os.Open(f)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				l := sc.Text()
				if m := worker.FindStringSubmatch(l); m != nil {
					name = m[1]
				}
				switch {
				case strings.Contains(l, " epoch 1/"):
					mid = true
				case strings.Contains(l, " test accuracy "), strings.HasPrefix(l, "done:"):
					mid = false
				}
			}
			fh.Close()
			if name != "" && mid {
				return name
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no worker was mid-trial within %s:\n%s", timeout, workerLogs(t, logs))
	return ""
}

// workerLogs is every worker's Slurm log, for a failure message.
func workerLogs(t *testing.T, logs string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(logs, "*.out"))
	var b strings.Builder
	for _, f := range files {
		body, _ := os.ReadFile(f)
		b.WriteString("=== " + filepath.Base(f) + "\n" + string(body))
	}
	return b.String()
}

// sameOnBothStores runs reading commands against the SQLite file and the
// PostgreSQL database that hold the same sweep: status, compare and predict
// (with the trial whose hash starts with trial, on a photo) must say the
// same, and report and gradcam must work on both.
func sameOnBothStores(t *testing.T, sqlite, postgres, trial string) {
	t.Helper()
	photos, err := filepath.Glob(filepath.Join(needs.Photos(t), "*", "*.jpg"))
	if err != nil || len(photos) == 0 {
		t.Fatalf("no photo to predict: %v", err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"status", "scale"},
		{"compare", "scale", "-no-report"},
		{"predict", "-trial", trial, photos[0]},
		{"report", "scale", "-out", filepath.Join(dir, "report")},
		{"gradcam", "-trial", trial, photos[0], "-o", filepath.Join(dir, "cam.png")},
	} {
		var outs []string
		for _, db := range []string{sqlite, postgres} {
			out, _, err := dogrun(t, append(args, "-db", db)...)
			if err != nil {
				t.Errorf("dogrun %s on %s: %v", strings.Join(args, " "), db, err)
			}
			outs = append(outs, strings.ReplaceAll(out, db, "$DB"))
		}
		if args[0] == "report" || args[0] == "gradcam" {
			continue // they write files; that they work on both is the point
		}
		if d := cmp.Diff(outs[0], outs[1]); d != "" {
			t.Errorf("dogrun %s differs (-sqlite +postgres):\n%s", strings.Join(args, " "), d)
		}
	}
}
