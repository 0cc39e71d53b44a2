// Package daemon starts the servers tests run (PostgreSQL, Slurm's
// daemons) as children that the kernel kills when the test process ends,
// however it ends: a test that crashes or times out leaves none behind.
package daemon

import (
	"os/exec"
	"runtime"
	"syscall"
)

// spawns runs on one OS thread that lives as long as the process. The
// kernel sends a child's parent-death signal when the thread that started
// it ends, not the process, and Go ends a thread whose goroutine locked it
// and returned (cgo libraries do that): a server started from such a thread
// would be killed in the middle of the tests.
var spawns = make(chan func())

func init() {
	go func() {
		runtime.LockOSThread() // never unlocked: this thread never ends
		for f := range spawns {
			f()
		}
	}()
}

// Start starts cmd, to be killed (SIGKILL) when this process ends.
func Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	done := make(chan error)
	spawns <- func() { done <- cmd.Start() }
	return <-done
}
