package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSettleFlags: the flags set the fields of the settle block and are
// checked as the file's own would be; a file without one needs them.
func TestSettleFlags(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.yaml")
	writeFile(t, plain, []byte("name: plain\ndataset: {path: photos}\nbackbone: {name: mobilefacenet}\nsweep: {head.dropout: [0, 0.5]}\nseeds: [1]\n"))
	var got strings.Builder
	for _, args := range [][]string{
		{"settle", plain},
		{"settle", plain, "-by", "head.dropout"},
		{"settle", plain, "-by", "head.dropot", "-margin", "0.01", "-max-seeds", "48"},
		{"settle", plain, "-by", "head.dropout", "-reference", "0.25", "-margin", "0.01", "-max-seeds", "50", "-spending", "linear"},
		{"settle"},
	} {
		_, _, err := dogrun(t, args...)
		line := fmt.Sprintf("dogrun %s: exit %d: %s", strings.Join(args, " "), exitCode(err), strings.TrimSpace(errText(err)))
		got.WriteString(strings.ReplaceAll(line, dir, "$DIR") + "\n")
	}
	golden(t, "settle_flags", got.String())
}

// TestSettleRealRun settles a real comparison on a few dogs: a learning rate
// far too small is worse after the first round of 3 seeds, so the run stops
// there with 6 of its 12 trials; status, compare and the report say so.
func TestSettleRealRun(t *testing.T) {
	realRunPrereqs(t)
	exp := realExperiment(t, "settle.yaml")
	runs := t.TempDir()
	out, _, err := dogrun(t, "settle", exp, "-runs", runs, "-threads", "2")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	verdict := regexp.MustCompile(`train\.lr=1e-05 vs 0\.003: worse after 3 seeds \(look 1 of 2\): difference -0\.\d+, 95% repeated interval \[-0\.\d+, -0\.\d+\]`)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`settle: running up to the look at 3 seeds, 6 trials new \(0 already done\)`),
		verdict,
		regexp.MustCompile(`settled: every comparison is decided or at the cap; they cover training randomness on one fixed split`),
		regexp.MustCompile(`done: 6 trained, 0 failed, 0 already done`),
	} {
		if !want.MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if trials := storedTrials(t, filepath.Join(runs, "dogrun.db"), "settle"); len(trials) != 6 {
		t.Errorf("%d trials stored, want the first round's 6", len(trials))
	}
	status, _, err := dogrun(t, "status", "settle", "-runs", runs)
	if err != nil || !verdict.MatchString(status) || !strings.Contains(status, "  settled; the verdicts cover training randomness") {
		t.Errorf("status (%v):\n%s", err, status)
	}
	compare, _, err := dogrun(t, "compare", "settle", "-runs", runs)
	if err != nil || !verdict.MatchString(compare) {
		t.Errorf("compare (%v):\n%s", err, compare)
	}
	md := string(readFile(t, filepath.Join(runs, "settle", "report.md")))
	if !strings.Contains(md, "## Settled: train.lr against 0.003") || !strings.Contains(md, "| train.lr=1e-05 vs 0.003 | worse | 1 of 2 | 3 |") {
		t.Errorf("report.md has no settle section with the verdict:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(runs, "settle", "settle_1.png")); err != nil {
		t.Error(err)
	}
}

// TestSettleKillAndRestart SIGKILLs a settle run in the middle of its second
// round and runs it again: the rerun computes the first look from the stored
// trials, resumes the second round (training none of the first again) and
// ends with the verdict an uninterrupted run reaches.
func TestSettleKillAndRestart(t *testing.T) {
	realRunPrereqs(t)
	exp := realExperiment(t, "settle_resume.yaml")
	const timeout = 3 * time.Minute
	verdictLine := regexp.MustCompile(`(?m)^  train\.lr=1e-05 vs 0\.003: (worse|better|equivalent|undecided).*$`)

	ref := t.TempDir()
	p := startCLI(t, nil, "settle", exp, "-runs", ref, "-threads", "2")
	refOut, err := p.wait()
	if err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, refOut)
	}
	want := verdictLine.FindString(refOut)
	if want == "" || !strings.Contains(refOut, "after 4 seeds (look 2 of 2)") {
		t.Fatalf("the uninterrupted run did not decide at its second look:\n%s", refOut)
	}

	runs := t.TempDir()
	// Two trials run side by side: the kill hands back one or two of them.
	p = startCLI(t, nil, "settle", exp, "-runs", runs, "-threads", "2")
	if !p.await(t, timeout, func(l string) bool { return strings.HasPrefix(l, "trial 7/8 [") }) {
		t.Fatalf("run ended before its second round:\n%s", p.output())
	}
	p.kill(t)
	killedOut, _ := p.wait()
	if !strings.Contains(killedOut, "open after 2 seeds (look 1 of 2; the next at 4)") {
		t.Fatalf("killed run had not made its first look:\n%s", killedOut)
	}

	p = startCLI(t, nil, "settle", exp, "-runs", runs, "-threads", "2")
	out, err := p.wait()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	for _, want := range []*regexp.Regexp{
		// Where the killed run was: the first look made, the second round open.
		regexp.MustCompile(`open after 2 seeds \(look 1 of 2; the next at 4\)`),
		regexp.MustCompile(`settle: running up to the look at 4 seeds, 0 trials new \([5-7] already done\)`),
		regexp.MustCompile(`left running by \S+, which has exited`),
	} {
		if !want.MatchString(out) {
			t.Errorf("rerun output lacks %s:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`trial [1-4]/8 \[`).MatchString(out) {
		t.Errorf("the rerun trained a trial of the first round again:\n%s", out)
	}
	if got := verdictLine.FindString(out); got != want {
		t.Errorf("verdict after the kill:\n%s\nuninterrupted:\n%s", got, want)
	}
	for _, tr := range storedTrials(t, filepath.Join(runs, "dogrun.db"), "settle_resume") {
		if tr.Status != "done" || tr.Attempts != 1 {
			t.Errorf("trial %d: %s after %d attempts, want done after 1", tr.Index+1, tr.Status, tr.Attempts)
		}
	}
}

// TestValidateDropoutSettle validates the shipped settle of the Dropout
// question against the shared photos: its design, and its first round.
func TestValidateDropoutSettle(t *testing.T) {
	validateShipped(t, "dropout-settle.yaml", "validate_dropout_settle")
}
