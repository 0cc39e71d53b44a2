//go:build !linux

package train

import "time"

var processStart = time.Now()

// ThreadCPU stands in for the thread's CPU clock where dogrun does not read
// it: the wall clock, which counts whatever else the machine does.
func ThreadCPU() time.Duration { return time.Since(processStart) }
