package settlement_test

import (
	"context"
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
		require.NoError(t, s.CreateAsset(ctx, a))
	}
	_, err := s.CreateMarket(ctx, mkt)
	require.NoError(t, err)
	for _, d := range []struct {
		acct, asset string
		amt         int64
	}{{"buyer", "USD", 1_000_000_000}, {"seller", "BTC", 100_000_000}} {
		tr, err := ledger.Deposit("d-"+d.acct, d.acct, d.asset, d.amt)
		require.NoError(t, err)
		_, err = s.Apply(ctx, tr)
		require.NoError(t, err)
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
	_, _, err := f.store.CreateOrder(context.Background(), o, ledger.Reserve(id, acct, asset, amount))
	require.NoError(f.t, err)
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
	pub := &publisher{}
	f.svc.Publisher = pub
	// Delivered once, then again in full, then the tail again: the effect is the same.
	for _, batch := range [][]trading.Execution{xs[:2], xs, xs[1:]} {
		require.NoError(t, f.svc.Handle(ctx, batch))
	}
	// Each batch reads each order it names once.
	if assert.NotEmpty(t, reads.ids, "orders read") {
		assert.Equal(t, []string{"s1", "b1"}, reads.ids[0], "orders read for the first batch")
	}
	for _, ids := range reads.ids {
		assert.Len(t, slices.Compact(slices.Sorted(slices.Values(ids))), len(ids), "an order read twice in one batch: %q", ids)
	}
	// Notional 0.01 BTC * 10,000 = 100 USD. Buyer (taker) pays 100 USD, gets 0.01 BTC less
	// 20 bps; seller (maker) gets 100 USD less 10 bps. The buyer's hold (151.5 USD) is gone:
	// 101 USD consumed or released by the fill, the rest released by the cancel.
	b := f.bal("buyer", "USD")
	assert.Equal(t, int64(900_000_000), b.Total, "buyer USD total")
	assert.Equal(t, int64(0), b.Held, "buyer USD held")
	assert.Equal(t, int64(998_000), f.bal("buyer", "BTC").Total, "buyer BTC total")
	assert.Equal(t, int64(99_900_000), f.bal("seller", "USD").Total, "seller USD total")
	b = f.bal("seller", "BTC")
	assert.Equal(t, int64(99_000_000), b.Total, "seller BTC total")
	assert.Equal(t, int64(0), b.Held, "seller BTC held")
	assert.Equal(t, int64(100_000), f.bal(ledger.Fees, "USD").Total, "fees USD total")
	s1, err := f.store.Order(ctx, "seller", "s1")
	require.NoError(t, err)
	b1, err := f.store.Order(ctx, "buyer", "b1")
	require.NoError(t, err)
	assert.Equal(t, trading.StatusFilled, s1.Status, "s1 status")
	assert.Equal(t, int64(100), s1.Filled, "s1 filled")
	assert.Equal(t, trading.StatusCancelled, b1.Status, "b1 status")
	assert.Equal(t, int64(100), b1.Filled, "b1 filled")
	ps, err := f.store.Positions(ctx, "buyer")
	require.NoError(t, err)
	if assert.Len(t, ps, 1, "buyer positions") {
		assert.Equal(t, int64(998_000), ps[0].Base, "buyer position base")
		assert.Equal(t, int64(-100_000_000), ps[0].QuoteNet, "buyer position quote net")
	}
	p, err := f.store.AccountTrades(ctx, "buyer", "", 10)
	require.NoError(t, err)
	require.Len(t, p.Items, 1, "buyer trades")
	// The trade is recorded with what the ledger charged: the fee account holds nothing else.
	if assert.NotNil(t, p.Items[0].Fees, "recorded fees") {
		assert.Equal(t, trading.FeeAmounts{Maker: f.bal(ledger.Fees, "USD").Total, Taker: f.bal(ledger.Fees, "BTC").Total},
			*p.Items[0].Fees, "recorded fees against the fee account")
	}
	// Every settlement published with the trade carries its fees, also when delivered again.
	fee := trading.TradeFee{TradeID: "BTC-USD:2:1", MakerFee: 100_000, MakerAsset: "USD", TakerFee: 2_000, TakerAsset: "BTC"}
	n := 0
	for _, st := range pub.ss {
		if len(st.Trades) > 0 {
			n++
			assert.Equal(t, []trading.TradeFee{fee}, st.Fees, st.ID)
			if p.Items[0].Fees != nil {
				assert.Equal(t, trading.FeeAmounts{Maker: fee.MakerFee, Taker: fee.TakerFee}, *p.Items[0].Fees, "recorded fees against the published ones")
			}
		} else {
			assert.Empty(t, st.Fees, st.ID)
		}
	}
	assert.Equal(t, 3, n, "the trade's execution was in three batches")
}

