package surveillance_test

import (
	"testing"
	"time"

	"github.com/cantondex/platform/services/compliance/surveillance"
	"github.com/cantondex/platform/services/compliance/surveillance/synth"
	"github.com/cantondex/platform/services/matching"
)

// BenchmarkObserve measures the detectors alone, one op per event, over the default labelled
// flow (one hour, about 66,000 events, every detector busy), on one goroutine. Target: at
// least 100,000 events/s on one core.
func BenchmarkObserve(b *testing.B) {
	f, err := synth.Generate(synth.Default())
	if err != nil {
		b.Fatal(err)
	}
	evs := f.Events
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var d *surveillance.Detectors
	alerts := 0
	for i := 0; i < b.N; i++ {
		j := i % len(evs)
		if j == 0 {
			d = surveillance.New(surveillance.Default(), f.Links)
		}
		alerts += len(d.Observe(evs[j]))
	}
	reportRates(b, b.N, cpu0)
	_ = alerts
}

// BenchmarkReplayAndObserve measures what services/cmd/surveil does per journal command: the
// matching engine, the conversion into events and the detectors (journal decoding excluded).
func BenchmarkReplayAndObserve(b *testing.B) {
	f, err := synth.Generate(synth.Default())
	if err != nil {
		b.Fatal(err)
	}
	lines := f.Lines
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var d *surveillance.Detectors
	var r *surveillance.Replayer
	events := 0
	for i := 0; i < b.N; i++ {
		j := i % len(lines)
		if j == 0 {
			d = surveillance.New(surveillance.Default(), f.Links)
			if r, err = surveillance.NewReplayer([]matching.Market{synth.Market}); err != nil {
				b.Fatal(err)
			}
		}
		for _, ev := range r.Apply(uint64(j+1), lines[j].TS, &lines[j].Cmd) {
			d.Observe(ev)
			events++
		}
	}
	reportRates(b, events, cpu0)
}

// reportRates reports events per wall-clock second and per CPU second of the process (which
// includes the garbage collector's work on other threads).
func reportRates(b *testing.B, events int, cpu0 time.Duration) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	}
}
