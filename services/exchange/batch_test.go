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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		require.NoError(t, svc.Deposit(ctx, "d0", "dave", "USD", 1_000_000_000))
		probe := req
		probe.Account = "dave"
		_, err := svc.PlaceOrder(ctx, probe)
		require.NoError(t, err)
		b, _ := st.Balance(ctx, "dave", "USD")
		hold := b.Held
		require.NoError(t, svc.Deposit(ctx, "d1", "carol", "USD", 5*hold))

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
					assert.NoError(t, err, "place")
				}
			}()
		}
		wg.Wait()
		stop()
		relay.Wait()
		require.Equal(t, int64(5), accepted.Load(), "failFirst=%v: accepted", failFirst)
		require.Equal(t, int64(n-5), refused.Load(), "failFirst=%v: refused", failFirst)
		b, _ = st.Balance(ctx, "carol", "USD")
		require.Equal(t, 5*hold, b.Held, "carol %+v", b)
		require.Zero(t, b.Available, "carol %+v", b)
		require.NotZero(t, st.calls.Load(), "no order went through the batch writer")
		published := map[string]int{}
		for _, c := range p.sent() {
			published[c.OrderID]++
		}
		for _, id := range ids {
			if id != "" {
				require.Equal(t, 1, published[id], "order %s published %d times", id, published[id])
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
		require.NoError(t, svc.CreateAsset(ctx, a))
	}
	_, err := svc.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001", MinQty: 1, MaxQty: 1_000_000})
	require.NoError(t, err)
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
		require.NoError(t, svc.Deposit(ctx, fmt.Sprint("d", round), account, "USD", 1_000_000_000_000))
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
					assert.NoError(t, err, "place")
				}
			}()
		}
		wg.Wait()
		require.Equal(t, int64(3), accepted.Load(), "round %d: accepted for the open-order limit of 3", round)
		require.Equal(t, int64(27), limited.Load(), "round %d: refused for the open-order limit of 3", round)
	}
	require.NotZero(t, st.calls.Load(), "no order went through the batch writer")
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
		require.False(t, time.Now().After(deadline), "the group commit did not start")
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
	require.NoError(t, svc.Deposit(ctx, "d1", "frank", "USD", 1_000_000_000_000))
	req := trading.PlaceOrder{Account: "frank", ClientOrderID: "retry-1", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10}
	first, err := svc.PlaceOrder(ctx, req)
	require.NoError(t, err)
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := svc.PlaceOrder(ctx, req)
			assert.NoError(t, err, "retry %d", i)
			ids[i] = o.ID
		}()
	}
	wg.Wait()
	for i, id := range ids {
		require.Equal(t, first.ID, id, "retry %d answered another order than the first", i)
	}
	n, err := st.OpenOrderCount(ctx, "frank")
	require.NoError(t, err, "open orders after retries")
	require.Equal(t, 1, n, "open orders after retries")
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
		require.NoError(t, svc.Deposit(ctx, fmt.Sprint("dep", i), a, "USD", 1_000_000_000_000))
	}
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := trading.PlaceOrder{Account: accounts[i%len(accounts)], Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100_00, Quantity: 10}
			_, err := svc.PlaceOrder(ctx, req)
			assert.NoError(t, err, "place")
		}()
	}
	wg.Wait()
	require.GreaterOrEqual(t, st.calls.Load(), int64(2), "batches")
	require.Zero(t, st.overlaps.Load(), "times two batches of one account were recorded at once")
}
