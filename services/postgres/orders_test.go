package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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
		if err := s.CreateAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001",
		MinPrice: 1, MaxPrice: 1 << 40, MinQty: 1, MaxQty: 1 << 40, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	d, _ := ledger.Deposit("d1", "alice", "USD", 1_000_000)
	if _, err := s.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      string
		existed bool
		code    string
	}{{"o1", false, ""}, {"", false, trading.EINSUFFICIENT}, {"o3", false, ""}, {"o4", false, ""}, {"o4", true, ""}, {"", false, trading.EINSUFFICIENT}}
	for i, w := range want {
		r := res[i]
		if trading.ErrorCode(r.Err) != w.code && !(w.code == "" && r.Err == nil) || (w.code == "" && (r.Order.ID != w.id || r.Existed != w.existed)) {
			t.Errorf("order %d: got %+v existed=%v err=%v, want id %q existed=%v code %q", i, r.Order.ID, r.Existed, r.Err, w.id, w.existed, w.code)
		}
	}
	if b, _ := s.Balance(ctx, "alice", "USD"); b.Held != 900_010 || b.Total != 1_000_000 {
		t.Fatalf("alice %+v, want held 900010", b)
	}
	for _, id := range []string{"o2", "o5"} {
		if _, err := s.Order(ctx, "alice", id); trading.ErrorCode(err) != trading.ENOTFOUND {
			t.Errorf("order %s recorded: %v", id, err)
		}
	}
	if _, err := s.Hold(ctx, "o2"); trading.ErrorCode(err) != trading.ENOTFOUND {
		t.Errorf("refused order's hold: %v", err)
	}
	if h, err := s.Hold(ctx, "o3"); err != nil || h.Remaining != 300_000 || h.Closed {
		t.Errorf("hold o3 %+v %v", h, err)
	}
	tot, err := s.Totals(ctx)
	if err != nil || tot["USD"].Held != tot["USD"].OpenHeld || tot["USD"].Owners != 1_000_000 {
		t.Fatalf("totals %+v %v", tot, err)
	}
	// The open-order count the pre-trade check reads is kept by counters: it agrees with a
	// count of the orders, here and after a reset cancels them all.
	wantOpen := func(account string, n int) {
		t.Helper()
		st, err := s.PreTrade(ctx, account, "BTC-USD")
		if err != nil {
			t.Fatal(err)
		}
		exact, err := s.OpenOrderCount(ctx, account)
		if err != nil || st.OpenOrders != n || exact != n {
			t.Fatalf("%s: pre-trade open orders %d, counted %d (%v), want %d", account, st.OpenOrders, exact, err, n)
		}
	}
	wantOpen("alice", 3)
	wantOpen("bob", 0)
	// The batch's pre-trade read finds the order a client order id already names, for its
	// account only.
	_, existing, err := s.PreTradeAll(ctx, []string{"alice", "alice", "alice", "bob"}, []string{"BTC-USD", "BTC-USD", "BTC-USD", "BTC-USD"},
		[]string{"c1", "", "c2", "c1"})
	if err != nil || fmt.Sprint(existing) != fmt.Sprint([]string{"o4", "", "", ""}) {
		t.Fatalf("existing orders by client order id: %q, %v", existing, err)
	}
	if n, err := s.ResetFlow(ctx, "test", at); err != nil || n != 3 {
		t.Fatalf("reset cancelled %d: %v", n, err)
	}
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
		if _, err := s.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
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
			if err != nil {
				t.Error(err)
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
					t.Errorf("order: %v", r.Err)
				}
			}
		}()
	}
	wg.Wait()
	if recorded != 10 || limited != 22 {
		t.Fatalf("%d recorded and %d refused of 32 with a limit of 10", recorded, limited)
	}
	if n, err := s.OpenOrderCount(ctx, "alice"); err != nil || n != 10 {
		t.Fatalf("open orders %d %v", n, err)
	}
	usd, _ := s.Balance(ctx, "alice", "USD")
	btc, _ := s.Balance(ctx, "alice", "BTC")
	if usd.Held+btc.Held != 10_000 {
		t.Fatalf("held %d USD and %d BTC, want 10000 in all: a refused order reserved funds", usd.Held, btc.Held)
	}
}
