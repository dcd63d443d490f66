package flow

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/matching"
)

func testConfig(seed uint64) Config {
	return Config{Market: matching.Market{Symbol: "BTC-USD", TickSize: "0.01", LotSize: "0.0001"},
		Commands: 20_000, Depth: 500, Accounts: 20, Mix: ExchangeCore, Seed: seed, Mid: 1_000_000, Spread: 100}
}

// TestGenerateReplays: a flow is reproducible for a seed, differs across seeds, has the
// requested mix, and replayed on a fresh book never names an order that is not resting, while
// the book stays near its target depth.
func TestGenerateReplays(t *testing.T) {
	f, err := Generate(testConfig(1))
	require.NoError(t, err)
	g, err := Generate(testConfig(1))
	require.NoError(t, err)
	require.Equal(t, f.Commands, g.Commands, "same seed, different commands")
	require.Equal(t, f.Warmup, g.Warmup, "same seed, different warm-ups")
	h, err := Generate(testConfig(2))
	require.NoError(t, err)
	require.NotEqual(t, f.Commands, h.Commands, "different seeds, same flow")
	book, err := matching.NewBook(testConfig(1).Market)
	require.NoError(t, err)
	var out []matching.Event
	for _, c := range f.Warmup {
		out = book.Apply(c, out[:0])
	}
	require.Equal(t, 500, book.Len(), "orders in the warm-up book")
	counts := map[matching.Op]int{}
	trades := 0
	for _, c := range f.Commands {
		counts[c.Op]++
		out = book.Apply(c, out[:0])
		for _, e := range out {
			if e.Type == matching.EvRejected { // the message is built only on a failure
				require.Failf(t, "command rejected", "command %+v rejected: %s", c, e.Reason)
			}
			if e.Type == matching.EvTrade {
				trades++
			}
		}
	}
	n := float64(len(f.Commands))
	modifies := float64(counts[matching.OpModify]) / n
	assert.GreaterOrEqual(t, modifies, 0.78, "modify share, want about 0.82")
	assert.LessOrEqual(t, modifies, 0.86, "modify share, want about 0.82")
	cancels := float64(counts[matching.OpCancel]) / n
	assert.GreaterOrEqual(t, cancels, 0.04, "cancel share, want about 0.06")
	assert.LessOrEqual(t, cancels, 0.08, "cancel share, want about 0.06")
	assert.GreaterOrEqual(t, trades, len(f.Commands)/100, "trades in %d commands", len(f.Commands))
	assert.GreaterOrEqual(t, book.Len(), 250, "book drifted from 500 orders")
	assert.LessOrEqual(t, book.Len(), 1000, "book drifted from 500 orders")
}