type publisher struct{ ss []trading.Settlement }

func (p *publisher) PublishSettlements(_ context.Context, ss []trading.Settlement) error {
	p.ss = append(p.ss, ss...)
	return nil
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
	require.NoError(t, f.svc.Handle(ctx, xs))
	b1, err := f.store.Order(ctx, "buyer", "b1")
	require.NoError(t, err)
	b2, err := f.store.Order(ctx, "buyer", "b2")
	require.NoError(t, err)
	require.Equal(t, trading.StatusRejected, b1.Status, "b1 status")
	require.Equal(t, trading.StatusOpen, b2.Status, "b2 status")
	require.Equal(t, int64(10_000_000), f.bal("buyer", "USD").Held, "buyer USD held: only b2's 10 USD")
}

func TestTradeTransferSellerTakes(t *testing.T) {
	u, _ := trading.NewUnits(mkt, trading.Asset{Symbol: "BTC", Scale: 8}, trading.Asset{Symbol: "USD", Scale: 6})
	maker := trading.Order{ID: "m", Account: "alice", BookPrice: 10_000_00} // resting buy
	taker := trading.Order{ID: "t", Account: "bob"}
	tr, buyer, seller, err := settlement.TradeTransfer(trading.Trade{ID: "x", Price: 9_900_00, Quantity: 10, TakerSide: trading.Sell},
		maker, taker, mkt, u, settlement.Fees{MakerBps: 10, TakerBps: 20})
	require.NoError(t, err)
	require.NoError(t, ledger.Validate(tr), "unbalanced")
	// The buyer is the maker (10 bps in BTC); the seller the taker (20 bps in USD). The
	// buyer's hold was taken at 10,000.00, so 10 lots consume 10,000.00*10 of it.
	assert.Equal(t, "alice", buyer.Account, "buyer account")
	assert.Equal(t, int64(100_000-100), buyer.Base, "buyer base")
	assert.Equal(t, int64(-9_900_000), buyer.QuoteNet, "buyer quote net")
	assert.Equal(t, "bob", seller.Account, "seller account")
	assert.Equal(t, int64(-100_000), seller.Base, "seller base")
	assert.Equal(t, int64(9_900_000-19_800), seller.QuoteNet, "seller quote net")
	require.NotEmpty(t, tr.Holds, "hold ops")
	assert.Equal(t, "m", tr.Holds[0].Hold, "buyer hold op's hold")
	assert.Equal(t, int64(-10_000_000), tr.Holds[0].Amount, "buyer hold op's amount")
	fee, err := settlement.TradeFees(trading.Trade{ID: "x", Price: 9_900_00, Quantity: 10, TakerSide: trading.Sell}, mkt, u,
		settlement.Fees{MakerBps: 10, TakerBps: 20})
	require.NoError(t, err)
	assert.Equal(t, trading.TradeFee{TradeID: "x", MakerFee: 100, MakerAsset: "BTC", TakerFee: 19_800, TakerAsset: "USD"}, fee,
		"the fees the transfer charged, by role")
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
