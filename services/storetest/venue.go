package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

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
			if err := s.CreateAsset(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		m := trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001", MinPrice: 1, MaxPrice: 1 << 40, MinQty: 1, MaxQty: 1 << 40, CreatedAt: at}
		if _, err := s.CreateMarket(ctx, m); err != nil {
			t.Fatal(err)
		}
		d, _ := ledger.Deposit("d1", "alice", "USD", 1_000_000)
		if _, err := s.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
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
		if _, err := s.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "1", LotSize: "1", CreatedAt: at}); trading.ErrorCode(err) != trading.ECONFLICT {
			t.Fatalf("duplicate market: %v", err)
		}
		if err := s.CreateAsset(ctx, trading.Asset{Symbol: "BTC", Scale: 8}); err != nil {
			t.Fatalf("same asset again: %v", err)
		}
		if err := s.CreateAsset(ctx, trading.Asset{Symbol: "BTC", Scale: 2}); trading.ErrorCode(err) != trading.ECONFLICT {
			t.Fatalf("asset with another scale: %v", err)
		}
		if err := s.SetHalted(ctx, "BTC-USD", true); err != nil {
			t.Fatal(err)
		}
		m, err := s.Market(ctx, "BTC-USD")
		if err != nil || !m.Halted || m.TickSize != "0.01" || !m.CreatedAt.Equal(at) {
			t.Fatalf("market %+v %v", m, err)
		}
		if _, err := s.Market(ctx, "ETH-USD"); trading.ErrorCode(err) != trading.ENOTFOUND {
			t.Fatalf("unknown market: %v", err)
		}
		if err := s.SetHalted(ctx, "ETH-USD", true); trading.ErrorCode(err) != trading.ENOTFOUND {
			t.Fatalf("halt unknown market: %v", err)
		}
		if err := s.SetKillSwitch(ctx, "account", "alice", true); err != nil {
			t.Fatal(err)
		}
		st, err := s.PreTrade(ctx, "alice", "BTC-USD")
		if err != nil || !st.AccountKilled || st.MarketKilled {
			t.Fatalf("pre-trade %+v %v", st, err)
		}
	})

	t.Run("CreateOrderIdempotentByClientID", func(t *testing.T) {
		s := setup(t)
		o, existed, err := s.CreateOrder(ctx, order("o1", "c1", 1), ledger.Reserve("o1", "alice", "USD", 1000))
		if err != nil || existed {
			t.Fatalf("create: %v %v", existed, err)
		}
		again, existed, err := s.CreateOrder(ctx, order("o2", "c1", 2), ledger.Reserve("o2", "alice", "USD", 1000))
		if err != nil || !existed || again.ID != o.ID {
			t.Fatalf("repeat: %+v %v %v", again, existed, err)
		}
		if b, _ := s.Balance(ctx, "alice", "USD"); b.Held != 1000 {
			t.Fatalf("held %d after a repeated client id", b.Held)
		}
		_, _, err = s.CreateOrder(ctx, order("o3", "c3", 3), ledger.Reserve("o3", "alice", "USD", 2_000_000))
		if trading.ErrorCode(err) != trading.EINSUFFICIENT {
			t.Fatalf("beyond balance: %v", err)
		}
		if _, err := s.Order(ctx, "alice", "o3"); trading.ErrorCode(err) != trading.ENOTFOUND {
			t.Fatalf("refused order was recorded: %v", err)
		}
		if _, err := s.Order(ctx, "bob", "o1"); trading.ErrorCode(err) != trading.ENOTFOUND {
			t.Fatalf("another account's order: %v", err)
		}
		got, err := s.Order(ctx, "alice", "o1")
		if err != nil || got.HoldAsset != "USD" || got.BookPrice != 100 || got.Status != trading.StatusPending || !got.CreatedAt.Equal(o.CreatedAt) {
			t.Fatalf("stored order %+v %v", got, err)
		}
		if st, _ := s.PreTrade(ctx, "alice", "BTC-USD"); st.OpenOrders != 1 {
			t.Fatalf("open orders %d", st.OpenOrders)
		}
	})

	// Order entry records an order before publishing it; the relay publishes what is still
	// unmarked after a while, oldest first, and stops once it is marked.
	t.Run("UnpublishedUntilMarked", func(t *testing.T) {
		s := setup(t)
		for i, id := range []string{"o1", "o2", "o3"} {
			if _, _, err := s.CreateOrder(ctx, order(id, "", i+1), ledger.Reserve(id, "alice", "USD", 10)); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(before time.Time, limit int) []string {
			t.Helper()
			os, err := s.Unpublished(ctx, before, limit)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, o := range os {
				if o.Account != "alice" || o.Status != trading.StatusPending || o.Price != 100 {
					t.Fatalf("unpublished order %+v", o)
				}
				out = append(out, o.ID)
			}
			return out
		}
		if got := ids(at.Add(time.Hour), 10); fmt.Sprint(got) != "[o1 o2 o3]" {
			t.Fatalf("unpublished %v, want [o1 o2 o3]", got)
		}
		if got := ids(at.Add(2500*time.Millisecond), 10); fmt.Sprint(got) != "[o1 o2]" {
			t.Fatalf("created before +2.5s: %v, want [o1 o2]", got)
		}
		if got := ids(at.Add(time.Hour), 1); fmt.Sprint(got) != "[o1]" {
			t.Fatalf("limit 1: %v, want [o1]", got)
		}
		if err := s.MarkPublished(ctx, []string{"o1", "o3"}); err != nil {
			t.Fatal(err)
		}
		if got := ids(at.Add(time.Hour), 10); fmt.Sprint(got) != "[o2]" {
			t.Fatalf("after marking o1 and o3: %v, want [o2]", got)
		}
	})

	t.Run("OrdersPageNewestFirst", func(t *testing.T) {
		s := setup(t)
		for i := 1; i <= 5; i++ {
			id := fmt.Sprintf("o%d", i)
			if _, _, err := s.CreateOrder(ctx, order(id, "", i), ledger.Reserve(id, "alice", "USD", 10)); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		f := trading.OrderFilter{Account: "alice", Limit: 2}
		for {
			p, err := s.Orders(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range p.Items {
				ids = append(ids, o.ID)
			}
			if p.NextCursor == "" {
				break
			}
			f.Cursor = p.NextCursor
		}
		if fmt.Sprint(ids) != "[o5 o4 o3 o2 o1]" {
			t.Fatalf("pages gave %v", ids)
		}
		if err := s.MarkPublished(ctx, []string{"o1", "o2"}); err != nil {
			t.Fatal(err)
		}
		un, err := s.Unpublished(ctx, at.Add(4*time.Second), 10)
		if err != nil || len(un) != 1 || un[0].ID != "o3" {
			t.Fatalf("unpublished %+v %v", un, err)
		}
	})

	t.Run("SettleOnceInOrder", func(t *testing.T) {
		s := setup(t)
		d, _ := ledger.Deposit("d2", "bob", "BTC", 1_000_000)
		if _, err := s.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateOrder(ctx, order("b1", "", 1), ledger.Reserve("b1", "alice", "USD", 1000)); err != nil {
			t.Fatal(err)
		}
		tr := trading.Trade{ID: "m:1:0", Market: "BTC-USD", Price: 100, Quantity: 10, MakerOrderID: "s1", TakerOrderID: "b1",
			MakerAccount: "bob", TakerAccount: "alice", TakerSide: trading.Buy, Seq: 1, ExecutedAt: at}
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
		if err := s.Settle(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := s.Settle(ctx, b); trading.ErrorCode(err) != trading.ECONFLICT {
			t.Fatalf("second settle of the same batch: %v", err)
		}
		p, err := s.Progress(ctx, []string{"BTC-USD", "ETH-USD"})
		if err != nil || p["BTC-USD"] != 1 || p["ETH-USD"] != 0 {
			t.Fatalf("progress %v %v", p, err)
		}
		o, _ := s.Order(ctx, "alice", "b1")
		if o.Status != trading.StatusFilled || o.Filled != 10 {
			t.Fatalf("order %+v", o)
		}
		if st, _ := s.PreTrade(ctx, "alice", "BTC-USD"); st.OpenOrders != 0 || st.LastPrice != 100 {
			t.Fatalf("pre-trade after fill %+v", st)
		}
		for _, acct := range []string{"alice", "bob"} {
			pg, err := s.AccountTrades(ctx, acct, "", 10)
			if err != nil || len(pg.Items) != 1 || pg.Items[0].ID != tr.ID || pg.Items[0].Seq != 1 {
				t.Fatalf("%s trades %+v %v", acct, pg, err)
			}
		}
		ps, _ := s.Positions(ctx, "alice")
		if len(ps) != 1 || ps[0].Base != 100_000 {
			t.Fatalf("positions %+v", ps)
		}
		if b, _ := s.Balance(ctx, "alice", "BTC"); b.Total != 100_000 {
			t.Fatalf("alice BTC %+v", b)
		}
	})

	t.Run("Snapshots", func(t *testing.T) {
		s := setup(t)
		if _, err := s.LoadSnapshot(ctx, "orders/0"); trading.ErrorCode(err) != trading.ENOTFOUND {
			t.Fatalf("missing snapshot: %v", err)
		}
		for _, v := range []string{"one", "two"} {
			if err := s.SaveSnapshot(ctx, "orders/0", []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.LoadSnapshot(ctx, "orders/0"); err != nil || string(got) != "two" {
			t.Fatalf("snapshot %q %v", got, err)
		}
	})
}
