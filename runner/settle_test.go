package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/settle"
	"github.com/dogrun/dogrun/stats"
)

// settleYAML compares dropout 0.5 with 0: a look every 2 seeds up to 10.
const settleYAML = `
name: settling
dataset: {path: DATA, min_images_per_class: 4, seed: 1, test: 0.34, val: 0.17}
backbone: {name: mobilefacenet}
sweep: {head.dropout: [0.0, 0.5, 0.25]}
settle: {by: head.dropout, margin: 0.01, round: 2, max_seeds: 10, spending: pocock}
`

// fakeAccuracy is a trial's test accuracy in these tests: dropout 0.5
// gains 5 points, 0.25 nothing, with a seed's noise shared by all three.
func fakeAccuracy(t Trial) float64 {
	r := rand.New(rand.NewPCG(uint64(t.Seed), 7))
	acc := 0.6 + 0.01*r.NormFloat64()
	switch t.VariantKey() {
	case "head.dropout=0.5":
		acc += 0.05 + 0.002*r.NormFloat64()
	case "head.dropout=0.25":
		acc += 0.003 * r.NormFloat64()
	}
	return acc
}

// settleRun plans yaml over synthetic photos and returns a run on st whose
// trials store fakeAccuracy instead of training.
func settleRun(t *testing.T, yaml, data string, st *results.Store, worker string, log io.Writer) *run {
	t.Helper()
	exp := writeExperiment(t, strings.Replace(yaml, "DATA", data, 1))
	plan, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := planned(plan, Options{Store: st, RunsDir: t.TempDir(), Log: log, Worker: worker})
	r.opt.defaults()
	r.trialSteps = func(ctx context.Context, claimed *results.Trial, tr Trial, label string) error {
		acc := fakeAccuracy(tr)
		return st.Finish(ctx, claimed.ID, worker, results.Outcome{Report: metrics.Report{Accuracy: acc, Top5: acc + 0.2}})
	}
	return r
}

func settleFixture(t *testing.T) (data string, st *results.Store) {
	t.Helper()
	data = filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 3, 6)
	st, err := results.Open(filepath.Join(t.TempDir(), "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return data, st
}

// doneTrials lists the experiment's done trials as "variant seed".
func doneTrials(t *testing.T, st *results.Store, id int64) []string {
	t.Helper()
	trials, err := st.Trials(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tr := range trials {
		if tr.Status != results.StatusDone || tr.Attempts != 1 {
			t.Errorf("trial %d: %s after %d attempts", tr.Index+1, tr.Status, tr.Attempts)
		}
		out = append(out, fmt.Sprintf("%s seed=%d", tr.VariantKey, tr.Seed))
	}
	return out
}

// TestSettleRunsRoundsUntilDecided: a round at a time, a decided variant
// stops while the reference goes on, and the run ends when every comparison
// is decided or at the cap, with only the trials the looks needed.
func TestSettleRunsRoundsUntilDecided(t *testing.T) {
	data, st := settleFixture(t)
	var log bytes.Buffer
	r := settleRun(t, settleYAML, data, st, "w1", &log)
	sum, err := r.all(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	state, err := r.settleState(context.Background(), mustDesign(t, r.plan.Experiment))
	if err != nil {
		t.Fatal(err)
	}
	byValue := map[string]stats.Settled{}
	for _, c := range state.Comparisons {
		byValue[c.Value] = c.Settled
	}
	better, same := byValue["0.5"], byValue["0.25"]
	if better.Decision != stats.Better || same.Decision != stats.Equivalent || better.Seeds >= same.Seeds {
		t.Fatalf("0.5: %s after %d seeds, 0.25: %s after %d; want 0.5 better before 0.25 equivalent\n%s",
			better.Decision, better.Seeds, same.Decision, same.Seeds, log.String())
	}
	done := doneTrials(t, st, r.expID)
	want := 2*same.Seeds + better.Seeds
	if len(done) != want || sum.Trained != want || sum.Planned != want {
		t.Errorf("%d trials stored, %d trained, %d planned; want %d (the reference and 0.25 for %d seeds, 0.5 for %d)\n%v",
			len(done), sum.Trained, sum.Planned, want, same.Seeds, better.Seeds, done)
	}
	for _, line := range []string{
		"experiment settling: settle head.dropout against 0: 2 comparisons, alpha 0.05, margin ±0.01, a look every 2 seeds up to 10 (pocock spending)",
		"head.dropout=0.5 vs 0: no look yet (0 seeds paired; the first look is at 2)",
		"settle: running up to the look at 2 seeds, 6 trials new (0 already done)",
		fmt.Sprintf("head.dropout=0.5 vs 0: better after %d seeds", better.Seeds),
		fmt.Sprintf("head.dropout=0.25 vs 0: equivalent after %d seeds", same.Seeds),
		"settled: every comparison is decided or at the cap; they cover training randomness on one fixed split",
	} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, log.String())
		}
	}
	// A rerun trains nothing and says the same.
	var again bytes.Buffer
	r2 := settleRun(t, settleYAML, data, st, "w2", &again)
	if sum, err := r2.all(context.Background()); err != nil || sum.Trained != 0 || sum.AlreadyDone != want {
		t.Errorf("rerun: %+v, %v\n%s", sum, err, again.String())
	}
	if !strings.Contains(again.String(), fmt.Sprintf("head.dropout=0.5 vs 0: better after %d seeds", better.Seeds)) {
		t.Errorf("rerun says otherwise:\n%s", again.String())
	}
}

