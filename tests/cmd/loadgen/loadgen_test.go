package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/tests/platformtest"
)

// arrivals counts a schedule's arrivals due in [from, to).
func arrivals(t *testing.T, s schedule, from, to time.Duration) int {
	n := 0
	for i := int64(0); ; i++ {
		d, ok := s.due(i)
		if !ok || d >= to {
			return n
		}
		if d >= from {
			n++
		}
	}
}

func TestSchedules(t *testing.T) {
	s, err := scheduleFor(steady, 100, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1000, arrivals(t, s, 0, time.Hour), "steady: rate x duration")
	assert.Equal(t, 100, arrivals(t, s, 4*time.Second, 5*time.Second), "steady: the rate in any second")

	r, err := scheduleFor(rampUp, 100, 10*time.Second)
	require.NoError(t, err)
	assert.InDelta(t, 500, arrivals(t, r, 0, time.Hour), 1, "ramp: half of steady")
	assert.InDelta(t, 5, arrivals(t, r, 0, time.Second), 1, "ramp: the first second, mean rate 5/s")
	assert.InDelta(t, 95, arrivals(t, r, 9*time.Second, 10*time.Second), 1, "ramp: the last second, mean rate 95/s")

	sp, err := scheduleFor(spike, 100, 30*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 100, arrivals(t, sp, 9*time.Second, 10*time.Second), "spike: before")
	assert.Equal(t, 500, arrivals(t, sp, 14*time.Second, 15*time.Second), "spike: 5x in the middle")
	assert.Equal(t, 100, arrivals(t, sp, 25*time.Second, 26*time.Second), "spike: after")
	assert.Equal(t, 100*20+500*10, arrivals(t, sp, 0, time.Hour), "spike: total")

	_, err = scheduleFor(spike, 100, 5*time.Second)
	assert.ErrorContains(t, err, "at least 12s")
	_, err = scheduleFor("soak", 100, time.Second)
	assert.ErrorContains(t, err, `-profile "soak": want steady, ramp, spike, stress or endurance`)
}

func TestMix(t *testing.T) {
	m, err := parseMix("place=70,cancel=10,book=10,read=10")
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(5, 6))
	count := map[string]int{}
	for range 100_000 {
		count[m.draw(rng)]++
	}
	assert.InDelta(t, 70_000, count[opPlace], 1500)
	for _, op := range []string{opCancel, opBook, opRead} {
		assert.InDelta(t, 10_000, count[op], 800, op)
	}
	for in, want := range map[string]string{
		"place=1,sell=2":   `"sell=2" is not op=weight`,
		"place=x":          "weight of place must be a non-negative integer",
		"place=1,place=2":  "place given twice",
		"cancel=5,read=5":  "placements need a positive weight",
		"place=-1,book=10": "weight of place must be a non-negative integer",
	} {
		_, err := parseMix(in)
		assert.ErrorContains(t, err, want, in)
	}
}

// The CPU time read from /proc is the kernel's own account of the process, the one
// getrusage gives: equal within the clock tick, however busy the machine is.
func TestProcessAccounting(t *testing.T) {
	ws, err := parseWatch("")
	require.NoError(t, err)
	require.Len(t, ws, 1, "loadgen itself")
	x := 0
	for i := 0; i < 200_000_000; i++ {
		x += i & 3
	}
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	u := treeUsage(ws)["loadgen"]
	var after syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &after))
	secs := func(r syscall.Rusage) float64 {
		return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)/1e6
	}
	assert.Positive(t, u.cpu, "CPU seconds (x=%d)", x)
	assert.GreaterOrEqual(t, u.cpu, secs(ru)-2.0/clockTicks, "at least getrusage's figure before the read, less a tick or two")
	assert.LessOrEqual(t, u.cpu, secs(after)+2.0/clockTicks, "at most getrusage's figure after the read, plus a tick or two")
	assert.Greater(t, u.rss, int64(1<<20), "resident memory")

	_, err = parseWatch("platform=abc")
	assert.ErrorContains(t, err, `"platform=abc" is not name=pid`)
	_, err = parseWatch("platform=999999999")
	assert.ErrorContains(t, err, "no process 999999999 (platform)")
}

// A short mixed run against the platform as a real process: every operation answers, nothing
// fails, and the platform's CPU per order is accounted; a stress run with an unreachable bound
// stops at its first step and says so.
func TestAgainstThePlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the platform")
	}
	bin, err := platformtest.Build(t.TempDir())
	require.NoError(t, err)
	// Book reads are public market data, limited per address; one load generator is one address.
	p, err := platformtest.Start(bin, "PUBLIC_RATE_LIMIT_PER_SECOND=100000")
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Stop() })

	ws, err := parseWatch("platform=" + strconv.Itoa(p.Pid()))
	require.NoError(t, err)
	m, err := parseMix("place=60,cancel=15,book=10,read=15")
	require.NoError(t, err)
	cfg := config{url: p.URL, adminEmail: p.AdminEmail, adminPassword: p.AdminPassword, market: "BTC-USD",
		traders: 5, maxInFlight: 200, rate: 150, duration: 2 * time.Second, profile: steady, mix: m, watch: ws,
		window: time.Minute}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), cfg, &out), out.String())
	for _, row := range []string{"POST /orders", "DELETE /orders/{id}", "GET /orders/{id}", "GET /markets/{m}/book"} {
		assert.Regexp(t, regexp.QuoteMeta(row)+` +[1-9]\d* `, out.String(), "a row with answers for %s", row)
	}
	assert.Contains(t, out.String(), "errors: 0 ")
	cpu := regexp.MustCompile(`(?m)^platform +([0-9.]+) +([0-9.]+) `).FindStringSubmatch(out.String())
	if assert.Len(t, cpu, 3, out.String()) {
		s, _ := strconv.ParseFloat(cpu[1], 64)
		assert.Positive(t, s, "the platform's CPU seconds")
	}

	cfg.profile, cfg.p99Bound, cfg.stepDuration, cfg.stepFactor, cfg.maxRate = stress, time.Nanosecond, time.Second, 2, 1000
	out.Reset()
	require.NoError(t, run(context.Background(), cfg, &out), out.String())
	assert.Contains(t, out.String(), "knee: below 150/s")
	if os.Getenv("LOADGEN_TEST_VERBOSE") != "" {
		t.Log(out.String())
	}
}
