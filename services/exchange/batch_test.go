package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/trading"
)

// batchStore records batches through the memory store, one order at a time; its first call
// fails as a whole when failFirst is set.
type batchStore struct {
	*memory.Store
	calls     atomic.Int64
	orders    atomic.Int64
	failFirst bool
	mu        sync.Mutex
}

func (b *batchStore) CreateOrders(ctx context.Context, os []exchange.NewOrder) ([]exchange.Recorded, error) {
	if b.calls.Add(1) == 1 && b.failFirst {
		return nil, errors.New("connection lost")
	}
	b.mu.Lock() // a batch is atomic, as create_orders' locks make it on PostgreSQL
	defer b.mu.Unlock()
	b.orders.Add(int64(len(os)))
	out := make([]exchange.Recorded, len(os))
	for i, n := range os {
		open, err := b.OpenOrderCount(ctx, n.Order.Account)
		if err == nil && n.OpenLimit > 0 && open >= n.OpenLimit {
			err = trading.Errorf(trading.ECONFLICT, "too many open orders (limit %d)", n.OpenLimit)
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		o, existed, err := b.CreateOrder(ctx, n.Order, n.Hold)
		out[i] = exchange.Recorded{Order: o, Existed: existed, Err: err}
	}
	return out, nil
}

func (b *batchStore) PreTradeAll(ctx context.Context, accounts, markets, clients []string) ([]risk.State, []string, error) {
	states, existing := make([]risk.State, len(accounts)), make([]string, len(accounts))
	for i := range accounts {
		st, err := b.PreTrade(ctx, accounts[i], markets[i])
		if err != nil {
			return nil, nil, err
		}
		states[i] = st
		if clients[i] == "" {
			continue
		}
		switch o, err := b.OrderByClientID(ctx, accounts[i], clients[i]); {
		case err == nil:
			existing[i] = o.ID
		case trading.ErrorCode(err) != trading.ENOTFOUND:
			return nil, nil, err
		}
	}
	return states, existing, nil
}

// While Relay runs, concurrent orders go through the batch writer; each caller gets its own
// result, funds are taken order by order, and every accepted order is published once.
func TestPlaceOrderGroupCommit(t *testing.T) {
	for _, failFirst := range []bool{false, true} {
		ctx := context.Background()
		st := &batchStore{Store: memory.New(), failFirst: failFirst}
		p := &pub{}
		svc := newBatchService(t, st, p, risk.Limits{PriceBandBps: 1000})
		req := trading.PlaceOrder{Account: "carol", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10}
		// One order's hold, measured on another account before the writer runs.
		if err := svc.Deposit(ctx, "d0", "dave", "USD", 1_000_000_000); err != nil {
			t.Fatal(err)
		}
		probe := req
		probe.Account = "dave"
		if _, err := svc.PlaceOrder(ctx, probe); err != nil {
			t.Fatal(err)
		}
		b, _ := st.Balance(ctx, "dave", "USD")
		hold := b.Held
		if err := svc.Deposit(ctx, "d1", "carol", "USD", 5*hold); err != nil {
			t.Fatal(err)
		}

		rctx, stop := context.WithCancel(ctx)
		var relay sync.WaitGroup
		relay.Add(1)
		go func() { defer relay.Done(); svc.Relay(rctx) }()
		waitBatching(t, svc)

		const n = 40
		var accepted, refused atomic.Int64
		var wg sync.WaitGroup
		ids := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := svc.PlaceOrder(ctx, req)
				switch {
				case err == nil:
					accepted.Add(1)
					ids[i] = o.ID
				case trading.ErrorCode(err) == trading.EINSUFFICIENT:
					refused.Add(1)
				default:
					t.Errorf("place: %v", err)
				}
			}()
		}
		wg.Wait()
		stop()
		relay.Wait()
		if accepted.Load() != 5 || refused.Load() != n-5 {
			t.Fatalf("failFirst=%v: %d accepted, %d refused; want 5 and %d", failFirst, accepted.Load(), refused.Load(), n-5)
		}
		if b, _ := st.Balance(ctx, "carol", "USD"); b.Held != 5*hold || b.Available != 0 {
			t.Fatalf("carol %+v, want held %d", b, 5*hold)
		}
		if st.calls.Load() == 0 {
			t.Fatal("no order went through the batch writer")
		}
		published := map[string]int{}
		for _, c := range p.sent() {
			published[c.OrderID]++
		}
		for _, id := range ids {
			if id != "" && published[id] != 1 {
				t.Fatalf("order %s published %d times", id, published[id])
			}
		}
		t.Logf("failFirst=%v: %d batch calls for %d orders", failFirst, st.calls.Load(), st.orders.Load())
	}
}

