package main

import (
	"fmt"
	"math"
	"time"
)

// A schedule says when each arrival is due: due(i) is the offset from the start of the i-th
// arrival (i from 0), and ok is false past the end. Arrivals follow the clock, never the server.
type schedule interface {
	due(i int64) (time.Duration, bool)
	// describe is the line printed before the run.
	describe() string
}

// segment is a stretch of constant rate.
type segment struct {
	rate float64 // arrivals per second
	dur  time.Duration
}

// piecewise is a schedule of constant-rate segments (steady, spike, endurance, a stress step).
type piecewise []segment

func (p piecewise) due(i int64) (time.Duration, bool) {
	var at time.Duration
	n := float64(i)
	for _, s := range p {
		in := s.rate * s.dur.Seconds() // arrivals in this segment
		if n < in {
			return at + time.Duration(n/s.rate*float64(time.Second)), true
		}
		n -= in
		at += s.dur
	}
	return 0, false
}

func (p piecewise) describe() string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += ", then "
		}
		out += fmt.Sprintf("%.0f/s for %s", s.rate, s.dur)
	}
	return out
}

// ramp rises linearly from 0 to rate over dur: N(t) = rate·t²/(2·dur), so the i-th arrival is
// due at sqrt(2·dur·i/rate).
type ramp struct {
	rate float64
	dur  time.Duration
}

func (r ramp) due(i int64) (time.Duration, bool) {
	t := math.Sqrt(2 * r.dur.Seconds() * float64(i) / r.rate)
	if t >= r.dur.Seconds() {
		return 0, false
	}
	return time.Duration(t * float64(time.Second)), true
}

func (r ramp) describe() string { return fmt.Sprintf("0 rising to %.0f/s over %s", r.rate, r.dur) }

// Profiles.
const (
	steady    = "steady"
	rampUp    = "ramp"
	spike     = "spike"
	stress    = "stress"
	endurance = "endurance"
)

// spikeLength and spikeFactor: the spike profile's burst in the middle of the run.
const (
	spikeLength = 10 * time.Second
	spikeFactor = 5
)

// scheduleFor is the schedule of a profile other than stress (which runs steps).
func scheduleFor(profile string, rate float64, dur time.Duration) (schedule, error) {
	switch profile {
	case steady, endurance:
		return piecewise{{rate, dur}}, nil
	case rampUp:
		return ramp{rate, dur}, nil
	case spike:
		if dur < spikeLength+2*time.Second {
			return nil, fmt.Errorf("-profile spike needs -duration of at least %s (a %s burst in the middle)", spikeLength+2*time.Second, spikeLength)
		}
		before := (dur - spikeLength) / 2
		return piecewise{{rate, before}, {rate * spikeFactor, spikeLength}, {rate, dur - spikeLength - before}}, nil
	}
	return nil, fmt.Errorf("-profile %q: want steady, ramp, spike, stress or endurance", profile)
}
