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
		c, err := st.Claim(ctx, id, w, time.Hour, 3) // in index order: h0, h1, ...
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
	if err := r.reclaimDead(ctx, false); err != nil {
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

	// Before its first claim, a worker also hands back what an earlier
	// process of its name left running.
	log.Reset()
	if err := r.reclaimDead(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got, err = st.Trials(ctx, id); err != nil || got[4].Status != results.StatusPending || got[1].Status != results.StatusRunning {
		t.Errorf("after the first-claim check: %+v %v; want the worker's own trial handed back, the live worker's kept", got, err)
	}
	if !strings.Contains(log.String(), "left running by "+workers[4]) {
		t.Errorf("log should name the earlier process:\n%s", log.String())
	}

	// The handed-back trial is the next one claimed, by anyone.
	c, err := st.Claim(ctx, id, "someone:1", time.Hour, 3)
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
