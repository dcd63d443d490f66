//go:build unix

package surveillance_test

import (
	"syscall"
	"time"
)

// cpuTime is the process's user plus system CPU time: on a shared machine, events per CPU
// second is the throughput one core gives, whatever else runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
