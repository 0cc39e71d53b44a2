//go:build linux

package train

import (
	"runtime"
	"testing"
	"time"
)

// The thread's CPU clock counts work on the thread, not time spent asleep.
func TestThreadCPUCountsWorkNotSleep(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := ThreadCPU()
	time.Sleep(200 * time.Millisecond)
	if slept := ThreadCPU() - before; slept > 50*time.Millisecond {
		t.Errorf("200 ms asleep cost %s of CPU", slept)
	}
	// Work until the clock shows 20 ms of it, or 10 s have passed on the wall.
	before, start := ThreadCPU(), time.Now()
	for ThreadCPU()-before < 20*time.Millisecond && time.Since(start) < 10*time.Second {
		for range 1000 {
			sink = sink*1.0000001 + 1e-9
		}
	}
	if worked := ThreadCPU() - before; worked < 20*time.Millisecond {
		t.Errorf("10 s of arithmetic cost %s of CPU", worked)
	}
}

var sink = 1.0
