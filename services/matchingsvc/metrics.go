package matchingsvc

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine service's own latency figures, measured on the partitions'
// goroutines (the library's benchmarks measure the book alone; these add decoding, the
// executions' assembly, publishing and the captures handed to Run).
type Metrics struct {
	// Command is the time from the end of the previous command (or the batch's start) to the
	// end of this one: decoding it and applying it to its book.
	Command prometheus.Histogram
	// Batch is a whole batch on its partition's goroutine: its commands, publishing their
	// executions, capturing depth and a snapshot when one is due.
	Batch prometheus.Histogram
}

// NewMetrics registers the engine service's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Command: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cantondex_engine_command_duration_seconds",
			Help:    "Time the matching engine service spends on one command on its partition's goroutine (decoding and matching).",
			Buckets: prometheus.ExponentialBuckets(1e-6, 2, 16)}), // 1 µs to 33 ms
		Batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cantondex_engine_batch_duration_seconds",
			Help:    "Time the matching engine service's partition goroutine spends on one batch of commands, publishing its executions included.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}), // 50 µs to 1.6 s
	}
	reg.MustRegister(m.Command, m.Batch)
	return m
}

// clock times the commands of one batch: each lap is one command, since the previous lap.
type clock struct {
	m          *Metrics
	start, lap time.Time
}

func (s *Service) clock() clock {
	if s.Metrics == nil {
		return clock{}
	}
	now := time.Now()
	return clock{m: s.Metrics, start: now, lap: now}
}

// command observes the time since the last lap as one command's.
func (c *clock) command() {
	if c.m == nil {
		return
	}
	now := time.Now()
	c.m.Command.Observe(now.Sub(c.lap).Seconds())
	c.lap = now
}

// batch observes the time since the clock started as the batch's.
func (c *clock) batch() {
	if c.m != nil {
		c.m.Batch.Observe(time.Since(c.start).Seconds())
	}
}
