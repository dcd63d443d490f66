package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/trading"
)

type nopPublisher struct{}

func (nopPublisher) PublishCommands(context.Context, ...trading.OrderCommand) error { return nil }

// fingerprint is one digest per table of the database's public schema.
func fingerprint(t *testing.T, db *postgres.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, tables)
	out := map[string]string{}
	for _, tbl := range tables {
		var sum string
		q := fmt.Sprintf(`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM %s t`, pgx.Identifier{tbl}.Sanitize())
		require.NoError(t, db.Pool.QueryRow(ctx, q).Scan(&sum))
		out[tbl] = sum
	}
	return out
}

// api-gateway started with DATABASE_URL but without KAFKA_BROKERS exits non-zero naming the
// variable, and the database's open orders, engine snapshots and settlement progress (every
// table) are exactly as they were: it never falls back to an in-process broker and never
// resets the flow.
func TestMissingKafkaChangesNothing(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t, "gwmissing")
	db, err := postgres.Open(ctx, postgres.Options{URL: url, MaxConns: 4})
	require.NoError(t, err)
	defer db.Close()
	store := postgres.NewStore(db)
	rdb, err := redis.OpenEmbedded("t")
	require.NoError(t, err)
	defer rdb.Close()

	// A book in flight: an open order with its hold, an engine snapshot, settlement progress.
	ex := exchange.New(store, nopPublisher{}, rdb.Books(), risk.DefaultLimits(), nil)
	require.NoError(t, flow.SeedDemo(ctx, ex))
	require.NoError(t, ex.Deposit(ctx, "d1", "alice", "USD", 1_000_000_000))
	o, err := ex.PlaceOrder(ctx, trading.PlaceOrder{Account: "alice", Market: flow.DemoMarket.Symbol, Side: trading.Buy,
		Type: trading.Limit, Price: 10_000_00, Quantity: 10})
	require.NoError(t, err)
	require.NoError(t, store.SaveSnapshot(ctx, "orders/0", []byte(`{"next":42}`)))
	require.NoError(t, store.Settle(ctx, settlement.Batch{From: map[string]uint64{flow.DemoMarket.Symbol: 0}, To: map[string]uint64{flow.DemoMarket.Symbol: 41}}))
	before := fingerprint(t, db)

	bin := filepath.Join(t.TempDir(), "api-gateway")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build: %s", out)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + url, "REDIS_URL=redis://127.0.0.1:1", "HTTP_ADDR=127.0.0.1:0", "OPS_ADDR=127.0.0.1:0"}
	out, err = cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "api-gateway without KAFKA_BROKERS did not fail: %s", out)
	assert.NotZero(t, exit.ExitCode())
	assert.Contains(t, string(out), "KAFKA_BROKERS must be set")
	assert.False(t, strings.Contains(string(out), "panic"), "%s", out)

	assert.Equal(t, before, fingerprint(t, db), "the database changed")
	got, err := store.Order(ctx, "alice", o.ID)
	require.NoError(t, err)
	assert.False(t, got.Status.Final(), "the open order was cancelled")
	snap, err := store.LoadSnapshot(ctx, "orders/0")
	require.NoError(t, err)
	assert.JSONEq(t, `{"next":42}`, string(snap))
}
