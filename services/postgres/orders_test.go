package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/trading"
)

// One batch: each order is taken in turn against the funds the earlier ones left, a refused
// order changes nothing and fails no other, and a repeated client order id returns the first.
func TestCreateOrdersBatch(t *testing.T) {
	ctx := context.Background()
	s := postgres.NewStore(pgtest.New(t, "orders"))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, a := range []trading.Asset{{Symbol: "BTC", Scale: 8}, {Symbol: "USD", Scale: 6}} {
		require.NoError(t, s.CreateAsset(ctx, a))
	}
	_, err := s.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001",
		MinPrice: 1, MaxPrice: 1 << 40, MinQty: 1, MaxQty: 1 << 40, CreatedAt: at})
	require.NoError(t, err)
	d, _ := ledger.Deposit("d1", "alice", "USD", 1_000_000)
	_, err = s.Apply(ctx, d)
	require.NoError(t, err)
	order := func(id, client, account string, amount int64) exchange.NewOrder {
		return exchange.NewOrder{Order: trading.Order{ID: id, ClientOrderID: client, Account: account, Market: "BTC-USD", Side: trading.Buy,
			Type: trading.Limit, TimeInForce: trading.GTC, Price: 100, Quantity: 10, Status: trading.StatusPending, BookPrice: 100,
			BookTIF: trading.GTC, HoldAsset: "USD", CreatedAt: at, UpdatedAt: at}, Hold: ledger.Reserve(id, account, "USD", amount)}
	}
	res, err := s.CreateOrders(ctx, []exchange.NewOrder{
		order("o1", "", "alice", 600_000),
		order("o2", "", "alice", 500_000), // beyond what o1 left
		order("o3", "", "alice", 300_000), // fits after o2 was refused
		order("o4", "c1", "alice", 10),
		order("o5", "c1", "alice", 10), // same client order id as o4
		order("o6", "", "bob", 10),     // no funds at all
	})
	require.NoError(t, err)
	want := []struct {
		id      string
		existed bool
		code    string
	}{{"o1", false, ""}, {"", false, trading.EINSUFFICIENT}, {"o3", false, ""}, {"o4", false, ""}, {"o4", true, ""}, {"", false, trading.EINSUFFICIENT}}
	require.Len(t, res, len(want), "one result per order")
	for i, w := range want {
		r := res[i]
		if w.code != "" {
			assert.Equal(t, w.code, trading.ErrorCode(r.Err), "order %d: err %v", i, r.Err)
			continue
		}
		if assert.NoError(t, r.Err, "order %d", i) {
			assert.Equal(t, w.id, r.Order.ID, "order %d", i)
			assert.Equal(t, w.existed, r.Existed, "order %d existed", i)
		}
	}
	b, _ := s.Balance(ctx, "alice", "USD")
	require.Equal(t, int64(900_010), b.Held, "alice %+v", b)
	require.Equal(t, int64(1_000_000), b.Total, "alice %+v", b)
	for _, id := range []string{"o2", "o5"} {
		_, err := s.Order(ctx, "alice", id)
		assert.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "order %s recorded: %v", id, err)
	}
	_, err = s.Hold(ctx, "o2")
	assert.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "refused order's hold: %v", err)
	h, err := s.Hold(ctx, "o3")
	if assert.NoError(t, err, "hold o3") {
		assert.Equal(t, int64(300_000), h.Remaining, "hold o3 %+v", h)
		assert.False(t, h.Closed, "hold o3 %+v", h)
	}
	tot, err := s.Totals(ctx)
	require.NoError(t, err, "totals")
	require.Equal(t, tot["USD"].OpenHeld, tot["USD"].Held, "totals %+v", tot)
	require.Equal(t, int64(1_000_000), tot["USD"].Owners, "totals %+v", tot)
	// The open-order count the pre-trade check reads is kept by counters: it agrees with a
	// count of the orders, here and after a reset cancels them all.
	wantOpen := func(account string, n int) {
		t.Helper()
		st, err := s.PreTrade(ctx, account, "BTC-USD")
		require.NoError(t, err)
		exact, err := s.OpenOrderCount(ctx, account)
		require.NoError(t, err, "%s: count of open orders", account)
		require.Equal(t, n, st.OpenOrders, "%s: pre-trade open orders", account)
		require.Equal(t, n, exact, "%s: counted open orders", account)
	}
	wantOpen("alice", 3)
	wantOpen("bob", 0)
	// The batch's pre-trade read finds the order a client order id already names, for its
	// account only.
	_, existing, err := s.PreTradeAll(ctx, []string{"alice", "alice", "alice", "bob"}, []string{"BTC-USD", "BTC-USD", "BTC-USD", "BTC-USD"},
		[]string{"c1", "", "c2", "c1"})
	require.NoError(t, err, "existing orders by client order id")
	require.Equal(t, []string{"o4", "", "", ""}, existing, "existing orders by client order id")
	n, err := s.ResetFlow(ctx, "test", at)
	require.NoError(t, err, "reset")
	require.Equal(t, 3, n, "reset cancelled")
	wantOpen("alice", 0)
}

// Concurrent batches of one account cannot pass its open-order limit together: create_orders
// counts open orders under a lock on the account's counter.
func TestCreateOrdersOpenLimitAcrossBatches(t *testing.T) {
	ctx := context.Background()
	s := postgres.NewStore(pgtest.New(t, "openlimit"))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, asset := range []string{"USD", "BTC"} {
		d, _ := ledger.Deposit("d-"+asset, "alice", asset, 1_000_000_000)
		_, err := s.Apply(ctx, d)
		require.NoError(t, err)
	}
	var mu sync.Mutex
	recorded, limited := 0, 0
	var wg sync.WaitGroup
	for b := 0; b < 8; b++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Buys hold USD and sells BTC: batches of both lock different reservation rows.
			side, asset := trading.Buy, "USD"
			if b%2 == 1 {
				side, asset = trading.Sell, "BTC"
			}
			var batch []exchange.NewOrder
			for i := 0; i < 4; i++ {
				id := fmt.Sprintf("o%d-%d", b, i)
				batch = append(batch, exchange.NewOrder{Order: trading.Order{ID: id, Account: "alice", Market: "BTC-USD", Side: side,
					Type: trading.Limit, TimeInForce: trading.GTC, Price: 100, Quantity: 10, Status: trading.StatusPending, BookPrice: 100,
					BookTIF: trading.GTC, HoldAsset: asset, CreatedAt: at, UpdatedAt: at}, Hold: ledger.Reserve(id, "alice", asset, 1000), OpenLimit: 10})
			}
			res, err := s.CreateOrders(ctx, batch)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range res {
				switch {
				case r.Err == nil:
					recorded++
				case trading.ErrorCode(r.Err) == trading.ECONFLICT:
					limited++
				default:
					assert.NoError(t, r.Err, "order")
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 10, recorded, "recorded of 32 with a limit of 10")
	require.Equal(t, 22, limited, "refused of 32 with a limit of 10")
	n, err := s.OpenOrderCount(ctx, "alice")
	require.NoError(t, err, "open orders")
	require.Equal(t, 10, n, "open orders")
	usd, _ := s.Balance(ctx, "alice", "USD")
	btc, _ := s.Balance(ctx, "alice", "BTC")
	require.Equal(t, int64(10_000), usd.Held+btc.Held, "held %d USD and %d BTC, want 10000 in all: a refused order reserved funds", usd.Held, btc.Held)
}
