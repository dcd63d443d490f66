package surveillance_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance/surveillance"
	"github.com/cantondex/platform/services/compliance/surveillance/synth"
)

// score is one detector's result on a labelled flow.
type score struct {
	alerts, truePos, falsePos int
	episodes, found           int
	missed, spurious          []string
}

func (s score) precision() float64 {
	if s.alerts == 0 {
		return 1
	}
	return float64(s.truePos) / float64(s.alerts)
}

func (s score) recall() float64 {
	if s.episodes == 0 {
		return 1
	}
	return float64(s.found) / float64(s.episodes)
}

// evaluate runs the detectors over a flow and matches alerts to planted episodes: an alert of
// a detector is a true positive when it names an order of an episode of that detector (or, for
// quote stuffing and ratios, has the episode's account); an episode is found when an alert
// matches it. Alerts of the order-to-trade detector on quote stuffers (whose bursts also make
// their session ratio high) are neither true nor false.
func evaluate(t testing.TB, f *synth.Flow) map[string]*score {
	d := surveillance.New(surveillance.Default(), f.Links)
	var alerts []surveillance.Alert
	for _, ev := range f.Events {
		alerts = append(alerts, d.Observe(ev)...)
	}
	alerts = append(alerts, d.Flush(f.Events[len(f.Events)-1].TS)...)
	res := map[string]*score{}
	for _, k := range []string{surveillance.DetectorWash, surveillance.DetectorSpoofing, surveillance.DetectorLayering,
		surveillance.DetectorOrderToTrade, surveillance.DetectorQuoteStuffing} {
		res[k] = &score{}
	}
	stuffers := map[string]bool{}
	for _, e := range f.Episodes {
		res[e.Kind].episodes++
		if e.Kind == surveillance.DetectorQuoteStuffing {
			stuffers[e.Account] = true
		}
	}
	matches := func(a *surveillance.Alert, e *synth.Episode) bool {
		if a.Detector != e.Kind {
			return false
		}
		switch e.Kind {
		case surveillance.DetectorQuoteStuffing:
			return a.Account == e.Account && !a.To.Before(e.From) && !a.From.After(e.To)
		case surveillance.DetectorOrderToTrade:
			return a.Account == e.Account
		}
		for _, id := range a.OrderIDs {
			if slices.Contains(e.OrderIDs, id) {
				return true
			}
		}
		return false
	}
	found := make([]bool, len(f.Episodes))
	for i := range alerts {
		a := &alerts[i]
		s := res[a.Detector]
		hit := false
		for j := range f.Episodes {
			if matches(a, &f.Episodes[j]) {
				hit, found[j] = true, true
			}
		}
		if !hit && a.Detector == surveillance.DetectorOrderToTrade && stuffers[a.Account] {
			continue
		}
		s.alerts++
		if hit {
			s.truePos++
		} else {
			s.falsePos++
			s.spurious = append(s.spurious, fmt.Sprintf("%s %v: %s", a.Account, a.OrderIDs, a.Reason))
		}
	}
	for j, e := range f.Episodes {
		if found[j] {
			res[e.Kind].found++
		} else {
			res[e.Kind].missed = append(res[e.Kind].missed, fmt.Sprintf("%s %s %v", e.Variant, e.Account, e.OrderIDs))
		}
	}
	return res
}

// TestQualityOnSyntheticFlows is the measurement of issue 15 item 7: precision and recall of
// each detector on labelled synthetic flows (see package synth for how they are made), over
// five seeds.
func TestQualityOnSyntheticFlows(t *testing.T) {
	total := map[string]*score{}
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		cfg := synth.Default()
		cfg.Seed = seed
		f, err := synth.Generate(cfg)
		require.NoError(t, err)
		t.Logf("seed %d: %d commands, %d events, %d episodes, dropped %v", seed, len(f.Lines), len(f.Events), len(f.Episodes), f.Dropped)
		for k, s := range evaluate(t, f) {
			tot := total[k]
			if tot == nil {
				tot = &score{}
				total[k] = tot
			}
			tot.alerts += s.alerts
			tot.truePos += s.truePos
			tot.falsePos += s.falsePos
			tot.episodes += s.episodes
			tot.found += s.found
			tot.missed = append(tot.missed, s.missed...)
			tot.spurious = append(tot.spurious, s.spurious...)
		}
	}
	for _, k := range []string{surveillance.DetectorWash, surveillance.DetectorSpoofing, surveillance.DetectorLayering,
		surveillance.DetectorOrderToTrade, surveillance.DetectorQuoteStuffing} {
		s := total[k]
		t.Logf("%-15s episodes %4d found %4d  alerts %4d (true %4d, false %3d)  precision %.3f recall %.3f",
			k, s.episodes, s.found, s.alerts, s.truePos, s.falsePos, s.precision(), s.recall())
		for i, m := range s.missed {
			if i < 5 {
				t.Logf("  missed: %s", m)
			}
		}
		for i, m := range s.spurious {
			if i < 5 {
				t.Logf("  spurious: %s", m)
			}
		}
		require.NotZero(t, s.episodes, k)
		switch k {
		case surveillance.DetectorWash, surveillance.DetectorSpoofing, surveillance.DetectorLayering:
			assert.GreaterOrEqual(t, s.precision(), 0.95, "%s precision", k)
			assert.GreaterOrEqual(t, s.recall(), 0.95, "%s recall", k)
		default: // sane: every planted account found, no honest account flagged
			assert.Equal(t, 1.0, s.recall(), "%s recall", k)
			assert.Zero(t, s.falsePos, "%s false positives", k)
		}
	}
}
