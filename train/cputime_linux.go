package train

import (
	"time"

	"golang.org/x/sys/unix"
)

// ThreadCPU is the CPU time the calling thread has used: with the goroutine
// locked to its thread (runtime.LockOSThread), what a fit on it costs.
func ThreadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0 // every Linux since 2.6.12 has the clock
	}
	return time.Duration(ts.Nano())
}
