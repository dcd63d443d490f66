//go:build !linux

package main

import "time"

// threadCPU is unavailable here: --bench reports wall-clock figures only.
func threadCPU() (time.Duration, bool) { return 0, false }
