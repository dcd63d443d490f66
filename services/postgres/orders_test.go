package postgres_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
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

// BenchmarkOrderEntryBatch measures what order entry's group commit asks of PostgreSQL for
// each order: one PreTradeAll read and one CreateOrders write per batch of 4, 16 or 64 orders
// from as many of 200 funded accounts, each with a client order id, as the load generator places them.
// The client waits for each statement, so the time per order is the server's work plus two
// round trips per batch. When the server runs on this machine it also reports the CPU time
// its backends for the benchmark's database spent per order (from /proc), which, unlike the
// wall time, does not grow when other work shares the cores.
func BenchmarkOrderEntryBatch(b *testing.B) {
	for _, batch := range []int{4, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkOrderEntry(b, batch) })
	}
}

func benchmarkOrderEntry(b *testing.B, batch int) {
	ctx := context.Background()
	db := pgtest.New(b, "entrybench")
	s := postgres.NewStore(db)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const accounts = 200
	for _, a := range []trading.Asset{{Symbol: "BTC", Scale: 8}, {Symbol: "USD", Scale: 6}} {
		require.NoError(b, s.CreateAsset(ctx, a))
	}
	_, err := s.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001",
		MinPrice: 1, MaxPrice: 1 << 40, MinQty: 1, MaxQty: 1 << 40, CreatedAt: at})
	require.NoError(b, err)
	var deposits []ledger.Transfer
	for i := range accounts {
		for _, a := range []string{"BTC", "USD"} {
			d, _ := ledger.Deposit(fmt.Sprint("d", i, a), fmt.Sprint("acct", i), a, 1<<50)
			deposits = append(deposits, d)
		}
	}
	require.NoError(b, s.ApplyAll(ctx, deposits))
	accts, mkts, clients := make([]string, batch), make([]string, batch), make([]string, batch)
	news := make([]exchange.NewOrder, batch)
	user0, sys0, cpuOK := pgtest.BackendsCPU(ctx, db)
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		for i := range batch {
			k := done + i
			id, acct := fmt.Sprintf("o%09d", k), fmt.Sprint("acct", k%accounts)
			side, asset := trading.Buy, "USD"
			if k%2 == 1 {
				side, asset = trading.Sell, "BTC"
			}
			accts[i], mkts[i], clients[i] = acct, "BTC-USD", fmt.Sprint("c", k)
			news[i] = exchange.NewOrder{Order: trading.Order{ID: id, ClientOrderID: clients[i], Account: acct, Market: "BTC-USD", Side: side,
				Type: trading.Limit, TimeInForce: trading.GTC, Price: 100, Quantity: 10, Status: trading.StatusPending, BookPrice: 100,
				BookTIF: trading.GTC, HoldAsset: asset, CreatedAt: at, UpdatedAt: at}, Hold: ledger.Reserve(id, acct, asset, 1000), OpenLimit: 1 << 30}
		}
		if _, _, err := s.PreTradeAll(ctx, accts, mkts, clients); err != nil {
			require.NoError(b, err)
		}
		res, err := s.CreateOrders(ctx, news)
		require.NoError(b, err)
		for _, r := range res {
			require.NoError(b, r.Err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/order")
	if user1, sys1, ok := pgtest.BackendsCPU(ctx, db); ok && cpuOK {
		b.ReportMetric((user1-user0).Seconds()*1e6/float64(b.N), "server-user-µs/order")
		b.ReportMetric((sys1-sys0).Seconds()*1e6/float64(b.N), "server-sys-µs/order")
	}
}

// create_orders decides each order of a batch in turn, as if the batch's orders came one by
// one: random batches (accounts short of funds or without any, repeated client order ids
// within and across batches, open-order limits) give what a sequential model of the rules
// gives, order by order, and leave the same funds held.
func TestCreateOrdersMatchesSequentialModel(t *testing.T) {
	ctx := context.Background()
	s := postgres.NewStore(pgtest.New(t, "ordersmodel"))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rng := rand.New(rand.NewPCG(7, 11))
	accounts, assets := []string{"a0", "a1", "a2", "a3", "a4"}, []string{"USD", "BTC"}
	type key struct{ account, asset string }
	funds := map[key]int64{} // available, as the model keeps it; absent: no balance at all
	held := map[key]int64{}
	for _, a := range accounts {
		for _, asset := range assets {
			if a == "a4" && asset == "BTC" {
				continue // never funded
			}
			amount := int64(rng.IntN(5000) + 1000)
			d, _ := ledger.Deposit("d-"+a+asset, a, asset, amount)
			_, err := s.Apply(ctx, d)
			require.NoError(t, err)
			funds[key{a, asset}] = amount
		}
	}
	open := map[string]int{}
	clients := map[[2]string]string{} // (account, client order id) -> order id
	next := 0
	for batch := range 40 {
		var news []exchange.NewOrder
		var want []string
		before := maps.Clone(open) // limits just above the counts at the start of the batch
		for range rng.IntN(20) + 1 {
			next++
			id, acct := fmt.Sprintf("o%04d", next), accounts[rng.IntN(len(accounts))]
			side, asset := trading.Buy, "USD"
			if rng.IntN(2) == 1 {
				side, asset = trading.Sell, "BTC"
			}
			client := ""
			if c := rng.IntN(6); c > 0 {
				client = fmt.Sprint("c", c, "-", rng.IntN(8))
			}
			limit := 0
			if rng.IntN(3) > 0 {
				limit = before[acct] + 1 + rng.IntN(3)
			}
			amount := int64(rng.IntN(600) + 1)
			news = append(news, exchange.NewOrder{Order: trading.Order{ID: id, ClientOrderID: client, Account: acct, Market: "BTC-USD", Side: side,
				Type: trading.Limit, TimeInForce: trading.GTC, Price: 100, Quantity: 10, Status: trading.StatusPending, BookPrice: 100,
				BookTIF: trading.GTC, HoldAsset: asset, CreatedAt: at, UpdatedAt: at}, Hold: ledger.Reserve(id, acct, asset, amount), OpenLimit: limit})
			k := key{acct, asset}
			avail, funded := funds[k]
			switch existing := clients[[2]string{acct, client}]; {
			case client != "" && existing != "":
				want = append(want, "="+existing)
			case limit > 0 && open[acct] >= limit:
				want = append(want, trading.ECONFLICT)
			case !funded || avail < amount:
				want = append(want, trading.EINSUFFICIENT)
			default:
				want = append(want, id)
				funds[k], held[k], open[acct] = avail-amount, held[k]+amount, open[acct]+1
				if client != "" {
					clients[[2]string{acct, client}] = id
				}
			}
		}
		res, err := s.CreateOrders(ctx, news)
		require.NoError(t, err, "batch %d", batch)
		require.Len(t, res, len(news), "batch %d", batch)
		for i, r := range res {
			switch w := want[i]; {
			case w == trading.ECONFLICT || w == trading.EINSUFFICIENT:
				assert.Equal(t, w, trading.ErrorCode(r.Err), "batch %d order %d (%s): %+v", batch, i, news[i].Order.ID, r)
			case strings.HasPrefix(w, "="):
				if assert.NoError(t, r.Err, "batch %d order %d", batch, i) {
					assert.True(t, r.Existed, "batch %d order %d: existed", batch, i)
					assert.Equal(t, w[1:], r.Order.ID, "batch %d order %d: the order its client order id names", batch, i)
				}
			default:
				if assert.NoError(t, r.Err, "batch %d order %d", batch, i) {
					assert.False(t, r.Existed, "batch %d order %d: existed", batch, i)
					assert.Equal(t, w, r.Order.ID, "batch %d order %d", batch, i)
				}
			}
		}
	}
	for _, a := range accounts {
		for _, asset := range assets {
			b, err := s.Balance(ctx, a, asset)
			require.NoError(t, err)
			assert.Equal(t, held[key{a, asset}], b.Held, "%s %s held", a, asset)
		}
		n, err := s.OpenOrderCount(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, open[a], n, "%s open orders", a)
	}
}
