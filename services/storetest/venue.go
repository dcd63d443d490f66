package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/trading"
)

// VenueStore is the part of a store the venue contract covers: markets, orders, settlement
// and engine snapshots, on top of the ledger.
type VenueStore interface {
	ledger.Store
	CreateAsset(ctx context.Context, a trading.Asset) error
	Assets(ctx context.Context) ([]trading.Asset, error)
	CreateMarket(ctx context.Context, m trading.MarketDef) (trading.MarketDef, error)
	Market(ctx context.Context, symbol string) (trading.MarketDef, error)
	SetHalted(ctx context.Context, symbol string, halted bool) error
	SetKillSwitch(ctx context.Context, scope, name string, on bool) error
	PreTrade(ctx context.Context, account, market string) (risk.State, error)
	CreateOrder(ctx context.Context, o trading.Order, hold ledger.Transfer) (trading.Order, bool, error)
	Order(ctx context.Context, account, id string) (trading.Order, error)
	Orders(ctx context.Context, f trading.OrderFilter) (trading.Page[trading.Order], error)
	Unpublished(ctx context.Context, before time.Time, limit int) ([]trading.Order, error)
	MarkPublished(ctx context.Context, ids []string) error
	AccountTrades(ctx context.Context, account, cursor string, limit int) (trading.Page[trading.Trade], error)
	Positions(ctx context.Context, account string) ([]trading.Position, error)
	settlement.Store
	LoadSnapshot(ctx context.Context, key string) ([]byte, error)
	SaveSnapshot(ctx context.Context, key string, data []byte) error
}

