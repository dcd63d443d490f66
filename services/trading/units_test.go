package trading

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnits(t *testing.T) {
	m := MarketDef{Symbol: "BTC-USD", TickSize: "0.01", LotSize: "0.0001"}
	u, err := NewUnits(m, Asset{"BTC", 8}, Asset{"USD", 6})
	require.NoError(t, err)
	// 0.5 BTC at 30,000.00 = 15,000 USD.
	n, ok := u.Notional(3_000_000, 5000)
	require.True(t, ok, "notional overflowed")
	require.Equal(t, int64(15_000_000_000), n, "notional")
	b, ok := u.Base(5000)
	require.True(t, ok, "base overflowed")
	require.Equal(t, int64(50_000_000), b, "base")
	require.Equal(t, int64(5000), u.Lots(b), "lots of base %d", b)
	_, ok = u.Notional(1<<40, 1<<40)
	require.False(t, ok, "overflow not reported")
	_, err = NewUnits(m, Asset{"BTC", 8}, Asset{"USD", 2})
	require.Equal(t, EINVALID, ErrorCode(err), "USD at scale 2 cannot hold notionals exactly: %v", err)
	_, err = NewUnits(m, Asset{"BTC", 3}, Asset{"USD", 6})
	require.Equal(t, EINVALID, ErrorCode(err), "BTC at scale 3 cannot hold a lot: %v", err)
	// A tick of 0.05 and lot of 0.5: notional factor 0.025 -> 25,000 at scale 6.
	u, err = NewUnits(MarketDef{TickSize: "0.05", LotSize: "0.5"}, Asset{"X", 1}, Asset{"Y", 6})
	require.NoError(t, err, "odd steps")
	n, _ = u.Notional(3, 2)
	require.Equal(t, int64(150_000), n, "odd steps")
}
