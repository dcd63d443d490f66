//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // profiles for a local build: go build -tags pprof
	"os"
)

// A build with -tags pprof serves the runtime profiles on PPROF_ADDR (127.0.0.1:6060 unless
// set): for measuring a local platform, never in a release build.
func init() {
	addr := os.Getenv("PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	go func() { _ = http.ListenAndServe(addr, nil) }()
}
