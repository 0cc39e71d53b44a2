package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/backbone/backbonetest"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var progressLine = regexp.MustCompile(`extracting features (\d+)/(\d+) `)

// TestCrashAndRerun SIGKILLs a real sweep three times (while it extracts
// features, mid-training, and as it stores a trial's results), reruns it each
// time, and checks that the end state equals an uninterrupted run's: every
// trial done once, finished trials kept, interrupted ones redone, and the
// same metrics, predictions, checkpoints and features to the bit.
func TestCrashAndRerun(t *testing.T) {
	cache := realRunPrereqs(t)
	exp := realExperiment(t, "crash.yaml")
	runs := t.TempDir()
	db := filepath.Join(runs, "dogrun.db")
	env := []string{"DOGRUN_CACHE=" + cache}
	// One trial at a time: the kills are timed by the trials' order.
	args := []string{"run", exp, "-runs", runs, "-threads", "1"}
	const timeout = 3 * time.Minute

	// 1. Kill during extraction, after a batch or more is cached.
	p := startCLI(t, env, args...)
	if !p.await(t, timeout, func(l string) bool {
		m := progressLine.FindStringSubmatch(l)
		return m != nil && m[1] != m[2]
	}) {
		t.Fatalf("run ended before extracting:\n%s", p.output())
	}
	p.kill(t)
	out, _ := p.wait()
	killed := p.worker(t)
	trials := storedTrials(t, db, "crash")
	if len(trials) != 2 || trials[0].Status != results.StatusRunning || trials[0].Worker != killed || trials[1].Status != results.StatusPending {
		t.Fatalf("after a kill during extraction, trials are %s; want trial 1 running under %s", describe(trials), killed)
	}
	featDir := featureDir(t, cache)
	kept, tail := cacheRecords(t, featDir)
	if kept == 0 || tail != 0 {
		t.Fatalf("cache after the kill: %d records and %d stray bytes; want whole records only\n%s", kept, tail, out)
	}
	// A kill in the middle of writing a segment leaves its temporary file: add one.
	writeFile(t, filepath.Join(featDir, ".tmp-killed"), append([]byte("DOGFEAT1\x00\x02"), bytes.Repeat([]byte{0xAB}, featRecord/2)...))

	// 2. Kill mid-training. The dead worker's trial is taken back at once and
	// extraction resumes where it stopped.
	p = startCLI(t, env, args...)
	if !p.await(t, timeout, func(l string) bool { return strings.Contains(l, "trial 1/2 epoch 1/20") }) {
		t.Fatalf("run ended before training:\n%s", p.output())
	}
	p.kill(t)
	out, _ = p.wait()
	if !strings.Contains(out, "left running by "+killed+", which has exited") {
		t.Errorf("rerun did not take back the dead worker's trial at once:\n%s", out)
	}
	if m := regexp.MustCompile(`extracting features: (\d+) of (\d+) images`).FindStringSubmatch(out); m == nil || atoi(m[1]) >= atoi(m[2]) {
		t.Errorf("extraction did not resume from the cache:\n%s", out)
	}
	if n, tail := cacheRecords(t, featDir); tail != 0 || n <= kept {
		t.Errorf("cache after resuming: %d records (had %d) and %d stray bytes; the killed writer's file should not be read", n, kept, tail)
	}
	killed = p.worker(t)
	trials = storedTrials(t, db, "crash")
	if trials[0].Status != results.StatusRunning || trials[0].Worker != killed {
		t.Fatalf("after a kill mid-training, trials are %s; want trial 1 running under %s", describe(trials), killed)
	}

	// 3. Kill as the second trial's results are being stored (the line comes
	// right before Store.Finish): the first trial, finished, must survive as is.
	p = startCLI(t, env, args...)
	if !p.await(t, timeout, func(l string) bool { return strings.Contains(l, "trial 2/2 test accuracy") }) {
		t.Fatalf("run ended before the second trial's results:\n%s", p.output())
	}
	p.kill(t)
	out, _ = p.wait()
	trials = storedTrials(t, db, "crash")
	if trials[0].Status != results.StatusDone {
		t.Fatalf("the redone trial is not done: %s\n%s", describe(trials), out)
	}
	first := trials[0]
	t.Logf("killed while storing: trial 2 is %s", trials[1].Status)

	// 4. Finish.
	p = startCLI(t, env, args...)
	out, err := p.wait()
	if err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`done: \d trained, 0 failed, [12] already done`).MatchString(out) {
		t.Errorf("final run summary:\n%s", out)
	}
	trials = storedTrials(t, db, "crash")
	for _, tr := range trials {
		if tr.Status != results.StatusDone || tr.Attempts != 1 {
			t.Errorf("trial %s: %s after %d attempts, want done after 1 (a crash does not use up an attempt)", tr.Hash[:12], tr.Status, tr.Attempts)
		}
	}
	if d := cmp.Diff(first, trials[0]); d != "" {
		t.Errorf("a finished trial changed on rerun (-before +after):\n%s", d)
	}

	// The same sweep, never interrupted, in its own cache and database.
	refRuns := t.TempDir()
	refCache := backbonetest.FreshCache(t)
	p = startCLI(t, []string{"DOGRUN_CACHE=" + refCache}, "run", exp, "-runs", refRuns, "-threads", "2")
	if out, err := p.wait(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	want := storedResults(t, filepath.Join(refRuns, "dogrun.db"), "crash")
	got := storedResults(t, db, "crash")
	if len(want) != 2 {
		t.Fatalf("uninterrupted run stored %d trials", len(want))
	}
	if d := cmp.Diff(want, got, cmpopts.EquateNaNs()); d != "" {
		t.Errorf("results after crashes differ from an uninterrupted run's (-want +got):\n%s", d)
	}
	wantF, gotF := featureMap(t, featureDir(t, refCache)), featureMap(t, featDir)
	differ := 0
	for k, v := range wantF {
		if gotF[k] != v {
			differ++
		}
	}
	if differ > 0 || len(gotF) != len(wantF) {
		t.Errorf("features across crashes: %d vectors, %d of the uninterrupted run's %d missing or different", len(gotF), differ, len(wantF))
	}
	for hash := range want {
		for _, f := range []string{"head.json", "weights.bin"} {
			a := readFile(t, filepath.Join(refRuns, "crash", "trials", hash[:16], "checkpoint", f))
			b := readFile(t, filepath.Join(runs, "crash", "trials", hash[:16], "checkpoint", f))
			if !bytes.Equal(a, b) {
				t.Errorf("trial %s: checkpoint %s differs from the uninterrupted run's", hash[:12], f)
			}
		}
	}
}

