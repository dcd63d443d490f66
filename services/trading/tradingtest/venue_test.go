package tradingtest_test

import (
	"context"
	"testing"

	"github.com/cantondex/platform/services/trading"
	"github.com/cantondex/platform/services/trading/tradingtest"
)

func TestCrossConservesAndReleases(t *testing.T) {
	ctx := context.Background()
	v := tradingtest.NewVenue(nil)
	if _, err := v.CreateMarket(ctx, tradingtest.DemoMarket()); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.Deposit(ctx, "d1", "alice", "USD", 1_000_000_000)) // 1000 USD
	must(v.Deposit(ctx, "d1", "alice", "USD", 1_000_000_000)) // same id: no effect
	must(v.Deposit(ctx, "d2", "bob", "BTC", 100_000_000))     // 1 BTC
	// Bob sells 0.5 BTC at 100.00; Alice buys 0.2 at 101.00 and gets 100.00.
	sell, err := v.PlaceOrder(ctx, trading.PlaceOrder{Account: "bob", Market: "BTC-USD", Side: trading.Sell, Type: trading.Limit, TimeInForce: trading.GTC, Price: 100_00, Quantity: 5000})
	must(err)
	buy, err := v.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", ClientOrderID: "c1", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 101_00, Quantity: 2000})
	must(err)
	if buy.Status != trading.StatusFilled || buy.Filled != 2000 {
		t.Fatalf("buy %+v", buy)
	}
	again, _ := v.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", ClientOrderID: "c1", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 101_00, Quantity: 2000})
	if again.ID != buy.ID {
		t.Fatal("client order id not idempotent")
	}
	bal := func(acct string) map[string]trading.Balance {
		bs, _ := v.Balances(ctx, acct)
		m := map[string]trading.Balance{}
		for _, b := range bs {
			m[b.Asset] = b
		}
		return m
	}
	a, b := bal("alice"), bal("bob")
	if a["USD"].Total != 980_000_000 || a["USD"].Held != 0 || a["BTC"].Total != 20_000_000 {
		t.Fatalf("alice %+v", a)
	}
	if b["USD"].Total != 20_000_000 || b["BTC"].Total != 80_000_000 || b["BTC"].Held != 30_000_000 {
		t.Fatalf("bob %+v", b)
	}
	if _, err := v.CancelOrder(ctx, "alice", sell.ID); trading.ErrorCode(err) != trading.ENOTFOUND {
		t.Fatalf("cancel of another's order: %v", err)
	}
	if _, err := v.CancelOrder(ctx, "bob", sell.ID); err != nil {
		t.Fatal(err)
	}
	if b := bal("bob"); b["BTC"].Held != 0 || b["BTC"].Available != 80_000_000 {
		t.Fatalf("hold not released: %+v", b)
	}
	_, err = v.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC, Price: 100_00, Quantity: 1_000_000})
	if trading.ErrorCode(err) != trading.EINSUFFICIENT {
		t.Fatalf("overspend: %v", err)
	}
}
