package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunPrintsFigures(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--commands", "2000", "--depth", "100", "--rate", "1e9"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"throughput:", "msgs/s", "allocs/op", "p50", "p99 ", "p99.9", "modify", "machine: a bare clock-reading loop"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run([]string{"--commands", "0"}, &out); err == nil {
		t.Error("--commands 0 accepted")
	}
}
