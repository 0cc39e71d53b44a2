//go:build !linux

package runner

import "time"

var processStart = time.Now()

// threadCPU stands in for the thread's CPU clock where dogrun does not read
// it: the wall clock, which counts whatever else the machine does.
func threadCPU() time.Duration { return time.Since(processStart) }
