package exchange_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/trading"
)

// A market whose bounds the matching engine cannot represent is refused and not recorded.
func TestCreateMarketWithinTheEngine(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := setup(t, trading.Book{})
	base := trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"}
	for name, m := range map[string]trading.MarketDef{
		"price beyond 2^40 ticks":     {MinPrice: 1, MaxPrice: 1<<40 + 1, MinQty: 1, MaxQty: 10},
		"quantity beyond 2^40 lots":   {MinPrice: 1, MaxPrice: 10, MinQty: 1, MaxQty: 1<<40 + 1},
		"largest notional overflows":  {MinPrice: 1, MaxPrice: 1 << 40, MinQty: 1, MaxQty: 1 << 40},
		"min above max (via default)": {MinPrice: 1 << 41, MinQty: 1, MaxQty: 10},
	} {
		def := base
		def.Symbol, def.Base = "ETH-USD", "ETH"
		def.MinPrice, def.MaxPrice, def.MinQty, def.MaxQty = m.MinPrice, m.MaxPrice, m.MinQty, m.MaxQty
		require.NoError(t, svc.CreateAsset(ctx, trading.Asset{Symbol: "ETH", Scale: 8}))
		_, err := svc.CreateMarket(ctx, def)
		assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), "%s: %v", name, err)
		_, err = svc.Market(ctx, "ETH-USD")
		assert.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "%s: the market was recorded", name)
	}
}

// A deposit that would take an asset's supply beyond what balances can hold is refused and
// changes nothing; up to the limit it goes through.
func TestDepositCannotOverflowABalance(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := setup(t, trading.Book{})
	before, err := st.Balance(ctx, "alice", "BTC")
	require.NoError(t, err)
	err = svc.Deposit(ctx, "huge", "alice", "BTC", 1<<63-1)
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), "%v", err)
	after, err := st.Balance(ctx, "alice", "BTC")
	require.NoError(t, err)
	assert.Equal(t, before, after)
	require.NoError(t, svc.Deposit(ctx, "most", "alice", "BTC", exchange.MaxSupply-1))
	require.NoError(t, svc.Deposit(ctx, "last", "bob", "BTC", 1))
	err = svc.Deposit(ctx, "over", "bob", "BTC", 1)
	assert.Equal(t, trading.EINVALID, trading.ErrorCode(err), "the supply went past MaxSupply: %v", err)
}
