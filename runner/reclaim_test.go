package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
)

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestReclaimDeadHandsBackOnlyTrialsOfDeadLocalWorkers(t *testing.T) {
	ctx := context.Background()
	st, id := storeWithExperiment(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	workers := []string{
		fmt.Sprintf("%s:%d", host, deadPID(t)),   // dead, local: handed back
		fmt.Sprintf("%s:%d", host, os.Getppid()), // alive, local: kept
		fmt.Sprintf("elsewhere:%d", deadPID(t)),  // other host: heartbeat rule only
		host + ":not-a-pid",                      // not ours to judge
		fmt.Sprintf("%s:%d", host, os.Getpid()),  // the worker itself
		fmt.Sprintf("%s:%d", host, deadPID(t)),   // dead, but its trial failed: not running
	}
	var trials []results.Trial
	for i := range workers {
		trials = append(trials, results.Trial{Hash: fmt.Sprintf("h%d", i), Index: i, VariantJSON: "{}", ConfigJSON: "{}"})
	}
	if _, err := st.RegisterTrials(ctx, id, trials); err != nil {
		t.Fatal(err)
	}
	for i, w := range workers {
		c, err := st.Claim(ctx, id, []string{fmt.Sprintf("h%d", i)}, w, time.Hour, 3)
		if err != nil || c == nil {
			t.Fatalf("claim h%d: %v %v", i, c, err)
		}
		if i == 5 {
			if err := st.Fail(ctx, c.ID, w, "boom"); err != nil {
				t.Fatal(err)
			}
		}
	}

	var log bytes.Buffer
	r := &run{opt: Options{Store: st, Worker: workers[4], Log: &log}, expID: id}
	if err := r.reclaimDead(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.Trials(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []results.TrialStatus{results.StatusPending, results.StatusRunning, results.StatusRunning,
		results.StatusRunning, results.StatusRunning, results.StatusFailed}
	for i, tr := range got {
		if tr.Status != want[i] {
			t.Errorf("trial of worker %s: status %s, want %s", workers[i], tr.Status, want[i])
		}
	}
	if got[0].Attempts != 0 || got[0].Worker != "" {
		t.Errorf("handed-back trial: attempts %d worker %q, want 0 and none (a crash does not use up an attempt)", got[0].Attempts, got[0].Worker)
	}
	if !strings.Contains(log.String(), "left running by "+workers[0]+", which has exited") || strings.Count(log.String(), "\n") != 1 {
		t.Errorf("log should name the one dead worker:\n%s", log.String())
	}

	// The handed-back trial is the next one claimed, by anyone.
	c, err := st.Claim(ctx, id, nil, "someone:1", time.Hour, 3)
	if err != nil || c == nil || c.Hash != "h0" || c.Attempts != 1 {
		t.Fatalf("next claim: %+v %v, want h0 at attempt 1", c, err)
	}
}

func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) {
		t.Error("this process counts as dead")
	}
	if processAlive(deadPID(t)) {
		t.Error("a reaped process counts as alive")
	}
	// Killed but not yet reaped: a zombie is as dead as its worker.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("a killed, unreaped child still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNotFailedHere(t *testing.T) {
	r := &run{failedHere: map[string]bool{"a": true}}
	if got := r.notFailedHere([]string{"a"}); got == nil || len(got) != 0 {
		t.Errorf("without the last hash = %#v, want an empty, non-nil list", got)
	}
	if got := r.notFailedHere([]string{"a", "b", "a"}); strings.Join(got, ",") != "b" {
		t.Errorf("got %v", got)
	}
}
