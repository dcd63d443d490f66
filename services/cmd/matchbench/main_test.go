package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunPrintsFigures(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"--commands", "2000", "--depth", "100", "--rate", "1e9", "--runs", "2"}, &out))
	for _, want := range []string{"throughput: median", "msgs/s", "over 2 runs", "allocs/op", "p50", "p99 ", "p99.9", "modify", "machine: a bare clock-reading loop"} {
		assert.Contains(t, out.String(), want)
	}
	assert.Error(t, run([]string{"--commands", "0"}, &out), "--commands 0 accepted")
	assert.Error(t, run([]string{"--runs", "0"}, &out), "--runs 0 accepted")
}

func TestRunRegimes(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"--regime", "crash-60", "--orders", "2000", "--rate", "1e9", "--runs", "1"}, &out))
	assert.Contains(t, out.String(), "flow: regime crash-60")
	assert.Contains(t, out.String(), "throughput: median")
	out.Reset()
	require.NoError(t, run([]string{"--regime", "all", "--orders", "1000", "--rate", "1e9", "--runs", "1"}, &out))
	assert.Equal(t, 9, strings.Count(out.String(), "flow: regime "), out.String())
	assert.ErrorContains(t, run([]string{"--regime", "nope"}, &out), "unknown regime")
}
