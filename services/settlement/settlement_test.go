package settlement_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/trading"
)

var mkt = trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"}

type fixture struct {
	t     *testing.T
	store *memory.Store
	svc   *settlement.Service
}

func newFixture(t *testing.T) *fixture {
	ctx := context.Background()
	s := memory.New()
	for _, a := range []trading.Asset{{Symbol: "BTC", Scale: 8}, {Symbol: "USD", Scale: 6}} {
		if err := s.CreateAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateMarket(ctx, mkt); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		acct, asset string
		amt         int64
	}{{"buyer", "USD", 1_000_000_000}, {"seller", "BTC", 100_000_000}} {
		tr, _ := ledger.Deposit("d-"+d.acct, d.acct, d.asset, d.amt)
		if _, err := s.Apply(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{t: t, store: s, svc: &settlement.Service{Store: s, Fees: settlement.Fees{MakerBps: 10, TakerBps: 20}}}
}

// order records an order with its hold as order entry would.
func (f *fixture) order(id, acct string, side trading.Side, price, qty int64) {
	f.t.Helper()
	asset, amount := "BTC", qty*10_000 // 1 lot = 10^4 sat
	if side == trading.Buy {
		asset, amount = "USD", price*qty // 1 tick*lot = 10^-6 USD
	}
	o := trading.Order{ID: id, Account: acct, Market: mkt.Symbol, Side: side, Type: trading.Limit, Price: price, Quantity: qty,
		Status: trading.StatusPending, BookPrice: price, BookTIF: trading.GTC, HoldAsset: asset}
	if _, _, err := f.store.CreateOrder(context.Background(), o, ledger.Reserve(id, acct, asset, amount)); err != nil {
		f.t.Fatal(err)
	}
}

// readsStore records the order ids each OrdersByID call asks for.
type readsStore struct {
	*memory.Store
	ids [][]string
}

func (r *readsStore) OrdersByID(ctx context.Context, ids []string) (map[string]trading.Order, error) {
	r.ids = append(r.ids, slices.Clone(ids))
	return r.Store.OrdersByID(ctx, ids)
}

func (f *fixture) bal(acct, asset string) trading.Balance {
	b, _ := f.store.Balance(context.Background(), acct, asset)
	return b
}

func TestSettlesTradesOnceAndReleasesHolds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.order("s1", "seller", trading.Sell, 10_000_00, 100) // 0.01 BTC at 10,000.00
	f.order("b1", "buyer", trading.Buy, 10_100_00, 150)   // 0.015 BTC up to 10,100.00
	at := time.Unix(1_700_000_000, 0).UTC()
	trade := &trading.Trade{ID: "BTC-USD:2:1", Market: mkt.Symbol, Price: 10_000_00, Quantity: 100, MakerOrderID: "s1",
		TakerOrderID: "b1", MakerAccount: "seller", TakerAccount: "buyer", TakerSide: trading.Buy, Seq: 2, ExecutedAt: at}
	xs := []trading.Execution{
		{ID: "BTC-USD:1", Market: mkt.Symbol, Seq: 1, Command: trading.OpNew, OrderID: "s1", ExecutedAt: at,
			Events: []trading.ExecEvent{{Type: trading.ExecAccepted, OrderID: "s1", Account: "seller", Remaining: 100}}},
		{ID: "BTC-USD:2", Market: mkt.Symbol, Seq: 2, Command: trading.OpNew, OrderID: "b1", ExecutedAt: at, Events: []trading.ExecEvent{
			{Type: trading.ExecAccepted, OrderID: "b1", Account: "buyer", Remaining: 150},
			{Type: trading.ExecTrade, OrderID: "b1", Account: "buyer", Remaining: 50, MakerRemaining: 0, Trade: trade},
		}},
		{ID: "BTC-USD:3", Market: mkt.Symbol, Seq: 3, Command: trading.OpCancel, OrderID: "b1", ExecutedAt: at, Events: []trading.ExecEvent{
			{Type: trading.ExecCancelled, OrderID: "b1", Account: "buyer", Reason: "user_cancel"},
		}},
	}
	reads := &readsStore{Store: f.store}
	f.svc.Store = reads
	// Delivered once, then again in full, then the tail again: the effect is the same.
	for _, batch := range [][]trading.Execution{xs[:2], xs, xs[1:]} {
		if err := f.svc.Handle(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Each batch reads each order it names once.
	if len(reads.ids) == 0 || fmt.Sprint(reads.ids[0]) != "[s1 b1]" {
		t.Errorf("orders read for the first batch: %q", reads.ids)
	}
	for _, ids := range reads.ids {
		if len(ids) != len(slices.Compact(slices.Sorted(slices.Values(ids)))) {
			t.Errorf("an order read twice in one batch: %q", ids)
		}
	}
	// Notional 0.01 BTC * 10,000 = 100 USD. Buyer (taker) pays 100 USD, gets 0.01 BTC less
	// 20 bps; seller (maker) gets 100 USD less 10 bps. The buyer's hold (151.5 USD) is gone:
	// 101 USD consumed or released by the fill, the rest released by the cancel.
	if b := f.bal("buyer", "USD"); b.Total != 900_000_000 || b.Held != 0 {
		t.Errorf("buyer USD %+v", b)
	}
	if b := f.bal("buyer", "BTC"); b.Total != 998_000 {
		t.Errorf("buyer BTC %+v", b)
	}
	if b := f.bal("seller", "USD"); b.Total != 99_900_000 {
		t.Errorf("seller USD %+v", b)
	}
	if b := f.bal("seller", "BTC"); b.Total != 99_000_000 || b.Held != 0 {
		t.Errorf("seller BTC %+v", b)
	}
	if b := f.bal(ledger.Fees, "USD"); b.Total != 100_000 {
		t.Errorf("fees USD %+v", b)
	}
	s1, _ := f.store.Order(ctx, "seller", "s1")
	b1, _ := f.store.Order(ctx, "buyer", "b1")
	if s1.Status != trading.StatusFilled || s1.Filled != 100 || b1.Status != trading.StatusCancelled || b1.Filled != 100 {
		t.Errorf("orders %+v / %+v", s1, b1)
	}
	ps, _ := f.store.Positions(ctx, "buyer")
	if len(ps) != 1 || ps[0].Base != 998_000 || ps[0].QuoteNet != -100_000_000 {
		t.Errorf("buyer positions %+v", ps)
	}
	p, _ := f.store.AccountTrades(ctx, "buyer", "", 10)
	if len(p.Items) != 1 {
		t.Errorf("buyer trades %+v", p.Items)
	}
}

func TestRejectedOrderReleasesHoldButRejectedCancelDoesNot(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.order("b1", "buyer", trading.Buy, 10_000_00, 10)
	f.order("b2", "buyer", trading.Buy, 10_000_00, 10)
	xs := []trading.Execution{
		{ID: "m:1", Market: mkt.Symbol, Seq: 1, Command: trading.OpNew, OrderID: "b1",
			Events: []trading.ExecEvent{{Type: trading.ExecRejected, OrderID: "b1", Reason: "post_only_would_take"}}},
		{ID: "m:2", Market: mkt.Symbol, Seq: 2, Command: trading.OpNew, OrderID: "b2",
			Events: []trading.ExecEvent{{Type: trading.ExecAccepted, OrderID: "b2", Account: "buyer", Remaining: 10}}},
		{ID: "m:3", Market: mkt.Symbol, Seq: 3, Command: trading.OpCancel, OrderID: "b2",
			Events: []trading.ExecEvent{{Type: trading.ExecRejected, OrderID: "b2", Reason: "unknown_order"}}},
	}
	if err := f.svc.Handle(ctx, xs); err != nil {
		t.Fatal(err)
	}
	b1, _ := f.store.Order(ctx, "buyer", "b1")
	b2, _ := f.store.Order(ctx, "buyer", "b2")
	if b1.Status != trading.StatusRejected || b2.Status != trading.StatusOpen {
		t.Fatalf("statuses %s %s", b1.Status, b2.Status)
	}
	if b := f.bal("buyer", "USD"); b.Held != 10_000_000 {
		t.Fatalf("held %d, want only b2's 10 USD", b.Held)
	}
}

func TestTradeTransferSellerTakes(t *testing.T) {
	u, _ := trading.NewUnits(mkt, trading.Asset{Symbol: "BTC", Scale: 8}, trading.Asset{Symbol: "USD", Scale: 6})
	maker := trading.Order{ID: "m", Account: "alice", BookPrice: 10_000_00} // resting buy
	taker := trading.Order{ID: "t", Account: "bob"}
	tr, buyer, seller, err := settlement.TradeTransfer(trading.Trade{ID: "x", Price: 9_900_00, Quantity: 10, TakerSide: trading.Sell},
		maker, taker, mkt, u, settlement.Fees{MakerBps: 10, TakerBps: 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.Validate(tr); err != nil {
		t.Fatalf("unbalanced: %v", err)
	}
	// The buyer is the maker (10 bps in BTC); the seller the taker (20 bps in USD). The
	// buyer's hold was taken at 10,000.00, so 10 lots consume 10,000.00*10 of it.
	if buyer.Account != "alice" || buyer.Base != 100_000-100 || buyer.QuoteNet != -9_900_000 {
		t.Errorf("buyer %+v", buyer)
	}
	if seller.Account != "bob" || seller.Base != -100_000 || seller.QuoteNet != 9_900_000-19_800 {
		t.Errorf("seller %+v", seller)
	}
	if tr.Holds[0].Hold != "m" || tr.Holds[0].Amount != -10_000_000 {
		t.Errorf("buyer hold op %+v", tr.Holds[0])
	}
}

// Fees round toward the venue: the smallest trade pays one minor unit of fee, and a trade
// never pays less than the rate.
func TestFeesRoundTowardTheVenue(t *testing.T) {
	u, err := trading.NewUnits(mkt, trading.Asset{Symbol: "BTC", Scale: 8}, trading.Asset{Symbol: "USD", Scale: 6})
	require.NoError(t, err)
	maker := trading.Order{ID: "m", Account: "alice"}
	taker := trading.Order{ID: "t", Account: "bob", BookPrice: 3}
	// Lots of 10^4 BTC minor units; one tick times one lot is one USD minor unit.
	for _, tc := range []struct {
		bps, ticks, lots, wantBase, wantQuote int64
	}{
		{10, 1, 1, 10, 1},          // 10 bps of 1 USD unit is 0.001: one unit, not zero
		{7, 3, 1, 7, 1},            // 0.0021 rounds up to 1
		{1, 3, 5, 5, 1},            // 50,000 BTC units: 5 exactly; 15 USD units: 0.0015 -> 1
		{25, 1, 10000, 250000, 25}, // exact amounts stay exact
	} {
		_, buyer, seller, err := settlement.TradeTransfer(trading.Trade{ID: "x", Price: tc.ticks, Quantity: tc.lots, TakerSide: trading.Buy},
			maker, taker, mkt, u, settlement.Fees{MakerBps: tc.bps, TakerBps: tc.bps})
		require.NoError(t, err)
		assert.Equal(t, tc.wantBase, tc.lots*10_000-buyer.Base, "base fee at %d bps", tc.bps)
		assert.Equal(t, tc.wantQuote, tc.ticks*tc.lots-seller.QuoteNet, "quote fee at %d bps", tc.bps)
	}
}