func newBatchService(t *testing.T, st exchange.Store, p *pub, limits risk.Limits) *exchange.Service {
	t.Helper()
	ctx := context.Background()
	svc := exchange.New(st, p, books{trading.Book{Bids: []trading.Level{{Price: 99_00}}, Asks: []trading.Level{{Price: 101_00}}}},
		limits, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, a := range []trading.Asset{{Symbol: "BTC", Scale: 8}, {Symbol: "USD", Scale: 6}} {
		if err := svc.CreateAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001", MinQty: 1, MaxQty: 1_000_000}); err != nil {
		t.Fatal(err)
	}
	return svc
}

// The batch writer reads each account's open-order count once per batch: orders of one
// account in one batch count the ones before them, so the limit holds however they are
// batched.
func TestGroupCommitKeepsOpenOrderLimit(t *testing.T) {
	ctx := context.Background()
	st := &batchStore{Store: memory.New()}
	svc := newBatchService(t, st, &pub{}, risk.Limits{PriceBandBps: 1000, MaxOpenOrders: 3})
	startBatching(t, svc)
	for round := 1; round <= 5; round++ { // a race shows in some rounds, not all
		account := fmt.Sprint("erin", round)
		if err := svc.Deposit(ctx, fmt.Sprint("d", round), account, "USD", 1_000_000_000_000); err != nil {
			t.Fatal(err)
		}
		var accepted, limited atomic.Int64
		var wg sync.WaitGroup
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := svc.PlaceOrder(ctx, trading.PlaceOrder{Account: account, Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10})
				switch {
				case err == nil:
					accepted.Add(1)
				case trading.ErrorCode(err) == trading.ECONFLICT:
					limited.Add(1)
				default:
					t.Errorf("place: %v", err)
				}
			}()
		}
		wg.Wait()
		if accepted.Load() != 3 || limited.Load() != 27 {
			t.Fatalf("round %d: %d accepted and %d refused for the open-order limit of 3", round, accepted.Load(), limited.Load())
		}
	}
	if st.calls.Load() == 0 {
		t.Fatal("no order went through the batch writer")
	}
}

// startBatching runs svc's Relay until the test ends and waits until it has started the
// group commit.
func startBatching(t *testing.T, svc *exchange.Service) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	var relay sync.WaitGroup
	relay.Add(1)
	go func() { defer relay.Done(); svc.Relay(ctx) }()
	t.Cleanup(func() { stop(); relay.Wait() })
	waitBatching(t, svc)
}

// waitBatching waits until svc's Relay has started the group commit.
func waitBatching(t *testing.T, svc *exchange.Service) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !svc.Batching(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the group commit did not start")
		}
	}
}

// A retried order (the same client order id) is answered with the order it created, even
// when the account could not place another (here: at its open-order limit), whether it
// comes in a later batch or in the same one, and nothing else is recorded.
func TestGroupCommitRetriedClientOrderID(t *testing.T) {
	ctx := context.Background()
	st := &batchStore{Store: memory.New()}
	svc := newBatchService(t, st, &pub{}, risk.Limits{PriceBandBps: 1000, MaxOpenOrders: 1})
	startBatching(t, svc)
	if err := svc.Deposit(ctx, "d1", "frank", "USD", 1_000_000_000_000); err != nil {
		t.Fatal(err)
	}
	req := trading.PlaceOrder{Account: "frank", ClientOrderID: "retry-1", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10}
	first, err := svc.PlaceOrder(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := svc.PlaceOrder(ctx, req)
			if err != nil {
				t.Errorf("retry %d: %v", i, err)
			}
			ids[i] = o.ID
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if id != first.ID {
			t.Fatalf("retry %d answered order %q, want the first order %q", i, id, first.ID)
		}
	}
	if n, err := st.OpenOrderCount(ctx, "frank"); err != nil || n != 1 {
		t.Fatalf("open orders after retries: %d, %v", n, err)
	}
}

// overlapStore counts the moments when two batches with orders of one account are being
// recorded at once.
type overlapStore struct {
	*batchStore
	mu       sync.Mutex
	active   map[string]int
	overlaps atomic.Int64
}

func (o *overlapStore) CreateOrders(ctx context.Context, os []exchange.NewOrder) ([]exchange.Recorded, error) {
	accounts := map[string]bool{}
	for _, n := range os {
		accounts[n.Order.Account] = true
	}
	o.mu.Lock()
	for a := range accounts {
		if o.active[a]++; o.active[a] > 1 {
			o.overlaps.Add(1)
		}
	}
	o.mu.Unlock()
	time.Sleep(time.Millisecond) // a commit's length: room for another writer to overlap
	defer func() {
		o.mu.Lock()
		for a := range accounts {
			o.active[a]--
		}
		o.mu.Unlock()
	}()
	return o.batchStore.CreateOrders(ctx, os)
}

// Each account belongs to one batch writer: however many orders of a few accounts arrive at
// once, no two batches holding orders of one account are recorded side by side (they would
// wait for each other's row locks on PostgreSQL).
func TestGroupCommitWritersOwnTheirAccounts(t *testing.T) {
	ctx := context.Background()
	st := &overlapStore{batchStore: &batchStore{Store: memory.New()}, active: map[string]int{}}
	svc := newBatchService(t, st, &pub{}, risk.Limits{PriceBandBps: 1000})
	startBatching(t, svc)
	accounts := []string{"gina", "hal", "ivy", "jo"}
	for i, a := range accounts {
		if err := svc.Deposit(ctx, fmt.Sprint("dep", i), a, "USD", 1_000_000_000_000); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := trading.PlaceOrder{Account: accounts[i%len(accounts)], Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10}
			if _, err := svc.PlaceOrder(ctx, req); err != nil {
				t.Errorf("place: %v", err)
			}
		}()
	}
	wg.Wait()
	if st.calls.Load() < 2 || st.overlaps.Load() != 0 {
		t.Fatalf("%d batches; %d times two batches of one account were recorded at once", st.calls.Load(), st.overlaps.Load())
	}
}
