package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/trading"
)

// A database written by the release before the order-flow rework (held as a balance column,
// published as an order flag, open orders counted) keeps its meaning through the migrations:
// what is held, what is still to publish and how many orders are open; and a trade settled
// before fees were recorded with trades (0013) reads back with no fee, not a zero one.
func TestMigrationKeepsEarlierState(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewURL(t, "migrate"))
	require.NoError(t, err)
	defer pool.Close()
	db := &postgres.DB{Pool: pool}
	require.NoError(t, db.MigrateTo(ctx, "0004_trades_time"))
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
		{sql: `INSERT INTO trades (id, market, price, quantity, maker_order_id, taker_order_id, maker_account, taker_account, taker_side, seq, executed_at)
			VALUES ('BTC-USD:1:0', 'BTC-USD', 100, 1, 'o3', 'o2', 'bob', 'alice', 'buy', 1, $1)`, args: []any{at}},
	} {
		_, err := pool.Exec(ctx, st.sql, st.args...)
		require.NoError(t, err, st.sql[:40])
	}
	require.NoError(t, db.Migrate(ctx))
	s := postgres.NewStore(db)
	b, err := s.Balance(ctx, "alice", "USD")
	require.NoError(t, err)
	require.Equal(t, int64(1000), b.Total, "alice USD total")
	require.Equal(t, int64(300), b.Held, "alice USD held")
	require.Equal(t, int64(700), b.Available, "alice USD available")
	tot, err := s.Totals(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(300), tot["USD"].Held, "USD held")
	require.Equal(t, int64(300), tot["USD"].OpenHeld, "USD held by open orders")
	require.Equal(t, int64(1000), tot["USD"].Owners, "USD owners' total")
	os, err := s.Unpublished(ctx, at.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, os, 1, "unpublished orders")
	require.Equal(t, "o1", os[0].ID, "unpublished order")
	for acct, want := range map[string]int{"alice": 2, "bob": 0} {
		st, err := s.PreTrade(ctx, acct, "BTC-USD")
		require.NoError(t, err, acct)
		require.Equal(t, want, st.OpenOrders, "%s open orders", acct)
	}
	for _, acct := range []string{"alice", "bob"} {
		p, err := s.AccountTrades(ctx, acct, "", 10)
		require.NoError(t, err, acct)
		require.Len(t, p.Items, 1, "%s trades", acct)
		require.Equal(t, "BTC-USD:1:0", p.Items[0].ID, "%s trade", acct)
		require.Nil(t, p.Items[0].Fees, "%s: the earlier trade's fee was not recorded", acct)
	}
	// The funds the earlier holds took stay taken: 700 of 1000 are free.
	_, err = s.Apply(ctx, ledger.Reserve("o4", "alice", "USD", 701))
	require.Equal(t, trading.EINSUFFICIENT, trading.ErrorCode(err), "reserve beyond available: %v", err)
	_, err = s.Apply(ctx, ledger.Reserve("o4", "alice", "USD", 700))
	require.NoError(t, err, "reserve the available rest")
}
