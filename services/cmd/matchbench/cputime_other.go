//go:build !linux

package main

import "time"

// threadCPU is not measured outside Linux; the CPU-time figure then reads as unavailable.
func threadCPU() time.Duration { return 0 }