// trialResult is what a finished trial stored, less timings and workers.
type trialResult struct {
	BestEpoch, StoppedEpoch int
	Epochs                  []results.Epoch
	Metrics                 results.TrialMetrics
	Report                  metrics.Report
	Classes                 []string
	Predictions             []results.Prediction
}

func storedResults(t *testing.T, db, experiment string) map[string]trialResult {
	t.Helper()
	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	e, err := st.Experiment(ctx, experiment)
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := st.TestMetrics(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]trialResult{}
	for _, tr := range trials {
		if tr.Status != results.StatusDone {
			continue
		}
		r := trialResult{BestEpoch: tr.BestEpoch, StoppedEpoch: tr.StoppedEpoch, Metrics: ms[tr.ID]}
		r.Metrics.TrialID = 0
		if r.Epochs, err = st.Epochs(ctx, tr.ID); err != nil {
			t.Fatal(err)
		}
		for i := range r.Epochs {
			r.Epochs[i].Seconds = 0
		}
		if r.Report, r.Classes, err = st.TrialReport(ctx, tr.ID); err != nil {
			t.Fatal(err)
		}
		if r.Predictions, err = st.Predictions(ctx, tr.ID); err != nil {
			t.Fatal(err)
		}
		out[tr.Hash] = r
	}
	return out
}

// featRecord is one feature cache record of mobilefacenet: key and 512 floats.
const featRecord = 32 + 4*512

// featureDir is the folder of mobilefacenet's feature segments in cache.
func featureDir(t *testing.T, cache string) string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(cache, "features", "mobilefacenet-embedding-*"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("feature cache folders in %s: %v %v", cache, dirs, err)
	}
	return dirs[0]
}

// segments are the feature records of each segment in dir (not the
// temporary files a killed writer leaves), and the bytes after them.
func segments(t *testing.T, dir string) (records [][]byte, tail int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.feat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b := readFile(t, f)
		if len(b) < 16 || string(b[:8]) != "DOGFEAT1" || binary.LittleEndian.Uint32(b[8:]) != 512 {
			t.Fatalf("%s: bad header", f)
		}
		records = append(records, b[16:])
		tail += (len(b) - 16) % featRecord
	}
	return records, tail
}

// cacheRecords counts the whole records of a feature folder's segments and
// the bytes after them.
func cacheRecords(t *testing.T, dir string) (records, tail int) {
	t.Helper()
	segs, tail := segments(t, dir)
	for _, b := range segs {
		records += len(b) / featRecord
	}
	return records, tail
}

// featureMap reads a feature folder as key -> vector bytes.
func featureMap(t *testing.T, dir string) map[string]string {
	t.Helper()
	segs, _ := segments(t, dir)
	m := map[string]string{}
	for _, b := range segs {
		for ; len(b) >= featRecord; b = b[featRecord:] {
			m[string(b[:32])] = string(b[32:featRecord])
		}
	}
	return m
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func describe(trials []results.Trial) string {
	var parts []string
	for _, tr := range trials {
		parts = append(parts, string(tr.Status)+"/"+tr.Worker)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