// Venue runs the venue contract against stores made by open, one fresh store per subtest.
func Venue(t *testing.T, open func(t *testing.T) VenueStore) {
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	setup := func(t *testing.T) VenueStore {
		s := open(t)
		for _, a := range []trading.Asset{{Symbol: "BTC", Scale: 8}, {Symbol: "USD", Scale: 6}} {
			require.NoError(t, s.CreateAsset(ctx, a))
		}
		m := trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001", MinPrice: 1, MaxPrice: 1 << 40, MinQty: 1, MaxQty: 1 << 40, CreatedAt: at}
		_, err := s.CreateMarket(ctx, m)
		require.NoError(t, err)
		d, _ := ledger.Deposit("d1", "alice", "USD", 1_000_000)
		_, err = s.Apply(ctx, d)
		require.NoError(t, err)
		return s
	}
	order := func(id, client string, n int) trading.Order {
		ts := at.Add(time.Duration(n) * time.Second)
		return trading.Order{ID: id, ClientOrderID: client, Account: "alice", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit,
			TimeInForce: trading.GTC, Price: 100, Quantity: 10, Status: trading.StatusPending, BookPrice: 100, BookTIF: trading.GTC,
			HoldAsset: "USD", CreatedAt: ts, UpdatedAt: ts}
	}

	t.Run("MarketsAndAssets", func(t *testing.T) {
		s := setup(t)
		_, err := s.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "1", LotSize: "1", CreatedAt: at})
		require.Equal(t, trading.ECONFLICT, trading.ErrorCode(err), "duplicate market: %v", err)
		require.NoError(t, s.CreateAsset(ctx, trading.Asset{Symbol: "BTC", Scale: 8}), "same asset again")
		err = s.CreateAsset(ctx, trading.Asset{Symbol: "BTC", Scale: 2})
		require.Equal(t, trading.ECONFLICT, trading.ErrorCode(err), "asset with another scale: %v", err)
		require.NoError(t, s.SetHalted(ctx, "BTC-USD", true))
		m, err := s.Market(ctx, "BTC-USD")
		require.NoError(t, err)
		require.True(t, m.Halted, "market %+v", m)
		require.Equal(t, "0.01", m.TickSize, "market %+v", m)
		require.WithinDuration(t, at, m.CreatedAt, 0, "market %+v", m)
		_, err = s.Market(ctx, "ETH-USD")
		require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "unknown market: %v", err)
		err = s.SetHalted(ctx, "ETH-USD", true)
		require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "halt unknown market: %v", err)
		require.NoError(t, s.SetKillSwitch(ctx, "account", "alice", true))
		st, err := s.PreTrade(ctx, "alice", "BTC-USD")
		require.NoError(t, err)
		require.True(t, st.AccountKilled, "pre-trade %+v", st)
		require.False(t, st.MarketKilled, "pre-trade %+v", st)
	})

	t.Run("CreateOrderIdempotentByClientID", func(t *testing.T) {
		s := setup(t)
		o, existed, err := s.CreateOrder(ctx, order("o1", "c1", 1), ledger.Reserve("o1", "alice", "USD", 1000))
		require.NoError(t, err, "create")
		require.False(t, existed, "create")
		again, existed, err := s.CreateOrder(ctx, order("o2", "c1", 2), ledger.Reserve("o2", "alice", "USD", 1000))
		require.NoError(t, err, "repeat")
		require.True(t, existed, "repeat: %+v", again)
		require.Equal(t, o.ID, again.ID, "repeat: %+v", again)
		b, _ := s.Balance(ctx, "alice", "USD")
		require.Equal(t, int64(1000), b.Held, "held after a repeated client id")
		_, _, err = s.CreateOrder(ctx, order("o3", "c3", 3), ledger.Reserve("o3", "alice", "USD", 2_000_000))
		require.Equal(t, trading.EINSUFFICIENT, trading.ErrorCode(err), "beyond balance: %v", err)
		_, err = s.Order(ctx, "alice", "o3")
		require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "refused order was recorded: %v", err)
		_, err = s.Order(ctx, "bob", "o1")
		require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "another account's order: %v", err)
		got, err := s.Order(ctx, "alice", "o1")
		require.NoError(t, err)
		require.Equal(t, "USD", got.HoldAsset, "stored order %+v", got)
		require.Equal(t, int64(100), got.BookPrice, "stored order %+v", got)
		require.Equal(t, trading.StatusPending, got.Status, "stored order %+v", got)
		require.WithinDuration(t, o.CreatedAt, got.CreatedAt, 0, "stored order %+v", got)
		st, _ := s.PreTrade(ctx, "alice", "BTC-USD")
		require.Equal(t, 1, st.OpenOrders, "open orders")
	})

	// Order entry records an order before publishing it; the relay publishes what is still
	// unmarked after a while, oldest first, and stops once it is marked.
	t.Run("UnpublishedUntilMarked", func(t *testing.T) {
		s := setup(t)
		for i, id := range []string{"o1", "o2", "o3"} {
			_, _, err := s.CreateOrder(ctx, order(id, "", i+1), ledger.Reserve(id, "alice", "USD", 10))
			require.NoError(t, err)
		}
		ids := func(before time.Time, limit int) []string {
			t.Helper()
			os, err := s.Unpublished(ctx, before, limit)
			require.NoError(t, err)
			var out []string
			for _, o := range os {
				require.Equal(t, "alice", o.Account, "unpublished order %+v", o)
				require.Equal(t, trading.StatusPending, o.Status, "unpublished order %+v", o)
				require.Equal(t, int64(100), o.Price, "unpublished order %+v", o)
				out = append(out, o.ID)
			}
			return out
		}
		require.Equal(t, []string{"o1", "o2", "o3"}, ids(at.Add(time.Hour), 10), "unpublished")
		require.Equal(t, []string{"o1", "o2"}, ids(at.Add(2500*time.Millisecond), 10), "created before +2.5s")
		require.Equal(t, []string{"o1"}, ids(at.Add(time.Hour), 1), "limit 1")
		require.NoError(t, s.MarkPublished(ctx, []string{"o1", "o3"}))
		require.Equal(t, []string{"o2"}, ids(at.Add(time.Hour), 10), "after marking o1 and o3")
	})

	t.Run("OrdersPageNewestFirst", func(t *testing.T) {
		s := setup(t)
		for i := 1; i <= 5; i++ {
			id := fmt.Sprintf("o%d", i)
			_, _, err := s.CreateOrder(ctx, order(id, "", i), ledger.Reserve(id, "alice", "USD", 10))
			require.NoError(t, err)
		}
		var ids []string
		f := trading.OrderFilter{Account: "alice", Limit: 2}
		for {
			p, err := s.Orders(ctx, f)
			require.NoError(t, err)
			for _, o := range p.Items {
				ids = append(ids, o.ID)
			}
			if p.NextCursor == "" {
				break
			}
			f.Cursor = p.NextCursor
		}
		require.Equal(t, []string{"o5", "o4", "o3", "o2", "o1"}, ids, "pages")
		require.NoError(t, s.MarkPublished(ctx, []string{"o1", "o2"}))
		un, err := s.Unpublished(ctx, at.Add(4*time.Second), 10)
		require.NoError(t, err)
		require.Len(t, un, 1, "unpublished %+v", un)
		require.Equal(t, "o3", un[0].ID, "unpublished %+v", un)
	})

	// trader is a store where bob holds BTC and alice's order b1 holds hold USD, and a trade
	// of b1 against bob's s1.
	trader := func(t *testing.T, hold int64) (VenueStore, trading.Trade) {
		s := setup(t)
		d, _ := ledger.Deposit("d2", "bob", "BTC", 1_000_000)
		_, err := s.Apply(ctx, d)
		require.NoError(t, err)
		_, _, err = s.CreateOrder(ctx, order("b1", "", 1), ledger.Reserve("b1", "alice", "USD", hold))
		require.NoError(t, err)
		return s, trading.Trade{ID: "m:1:0", Market: "BTC-USD", Price: 100, Quantity: 10, MakerOrderID: "s1", TakerOrderID: "b1",
			MakerAccount: "bob", TakerAccount: "alice", TakerSide: trading.Buy, Seq: 1, ExecutedAt: at}
	}

	t.Run("SettleOnceInOrder", func(t *testing.T) {
		s, tr := trader(t, 1000)
		filled := order("b1", "", 1)
		filled.Status, filled.Filled = trading.StatusFilled, 10
		b := settlement.Batch{
			From: map[string]uint64{"BTC-USD": 0}, To: map[string]uint64{"BTC-USD": 1},
			Orders: []trading.Order{filled}, Trades: []trading.Trade{tr},
			Transfers: []ledger.Transfer{{ID: "trade:m:1:0", Kind: ledger.KindTrade,
				Postings: []ledger.Posting{{Account: "alice", Asset: "USD", Amount: -1000}, {Account: "bob", Asset: "USD", Amount: 1000},
					{Account: "bob", Asset: "BTC", Amount: -100_000}, {Account: "alice", Asset: "BTC", Amount: 100_000}},
				Holds: []ledger.HoldOp{{Hold: "b1", Account: "alice", Asset: "USD", Amount: -1000}}}},
			Positions: []trading.Position{{Account: "alice", Market: "BTC-USD", Base: 100_000, QuoteNet: -1000}},
		}
		require.NoError(t, s.Settle(ctx, b))
		err := s.Settle(ctx, b)
		require.Equal(t, trading.ECONFLICT, trading.ErrorCode(err), "second settle of the same batch: %v", err)
		p, err := s.Progress(ctx, []string{"BTC-USD", "ETH-USD"})
		require.NoError(t, err)
		require.Equal(t, uint64(1), p["BTC-USD"], "progress %v", p)
		require.Zero(t, p["ETH-USD"], "progress %v", p)
		o, _ := s.Order(ctx, "alice", "b1")
		require.Equal(t, trading.StatusFilled, o.Status, "order %+v", o)
		require.Equal(t, int64(10), o.Filled, "order %+v", o)
		st, _ := s.PreTrade(ctx, "alice", "BTC-USD")
		require.Zero(t, st.OpenOrders, "pre-trade after fill %+v", st)
		require.Equal(t, int64(100), st.LastPrice, "pre-trade after fill %+v", st)
		for _, acct := range []string{"alice", "bob"} {
			pg, err := s.AccountTrades(ctx, acct, "", 10)
			require.NoError(t, err, "%s trades", acct)
			require.Len(t, pg.Items, 1, "%s trades %+v", acct, pg)
			require.Equal(t, tr.ID, pg.Items[0].ID, "%s trades %+v", acct, pg)
			require.Equal(t, uint64(1), pg.Items[0].Seq, "%s trades %+v", acct, pg)
		}
		ps, _ := s.Positions(ctx, "alice")
		require.Len(t, ps, 1, "positions %+v", ps)
		require.Equal(t, int64(100_000), ps[0].Base, "positions %+v", ps)
		bal, _ := s.Balance(ctx, "alice", "BTC")
		require.Equal(t, int64(100_000), bal.Total, "alice BTC %+v", bal)
	})

	// A trade is stored with the fees its settlement charged, and one settled without them
	// (before the store recorded fees) reads back with none rather than a zero.
	t.Run("TradeFees", func(t *testing.T) {
		s, charged := trader(t, 2000)
		charged.Fees = &trading.FeeAmounts{Maker: 3, Taker: 70}
		earlier := charged
		earlier.ID, earlier.ExecutedAt, earlier.Fees = "m:1:1", at.Add(time.Second), nil
		transfer := func(id string, makerFee, takerFee int64) ledger.Transfer {
			return ledger.Transfer{ID: "trade:" + id, Kind: ledger.KindTrade,
				Postings: []ledger.Posting{{Account: "alice", Asset: "USD", Amount: -1000}, {Account: "bob", Asset: "USD", Amount: 1000 - makerFee},
					{Account: "bob", Asset: "BTC", Amount: -100_000}, {Account: "alice", Asset: "BTC", Amount: 100_000 - takerFee},
					{Account: ledger.Fees, Asset: "USD", Amount: makerFee}, {Account: ledger.Fees, Asset: "BTC", Amount: takerFee}},
				Holds: []ledger.HoldOp{{Hold: "b1", Account: "alice", Asset: "USD", Amount: -1000}}}
		}
		b := settlement.Batch{
			From: map[string]uint64{"BTC-USD": 0}, To: map[string]uint64{"BTC-USD": 1},
			Trades:    []trading.Trade{charged, earlier},
			Transfers: []ledger.Transfer{transfer(charged.ID, 3, 70), transfer(earlier.ID, 3, 70)},
		}
		require.NoError(t, s.Settle(ctx, b))
		// A replay of the trade with other fees changes nothing: the first record stands.
		replay := charged
		replay.Fees = &trading.FeeAmounts{Maker: 5, Taker: 5}
		require.NoError(t, s.Settle(ctx, settlement.Batch{From: map[string]uint64{"BTC-USD": 1}, To: map[string]uint64{"BTC-USD": 1},
			Trades: []trading.Trade{replay}}))
		for _, acct := range []string{"alice", "bob"} {
			pg, err := s.AccountTrades(ctx, acct, "", 10)
			require.NoError(t, err, "%s trades", acct)
			require.Len(t, pg.Items, 2, "%s trades %+v", acct, pg)
			require.Equal(t, earlier.ID, pg.Items[0].ID, "%s: newest first", acct)
			assert.Nil(t, pg.Items[0].Fees, "%s: a trade settled without fees has none", acct)
			require.Equal(t, charged.ID, pg.Items[1].ID, "%s trades", acct)
			if assert.NotNil(t, pg.Items[1].Fees, "%s: fees recorded", acct) {
				assert.Equal(t, trading.FeeAmounts{Maker: 3, Taker: 70}, *pg.Items[1].Fees, "%s: fees recorded", acct)
			}
		}
	})

	t.Run("Snapshots", func(t *testing.T) {
		s := setup(t)
		_, err := s.LoadSnapshot(ctx, "orders/0")
		require.Equal(t, trading.ENOTFOUND, trading.ErrorCode(err), "missing snapshot: %v", err)
		for _, v := range []string{"one", "two"} {
			require.NoError(t, s.SaveSnapshot(ctx, "orders/0", []byte(v)))
		}
		got, err := s.LoadSnapshot(ctx, "orders/0")
		require.NoError(t, err)
		require.Equal(t, "two", string(got), "snapshot")
	})
}
