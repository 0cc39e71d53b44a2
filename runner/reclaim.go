package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/dogrun/dogrun/results"
)

// reclaimDead hands back the experiment's trials left running by a dogrun
// process of this host that no longer exists (killed, crashed, machine
// rebooted), so they are redone at once rather than after StaleAfter without
// heartbeats. Worker names are "host:pid" (Options.defaults); other names, other
// hosts and live pids are left to the heartbeat rule. Like Ctrl-C, the lost
// attempt does not count against MaxAttempts: a crash is usually the user's
// kill, not the trial's fault. Before its first claim (own) a worker also
// hands back trials running under its own name: they were left by an earlier
// process of that name (a restarted container's pid is often the same).
func (r *run) reclaimDead(ctx context.Context, own bool) error {
	host, err := os.Hostname()
	if err != nil {
		return nil // without a host name no worker can be judged local
	}
	trials, err := r.opt.Store.Trials(ctx, r.expID)
	if err != nil {
		return err
	}
	for _, t := range trials {
		mine := t.Worker == r.opt.Worker
		if t.Status != results.StatusRunning || (mine && !own) || (!mine && !deadLocalWorker(t.Worker, host)) {
			continue
		}
		err := r.opt.Store.ReleaseTrial(ctx, t.ID, t.Worker)
		if errors.Is(err, results.ErrNotOwned) {
			continue // another live worker handed it back first
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(r.opt.Log, "note: trial %s was left running by %s, which has exited; it will be redone\n",
			t.Hash[:min(12, len(t.Hash))], t.Worker)
	}
	return nil
}

// deadLocalWorker reports whether worker names a process of host that is gone.
func deadLocalWorker(worker, host string) bool {
	h, p, ok := strings.Cut(worker, ":")
	if !ok || h != host {
		return false
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		return false
	}
	return !processAlive(pid)
}

// processAlive is signal 0's answer; EPERM means the process exists under
// another user. A zombie (killed, not yet reaped by its parent) is dead.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no procfs: trust kill(0)
	}
	// The state follows the parenthesised command name, which may hold spaces.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
