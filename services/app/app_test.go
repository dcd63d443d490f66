package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/trading"
)

func startApp(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := a.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.SeedDemo(context.Background()); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	return a
}

func TestOrderEntryOnEmbeddedDefaults(t *testing.T) {
	ctx := context.Background()
	a := startApp(t, app.Config{Services: app.OrderEntryOnly})
	if a.Durable {
		t.Error("embedded defaults reported durable")
	}
	if err := a.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Accounts.Deposit(ctx, "dep1", "alice", "USD", 1_000_000_000); err != nil { // 1000 USD
		t.Fatal(err)
	}
	req := trading.PlaceOrder{Account: "alice", ClientOrderID: "c1", Market: "BTC-USD", Side: trading.Buy,
		Type: trading.Limit, Price: 50_000_00, Quantity: 1000} // 0.1 BTC at 50,000.00 = 5,000 USD
	if _, err := a.Orders.PlaceOrder(ctx, req); trading.ErrorCode(err) != trading.EINSUFFICIENT {
		t.Fatalf("order beyond balance: %v", err)
	}
	req.Quantity = 100 // 0.01 BTC = 500 USD
	o, err := a.Orders.PlaceOrder(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.Orders.PlaceOrder(ctx, req)
	if err != nil || again.ID != o.ID {
		t.Fatalf("repeat client order id gave %v, %v", again.ID, err)
	}
	bals, err := a.Accounts.Balances(ctx, "alice")
	if err != nil || len(bals) != 1 || bals[0].Held != 500_000_000 || bals[0].Available != 500_000_000 {
		t.Fatalf("balances %+v, %v", bals, err)
	}
	if _, err := a.Orders.GetOrder(ctx, "bob", o.ID); trading.ErrorCode(err) != trading.ENOTFOUND {
		t.Fatalf("another account's order: %v", err)
	}
	p, err := a.Orders.ListOrders(ctx, trading.OrderFilter{Account: "alice", OpenOnly: true})
	if err != nil || len(p.Items) != 1 || p.Items[0].Status != trading.StatusPending {
		t.Fatalf("list %+v, %v", p, err)
	}
}
