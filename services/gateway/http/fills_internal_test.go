package http

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/trading"
)

// A fill carries the fee its side was charged, in the asset it received and formatted in that
// asset's scale; a trade settled before fees were recorded has none (null), not a zero.
func TestFillFee(t *testing.T) {
	m := trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"}
	st, err := trading.StepsOf(m)
	require.NoError(t, err)
	scales := map[string]int{"BTC": 8, "USD": 6}
	fees := &trading.FeeAmounts{Maker: 150_000, Taker: 2_000}
	for _, tc := range []struct {
		name      string
		takerSide trading.Side
		fees      *trading.FeeAmounts
		account   string
		fee, in   any
		liquidity string
	}{
		{"taker buys", trading.Buy, fees, "alice", "0.00002000", "BTC", "taker"},
		{"maker sells", trading.Buy, fees, "bob", "0.150000", "USD", "maker"},
		{"taker sells", trading.Sell, fees, "alice", "0.002000", "USD", "taker"},
		{"maker buys", trading.Sell, fees, "bob", "0.00150000", "BTC", "maker"},
		{"not recorded", trading.Buy, nil, "alice", nil, nil, "taker"},
	} {
		tr := trading.Trade{ID: "t1", Market: m.Symbol, Price: 3_000_000, Quantity: 2000, MakerOrderID: "s1", TakerOrderID: "b1",
			MakerAccount: "bob", TakerAccount: "alice", TakerSide: tc.takerSide, Fees: tc.fees}
		f := fillOut(tc.account, tr, m, st, scales)
		assert.Equal(t, tc.liquidity, f.Liquidity, tc.name)
		assert.Equal(t, tc.fee, deref(f.Fee), tc.name)
		assert.Equal(t, tc.in, deref(f.FeeAsset), tc.name)
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
