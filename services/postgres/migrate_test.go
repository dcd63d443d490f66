package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/trading"
)

// A database written by the release before the order-flow rework (held as a balance column,
// published as an order flag, open orders counted) keeps its meaning through the migrations:
// what is held, what is still to publish and how many orders are open.
func TestMigrationKeepsEarlierState(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewURL(t, "migrate"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := &postgres.DB{Pool: pool}
	if err := db.MigrateTo(ctx, "0004_trades_time"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{sql: `INSERT INTO ledger_balances (account, asset, total, held) VALUES ('alice', 'USD', 1000, 300), ('bob', 'BTC', 50, 0), ('@deposits', 'USD', -1000, 0), ('@deposits', 'BTC', -50, 0)`},
		{sql: `INSERT INTO ledger_holds (id, account, asset, remaining) VALUES ('o1', 'alice', 'USD', 200), ('o2', 'alice', 'USD', 100)`},
		{sql: `INSERT INTO orders (id, client_order_id, account, market, side, type, tif, post_only, price, quantity, status, book_price, book_tif, hold_asset, published, created_at, updated_at) VALUES
			('o1', '', 'alice', 'BTC-USD', 'buy', 'limit', 'GTC', false, 100, 2, 'pending', 100, 'GTC', 'USD', false, $1, $1),
			('o2', '', 'alice', 'BTC-USD', 'buy', 'limit', 'GTC', false, 100, 1, 'open', 100, 'GTC', 'USD', true, $1, $1),
			('o3', '', 'bob', 'BTC-USD', 'sell', 'limit', 'GTC', false, 100, 1, 'filled', 100, 'GTC', 'BTC', true, $1, $1)`, args: []any{at}},
	} {
		if _, err := pool.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatalf("%s: %v", st.sql[:40], err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := postgres.NewStore(db)
	if b, err := s.Balance(ctx, "alice", "USD"); err != nil || b.Total != 1000 || b.Held != 300 || b.Available != 700 {
		t.Fatalf("alice USD %+v %v, want total 1000 held 300", b, err)
	}
	if tot, err := s.Totals(ctx); err != nil || tot["USD"].Held != 300 || tot["USD"].OpenHeld != 300 || tot["USD"].Owners != 1000 {
		t.Fatalf("totals %+v %v", tot, err)
	}
	if os, err := s.Unpublished(ctx, at.Add(time.Hour), 10); err != nil || len(os) != 1 || os[0].ID != "o1" {
		t.Fatalf("unpublished %+v %v, want o1", os, err)
	}
	for acct, want := range map[string]int{"alice": 2, "bob": 0} {
		if st, err := s.PreTrade(ctx, acct, "BTC-USD"); err != nil || st.OpenOrders != want {
			t.Fatalf("%s open orders %d %v, want %d", acct, st.OpenOrders, err, want)
		}
	}
	// The funds the earlier holds took stay taken: 700 of 1000 are free.
	if _, err := s.Apply(ctx, ledger.Reserve("o4", "alice", "USD", 701)); trading.ErrorCode(err) != trading.EINSUFFICIENT {
		t.Fatalf("reserve beyond available: %v", err)
	}
	if _, err := s.Apply(ctx, ledger.Reserve("o4", "alice", "USD", 700)); err != nil {
		t.Fatalf("reserve the available rest: %v", err)
	}
}
