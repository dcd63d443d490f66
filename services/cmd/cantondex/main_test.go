package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/trading"
)

// app is a started backend of the all-in-one binary, as main assembles it.
type app struct {
	*backend
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Close stops the services and releases the dependencies; it may be called again.
func (a *app) Close() error {
	a.once.Do(func() {
		a.cancel()
		a.err = <-a.done
		a.close()
	})
	return a.err
}

func (a *app) Ready(ctx context.Context) error { return a.ready(ctx) }

// startApp assembles the backend from env (as main reads it) and runs it until the test ends.
func startApp(t *testing.T, env map[string]string) *app {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := start(context.Background(), cfg, log, prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	a := &app{backend: b, cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- platform.RunAll(ctx, b.runs...) }()
	t.Cleanup(func() { assert.NoError(t, a.Close()) })
	require.NoError(t, flow.SeedDemo(context.Background(), b.exchange))
	require.NoError(t, flow.SeedDemo(context.Background(), b.exchange), "second seed")
	return a
}

func TestOrderEntryOnEmbeddedDefaults(t *testing.T) {
	ctx := context.Background()
	a := startApp(t, nil)
	if a.durable {
		t.Error("embedded defaults reported durable")
	}
	if err := a.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.exchange.Deposit(ctx, "dep1", "alice", "USD", 1_000_000_000); err != nil { // 1000 USD
		t.Fatal(err)
	}
	req := trading.PlaceOrder{Account: "alice", ClientOrderID: "c1", Market: "BTC-USD", Side: trading.Buy,
		Type: trading.Limit, Price: 50_000_00, Quantity: 1000} // 0.1 BTC at 50,000.00 = 5,000 USD
	if _, err := a.exchange.PlaceOrder(ctx, req); trading.ErrorCode(err) != trading.EINSUFFICIENT {
		t.Fatalf("order beyond balance: %v", err)
	}
	req.Quantity = 100 // 0.01 BTC = 500 USD
	o, err := a.exchange.PlaceOrder(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.exchange.PlaceOrder(ctx, req)
	if err != nil || again.ID != o.ID {
		t.Fatalf("repeat client order id gave %v, %v", again.ID, err)
	}
	bals, err := a.exchange.Balances(ctx, "alice")
	if err != nil || len(bals) != 1 || bals[0].Held != 500_000_000 || bals[0].Available != 500_000_000 {
		t.Fatalf("balances %+v, %v", bals, err)
	}
	if _, err := a.exchange.GetOrder(ctx, "bob", o.ID); trading.ErrorCode(err) != trading.ENOTFOUND {
		t.Fatalf("another account's order: %v", err)
	}
	p, err := a.exchange.ListOrders(ctx, trading.OrderFilter{Account: "alice", OpenOnly: true})
	// The engine runs too: the order is pending until it rests on the book.
	if err != nil || len(p.Items) != 1 || (p.Items[0].Status != trading.StatusPending && p.Items[0].Status != trading.StatusOpen) {
		t.Fatalf("list %+v, %v", p, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFullFlowSettlesTrade(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testFullFlow(t, "") })
	t.Run("postgres", func(t *testing.T) { testFullFlow(t, pgtest.NewURL(t, "app")) })
}

func testFullFlow(t *testing.T, dbURL string) {
	ctx := context.Background()
	a := startApp(t, map[string]string{"DATABASE_URL": dbURL, "FEE_MAKER_BPS": "10", "FEE_TAKER_BPS": "20"})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.exchange.Deposit(ctx, "d1", "alice", "USD", 10_000_000_000)) // 10,000 USD
	must(a.exchange.Deposit(ctx, "d2", "bob", "BTC", 100_000_000))      // 1 BTC
	sell, err := a.exchange.PlaceOrder(ctx, trading.PlaceOrder{Account: "bob", Market: "BTC-USD", Side: trading.Sell,
		Type: trading.Limit, Price: 20_000_00, Quantity: 2000}) // 0.2 BTC at 20,000
	must(err)
	waitFor(t, "the sell to rest", func() bool {
		o, _ := a.exchange.GetOrder(ctx, "bob", sell.ID)
		return o.Status == trading.StatusOpen
	})
	// Alice buys 0.1 BTC with a limit of 21,000: she trades at 20,000 and the hold taken at
	// 21,000 is released in full once the order is filled.
	buy, err := a.exchange.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy,
		Type: trading.Limit, Price: 21_000_00, Quantity: 1000})
	must(err)
	waitFor(t, "the buy to fill", func() bool {
		o, _ := a.exchange.GetOrder(ctx, "alice", buy.ID)
		return o.Status == trading.StatusFilled
	})
	bal := func(acct, asset string) trading.Balance {
		b, err := a.store.Balance(ctx, acct, asset)
		must(err)
		return b
	}
	// Notional 2,000 USD. Alice (taker, 20 bps in BTC): 0.1 BTC - 0.0002 = 9,980,000 sat.
	// Bob (maker, 10 bps in USD): 2,000 - 2 = 1,998 USD.
	if b := bal("alice", "USD"); b.Total != 8_000_000_000 || b.Held != 0 {
		t.Errorf("alice USD %+v", b)
	}
	if b := bal("alice", "BTC"); b.Total != 9_980_000 {
		t.Errorf("alice BTC %+v", b)
	}
	if b := bal("bob", "USD"); b.Total != 1_998_000_000 {
		t.Errorf("bob USD %+v", b)
	}
	if b := bal("bob", "BTC"); b.Total != 90_000_000 || b.Held != 10_000_000 {
		t.Errorf("bob BTC %+v (0.1 BTC still held for the rest of his order)", b)
	}
	if b := bal("@fees", "USD"); b.Total != 2_000_000 {
		t.Errorf("fees USD %+v", b)
	}
	so, _ := a.exchange.GetOrder(ctx, "bob", sell.ID)
	if so.Status != trading.StatusPartiallyFilled || so.Filled != 1000 {
		t.Errorf("sell %+v", so)
	}
	tr, err := a.exchange.AccountTrades(ctx, "bob", "", 10)
	if err != nil || len(tr.Items) != 1 || tr.Items[0].Price != 20_000_00 {
		t.Fatalf("bob trades %+v %v", tr, err)
	}
	// Cancelling the rest releases bob's hold.
	_, err = a.exchange.CancelOrder(ctx, "bob", sell.ID)
	must(err)
	waitFor(t, "the cancel", func() bool { return bal("bob", "BTC").Held == 0 })
	tot, err := a.store.Totals(ctx)
	must(err)
	for asset, v := range tot {
		if v.Owners+v.System != 0 || v.Held != 0 || v.OpenHeld != 0 {
			t.Errorf("%s totals %+v", asset, v)
		}
	}
	tk, err := a.exchange.Ticker(ctx, "BTC-USD")
	if err != nil || tk.Last != 20_000_00 || tk.Volume24h != 1000 {
		t.Errorf("ticker %+v %v", tk, err)
	}
}

// With a durable store but the in-process broker, a restart starts a new, empty log: orders
// open in the database are cancelled and their holds released, and the engine starts afresh
// (a stale snapshot offset would otherwise make it skip the new log's first commands).
func TestRestartOnEmbeddedKafkaResetsFlow(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t, "reset")
	a := startApp(t, map[string]string{"DATABASE_URL": url})
	if err := a.exchange.Deposit(ctx, "d1", "alice", "USD", 1_000_000_000); err != nil {
		t.Fatal(err)
	}
	if err := a.exchange.Deposit(ctx, "d2", "bob", "BTC", 100_000_000); err != nil {
		t.Fatal(err)
	}
	rest, err := a.exchange.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 10_000_00, Quantity: 10})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the order to rest", func() bool {
		o, _ := a.exchange.GetOrder(ctx, "alice", rest.ID)
		return o.Status == trading.StatusOpen
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b := startApp(t, map[string]string{"DATABASE_URL": url})
	o, err := b.exchange.GetOrder(ctx, "alice", rest.ID)
	if err != nil || o.Status != trading.StatusCancelled {
		t.Fatalf("order after restart %+v %v", o, err)
	}
	if bal, _ := b.store.Balance(ctx, "alice", "USD"); bal.Held != 0 {
		t.Fatalf("hold not released: %+v", bal)
	}
	// The new log works: a crossing pair trades and settles.
	buy, err := b.exchange.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 10_000_00, Quantity: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.exchange.PlaceOrder(ctx, trading.PlaceOrder{Account: "bob", Market: "BTC-USD", Side: trading.Sell, Type: trading.Limit, Price: 10_000_00, Quantity: 10}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the trade after restart", func() bool {
		o, _ := b.exchange.GetOrder(ctx, "alice", buy.ID)
		return o.Status == trading.StatusFilled
	})
}
