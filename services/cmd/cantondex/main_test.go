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
	assert.False(t, a.durable, "embedded defaults reported durable")
	require.NoError(t, a.Ready(ctx))
	require.NoError(t, a.exchange.Deposit(ctx, "dep1", "alice", "USD", 1_000_000_000)) // 1000 USD
	req := trading.PlaceOrder{Account: "alice", ClientOrderID: "c1", Market: "BTC-USD", Side: trading.Buy,
		Type: trading.Limit, Price: 50_000_00, Quantity: 1000} // 0.1 BTC at 50,000.00 = 5,000 USD
	_, err := a.exchange.PlaceOrder(ctx, req)
	require.Equal(t, trading.EINSUFFICIENT, trading.ErrorCode(err), "order beyond balance: %v", err)
	req.Quantity = 100 // 0.01 BTC = 500 USD
	o, err := a.exchange.PlaceOrder(ctx, req)
	require.NoError(t, err)
	again, err := a.exchange.PlaceOrder(ctx, req)
	require.NoError(t, err, "repeat client order id")
	require.Equal(t, o.ID, again.ID, "repeat client order id")
	bals, err := a.exchange.Balances(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, bals, 1, "balances %+v", bals)
	require.Equal(t, int64(500_000_000), bals[0].Held, "held %+v", bals[0])
	require.Equal(t, int64(500_000_000), bals[0].Available, "available %+v", bals[0])
	_, err = a.exchange.GetOrder(ctx, "bob", o.ID)
	require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "another account's order: %v", err)
	p, err := a.exchange.ListOrders(ctx, trading.OrderFilter{Account: "alice", OpenOnly: true})
	require.NoError(t, err)
	require.Len(t, p.Items, 1, "list %+v", p)
	// The engine runs too: the order is pending until it rests on the book.
	require.Contains(t, []trading.OrderStatus{trading.StatusPending, trading.StatusOpen}, p.Items[0].Status, "listed order %+v", p.Items[0])
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		require.False(t, time.Now().After(deadline), "timed out waiting for %s", what)
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
		require.NoError(t, err)
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
	aliceUSD := bal("alice", "USD")
	assert.Equal(t, int64(8_000_000_000), aliceUSD.Total, "alice USD total")
	assert.Equal(t, int64(0), aliceUSD.Held, "alice USD held")
	assert.Equal(t, int64(9_980_000), bal("alice", "BTC").Total, "alice BTC total")
	assert.Equal(t, int64(1_998_000_000), bal("bob", "USD").Total, "bob USD total")
	bobBTC := bal("bob", "BTC")
	assert.Equal(t, int64(90_000_000), bobBTC.Total, "bob BTC total")
	assert.Equal(t, int64(10_000_000), bobBTC.Held, "bob BTC held (0.1 BTC still held for the rest of his order)")
	assert.Equal(t, int64(2_000_000), bal("@fees", "USD").Total, "fees USD total")
	so, _ := a.exchange.GetOrder(ctx, "bob", sell.ID)
	assert.Equal(t, trading.StatusPartiallyFilled, so.Status, "sell %+v", so)
	assert.Equal(t, int64(1000), so.Filled, "sell %+v", so)
	tr, err := a.exchange.AccountTrades(ctx, "bob", "", 10)
	require.NoError(t, err)
	require.Len(t, tr.Items, 1, "bob trades %+v", tr)
	require.Equal(t, int64(20_000_00), tr.Items[0].Price, "bob trade price")
	// Cancelling the rest releases bob's hold.
	_, err = a.exchange.CancelOrder(ctx, "bob", sell.ID)
	must(err)
	waitFor(t, "the cancel", func() bool { return bal("bob", "BTC").Held == 0 })
	tot, err := a.store.Totals(ctx)
	must(err)
	for asset, v := range tot {
		assert.Zero(t, v.Owners+v.System, "%s totals %+v: owners and system do not balance", asset, v)
		assert.Zero(t, v.Held, "%s totals %+v: held", asset, v)
		assert.Zero(t, v.OpenHeld, "%s totals %+v: open holds", asset, v)
	}
	tk, err := a.exchange.Ticker(ctx, "BTC-USD")
	if assert.NoError(t, err, "ticker") {
		assert.Equal(t, int64(20_000_00), tk.Last, "ticker last")
		assert.Equal(t, int64(1000), tk.Volume24h, "ticker 24h volume")
	}
}

// With a durable store but the in-process broker, a restart starts a new, empty log: orders
// open in the database are cancelled and their holds released, and the engine starts afresh
// (a stale snapshot offset would otherwise make it skip the new log's first commands).
func TestRestartOnEmbeddedKafkaResetsFlow(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t, "reset")
	a := startApp(t, map[string]string{"DATABASE_URL": url})
	require.NoError(t, a.exchange.Deposit(ctx, "d1", "alice", "USD", 1_000_000_000))
	require.NoError(t, a.exchange.Deposit(ctx, "d2", "bob", "BTC", 100_000_000))
	rest, err := a.exchange.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 10_000_00, Quantity: 10})
	require.NoError(t, err)
	waitFor(t, "the order to rest", func() bool {
		o, _ := a.exchange.GetOrder(ctx, "alice", rest.ID)
		return o.Status == trading.StatusOpen
	})
	require.NoError(t, a.Close())

	b := startApp(t, map[string]string{"DATABASE_URL": url})
	o, err := b.exchange.GetOrder(ctx, "alice", rest.ID)
	require.NoError(t, err, "order after restart")
	require.Equal(t, trading.StatusCancelled, o.Status, "order after restart %+v", o)
	bal, _ := b.store.Balance(ctx, "alice", "USD")
	require.Zero(t, bal.Held, "hold not released: %+v", bal)
	// The new log works: a crossing pair trades and settles.
	buy, err := b.exchange.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 10_000_00, Quantity: 10})
	require.NoError(t, err)
	_, err = b.exchange.PlaceOrder(ctx, trading.PlaceOrder{Account: "bob", Market: "BTC-USD", Side: trading.Sell, Type: trading.Limit, Price: 10_000_00, Quantity: 10})
	require.NoError(t, err)
	waitFor(t, "the trade after restart", func() bool {
		o, _ := b.exchange.GetOrder(ctx, "alice", buy.ID)
		return o.Status == trading.StatusFilled
	})
}
