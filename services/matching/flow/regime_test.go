package flow

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/matching"
)

// replayStats replays f on a fresh book and counts what happened.
type replayStats struct {
	news, iocs, cancels, modifies, repriced, rejected, rests int
	far                                                      int // GTC orders over 10 MinDist from the mid
}

func replay(t *testing.T, f Flow, m matching.Market, minDist float64, regime bool) replayStats {
	t.Helper()
	book, err := matching.NewBook(m)
	require.NoError(t, err)
	var s replayStats
	var out []matching.Event
	for _, c := range append(slices.Clip(f.Warmup), f.Commands...) {
		before, wasResting := book.Order(c.ID)
		out = book.Apply(c, out[:0])
		require.NotEmpty(t, out)
		if out[0].Type == matching.EvRejected {
			s.rejected++
			require.Equal(t, matching.ReasonUnknownOrder, out[0].Reason, "%+v", c)
			require.False(t, wasResting)
		}
		switch c.Op {
		case matching.OpNew:
			if regime {
				require.GreaterOrEqual(t, c.Qty, int64(1), "order qty")
				require.LessOrEqual(t, c.Qty, int64(100), "order qty")
			}
			if c.TIF == matching.IOC {
				s.iocs++
				continue
			}
			s.news++
			if math.Abs(float64(c.Price)-RegimeMid) > 10*minDist {
				s.far++
			}
			if _, ok := book.Order(c.ID); ok {
				s.rests++
			}
		case matching.OpCancel:
			s.cancels++
		case matching.OpModify:
			s.modifies++
			if wasResting && regime {
				require.Equal(t, before.Qty+1, c.Qty, "a modification adds one lot")
				if c.Price != 0 {
					require.Equal(t, int64(1), max(c.Price-before.Price, before.Price-c.Price), "a reprice moves one tick")
					s.repriced++
				}
			}
		}
	}
	return s
}

// TestRegimeIsTheMethodology: a regime flow is reproducible for a seed and differs across
// seeds; on gbm-0 (a constant mid, so each order's distance is known) the shares of IOC,
// cancelled, modified and repriced orders, of far orders (the power law's tail) and of
// cancels/modifications of orders already gone are those configured, and only those are
// rejected.
func TestRegimeIsTheMethodology(t *testing.T) {
	r := Regimes["gbm-0"]
	r.Orders = 60_000
	f, err := r.Generate()
	require.NoError(t, err)
	again, err := r.Generate()
	require.NoError(t, err)
	assert.Equal(t, f.Commands, again.Commands, "same seed, same flow")
	r.Seed = 2
	other, err := r.Generate()
	require.NoError(t, err)
	assert.NotEqual(t, f.Commands[:1000], other.Commands[:1000], "different seeds, different flows")

	s := replay(t, f, RegimeMarket, r.MinDist, true)
	assert.Equal(t, r.Orders, s.news+s.iocs)
	assert.InDelta(t, 0.15, float64(s.iocs)/float64(r.Orders), 0.01, "IOC share of new orders")
	// Density ∝ d^-2.23 above MinDist: P(d > 10 MinDist) = 10^-1.23 ≈ 0.059.
	assert.InDelta(t, math.Pow(10, 1-r.Alpha), float64(s.far)/float64(s.news), 0.01, "power-law tail")
	live := s.cancels + s.modifies - s.rejected
	assert.InDelta(t, 0.02, float64(s.rejected)/float64(s.cancels+s.modifies), 0.005, "share of orders already gone")
	// Scheduled cancels of orders filled first, and those still pending at the end, are not
	// sent: under 95 % and 20 %.
	assert.InDelta(t, 0.85, float64(s.cancels-s.rejected/2)/float64(s.rests), 0.08, "cancelled share of resting orders")
	assert.InDelta(t, 0.19, float64(s.modifies)/float64(s.rests), 0.02, "modified share of resting orders")
	assert.InDelta(t, 0.80, float64(s.repriced)/float64(s.modifies-s.rejected/2), 0.03, "repriced share of modifications")
	assert.Positive(t, live)
}

// TestRegimesMoveTheMid: the mid's deterministic shape rises and returns for a swing and
// falls by the crash within 1 % of the run; GBM moves it with the configured volatility.
func TestRegimesMoveTheMid(t *testing.T) {
	assert.InDelta(t, 1.25, Regimes["swing-25"].shape(0.5), 1e-9)
	assert.InDelta(t, 1.0, Regimes["swing-25"].shape(1), 1e-9)
	assert.InDelta(t, 1.40, Regimes["swing-40"].shape(0.5), 1e-9)
	assert.InDelta(t, 1.0, Regimes["crash-60"].shape(0.49), 1e-9)
	assert.InDelta(t, 0.40, Regimes["crash-60"].shape(0.51), 1e-9)
	assert.InDelta(t, 1.0, Regimes["crash-60"].shape(0.57), 1e-9)
	assert.InDelta(t, 1.0, Regimes["gbm-0.15"].shape(0.5), 1e-9)

	// The crash shows in the prices: orders around the bottom sit near 40 % of the start.
	r := Regimes["crash-60"]
	r.Orders = 20_000
	f, err := r.Generate()
	require.NoError(t, err)
	low := int64(math.MaxInt64)
	for _, c := range f.Commands {
		if c.Op == matching.OpNew {
			low = min(low, c.Price)
		}
	}
	assert.Less(t, low, int64(0.5*RegimeMid))
	assert.Greater(t, low, int64(0.2*RegimeMid))
}

// TestNamed: every name gives a flow whose replay only rejects what is meant to be rejected;
// unknown names are refused.
func TestNamed(t *testing.T) {
	for _, name := range Names() {
		f, m, err := Named(name, 3_000, 1)
		require.NoError(t, err, name)
		require.NotEmpty(t, f.Commands, name)
		_, isRegime := Regimes[name]
		replay(t, f, m, 1, isRegime || name == "venue")
	}
	_, _, err := Named("nope", 0, 1)
	assert.ErrorContains(t, err, "unknown regime")
	_, err = Regime{}.Generate()
	assert.Error(t, err)
}
