package tradingtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/trading"
	"github.com/cantondex/platform/services/trading/tradingtest"
)

func TestCrossConservesAndReleases(t *testing.T) {
	ctx := context.Background()
	v := tradingtest.NewVenue(nil)
	_, err := v.CreateMarket(ctx, tradingtest.DemoMarket())
	require.NoError(t, err)
	must := func(err error) {
		t.Helper()
		require.NoError(t, err)
	}
	must(v.Deposit(ctx, "d1", "alice", "USD", 1_000_000_000)) // 1000 USD
	must(v.Deposit(ctx, "d1", "alice", "USD", 1_000_000_000)) // same id: no effect
	must(v.Deposit(ctx, "d2", "bob", "BTC", 100_000_000))     // 1 BTC
	// Bob sells 0.5 BTC at 100.00; Alice buys 0.2 at 101.00 and gets 100.00.
	sell, err := v.PlaceOrder(ctx, trading.PlaceOrder{Account: "bob", Market: "BTC-USD", Side: trading.Sell, Type: trading.Limit, TimeInForce: trading.GTC, Price: 100_00, Quantity: 5000})
	must(err)
	buy, err := v.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", ClientOrderID: "c1", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 101_00, Quantity: 2000})
	must(err)
	require.Equal(t, trading.StatusFilled, buy.Status, "buy %+v", buy)
	require.Equal(t, int64(2000), buy.Filled, "buy %+v", buy)
	again, _ := v.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", ClientOrderID: "c1", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 101_00, Quantity: 2000})
	require.Equal(t, buy.ID, again.ID, "client order id not idempotent")
	bal := func(acct string) map[string]trading.Balance {
		bs, _ := v.Balances(ctx, acct)
		m := map[string]trading.Balance{}
		for _, b := range bs {
			m[b.Asset] = b
		}
		return m
	}
	a, b := bal("alice"), bal("bob")
	require.Equal(t, int64(980_000_000), a["USD"].Total, "alice USD total")
	require.Zero(t, a["USD"].Held, "alice USD held")
	require.Equal(t, int64(20_000_000), a["BTC"].Total, "alice BTC total")
	require.Equal(t, int64(20_000_000), b["USD"].Total, "bob USD total")
	require.Equal(t, int64(80_000_000), b["BTC"].Total, "bob BTC total")
	require.Equal(t, int64(30_000_000), b["BTC"].Held, "bob BTC held")
	_, err = v.CancelOrder(ctx, "alice", sell.ID)
	require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "cancel of another's order: %v", err)
	_, err = v.CancelOrder(ctx, "bob", sell.ID)
	require.NoError(t, err)
	b = bal("bob")
	require.Zero(t, b["BTC"].Held, "hold not released: %+v", b)
	require.Equal(t, int64(80_000_000), b["BTC"].Available, "hold not released: %+v", b)
	_, err = v.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 100_00, Quantity: 1_000_000})
	require.Equal(t, trading.EINSUFFICIENT, trading.ErrorCode(err), "overspend: %v", err)
}