func mustDesign(t *testing.T, e *schemas.Experiment) results.SettleDesign {
	t.Helper()
	d, err := settle.Design(e)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSettleWorkersShareRounds: two workers on one database run each round
// once between them, wait for each other at the end of a round, and reach
// the verdicts one worker alone reaches.
func TestSettleWorkersShareRounds(t *testing.T) {
	data, st := settleFixture(t)
	_, alone := settleFixture(t)
	ref := settleRun(t, settleYAML, data, alone, "solo", io.Discard)
	if _, err := ref.all(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := doneTrials(t, alone, ref.expID)

	var logs [2]bytes.Buffer
	var sums [2]Summary
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		r := settleRun(t, settleYAML, data, st, fmt.Sprintf("w%d", i), &logs[i])
		inner := r.trialSteps
		r.trialSteps = func(ctx context.Context, claimed *results.Trial, tr Trial, label string) error {
			time.Sleep(time.Duration(5+10*i) * time.Millisecond) // so that rounds end while the other works
			return inner(ctx, claimed, tr, label)
		}
		r.wait = func(ctx context.Context, _ time.Duration) error {
			time.Sleep(5 * time.Millisecond)
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = r.all(context.Background())
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v\n%s", i, errs[i], logs[i].String())
		}
	}
	if sums[0].Trained == 0 || sums[1].Trained == 0 || sums[0].Trained+sums[1].Trained != len(want) {
		t.Errorf("trained %d and %d, want %d between them, each some", sums[0].Trained, sums[1].Trained, len(want))
	}
	exp, err := st.Experiment(context.Background(), "settling")
	if err != nil {
		t.Fatal(err)
	}
	got := doneTrials(t, st, exp.ID)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("two workers ran\n%v\none alone\n%v", got, want)
	}
	for i := range 2 {
		if !strings.Contains(logs[i].String(), "settled: every comparison is decided") {
			t.Errorf("worker %d did not see the end:\n%s", i, logs[i].String())
		}
	}
}

// TestSettleDesignIsFixed: a design changed after outcomes were seen is
// refused unless Redesign, which records how many seeds were seen.
func TestSettleDesignIsFixed(t *testing.T) {
	data, st := settleFixture(t)
	if _, err := settleRun(t, settleYAML, data, st, "w1", io.Discard).all(context.Background()); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(settleYAML, "margin: 0.01", "margin: 0.02", 1)
	r := settleRun(t, changed, data, st, "w2", io.Discard)
	_, err := r.all(context.Background())
	if !errors.Is(err, ErrDesignChanged) || !strings.Contains(err.Error(), "changes margin 0.01 -> 0.02, which voids the declared error rates") {
		t.Fatalf("changed margin: %v", err)
	}
	// Fewer comparisons would each get a larger share of alpha.
	fewer := strings.Replace(settleYAML, "[0.0, 0.5, 0.25]", "[0.0, 0.5]", 1)
	_, err = settleRun(t, fewer, data, st, "w2", io.Discard).all(context.Background())
	if !errors.Is(err, ErrDesignChanged) || !strings.Contains(err.Error(), "changes comparisons [[head.dropout=0.5 head.dropout=0] [head.dropout=0.25 head.dropout=0]] -> [[head.dropout=0.5 head.dropout=0]]") {
		t.Fatalf("fewer comparisons: %v", err)
	}
	// A refused file is not stored either.
	exp, err := st.Experiment(context.Background(), "settling")
	if err != nil || !strings.Contains(exp.ConfigYAML, "margin: 0.01") || !strings.Contains(exp.ConfigYAML, "[0.0, 0.5, 0.25]") {
		t.Errorf("the refused file replaced the stored one: %v\n%s", err, exp.ConfigYAML)
	}
	r = settleRun(t, changed, data, st, "w2", io.Discard)
	r.opt.Redesign = true
	if _, err := r.all(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, found, err := st.SettleDesign(context.Background(), r.expID)
	if err != nil || !found || d.Margin != 0.02 || d.SeenBefore == 0 {
		t.Errorf("redesigned: %+v %v %v; want margin 0.02 declared after some seeds", d, found, err)
	}
}

// TestSettleStopsAtAFailedTrial: a look needs every trial of its round; a
// trial that failed stops the run with what to do.
func TestSettleStopsAtAFailedTrial(t *testing.T) {
	data, st := settleFixture(t)
	r := settleRun(t, settleYAML, data, st, "w1", io.Discard)
	inner := r.trialSteps
	r.trialSteps = func(ctx context.Context, claimed *results.Trial, tr Trial, label string) error {
		if tr.Seed == 3 && tr.VariantKey() == "head.dropout=0.25" {
			return errors.New("train head: loss is not finite")
		}
		return inner(ctx, claimed, tr, label)
	}
	_, err := r.all(context.Background())
	want := "settle: trial 9 [head.dropout=0.25 seed=3] failed, so this look cannot be made (dogrun status settling says why); the next dogrun run retries it while attempts are left and goes on from this look"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
