package main

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time the calling OS thread has used (matchbench locks its goroutine to
// one thread), so that a figure can leave out the time the machine gave to other processes.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
