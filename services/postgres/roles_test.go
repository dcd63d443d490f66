package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/trading"
)

// testUser is a database user of the test's own (users are server-wide), dropped at cleanup.
func testUser(t *testing.T) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "cdx_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), pgtest.AdminURL())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+name)
	})
	return name
}

// asUser is dsn with its user replaced.
func asUser(t *testing.T, dsn, user string) string {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.User(user)
	return u.String()
}

// In the cluster the services only verify the schema; the migrations Job applies it first.
func TestVerifyNamesTheMissingMigration(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewURL(t, "verify")
	_, err := postgres.Open(ctx, postgres.Options{URL: dsn, Migrate: postgres.MigrateVerify})
	require.ErrorContains(t, err, "schema not migrated")

	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	db := &postgres.DB{Pool: pool}
	require.NoError(t, db.MigrateTo(ctx, "0008_tuning"))
	_, err = postgres.Open(ctx, postgres.Options{URL: dsn, Migrate: postgres.MigrateVerify})
	require.ErrorContains(t, err, "schema is missing migration 0010_create_orders_set")
	var applied int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied))
	assert.Equal(t, 8, applied, "verify applied nothing")

	require.NoError(t, db.Migrate(ctx))
	v, err := postgres.Open(ctx, postgres.Options{URL: dsn, Migrate: postgres.MigrateVerify})
	require.NoError(t, err)
	v.Close()
}

func TestOptionsMigrate(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	o, err := postgres.OptionsFromEnv(env(map[string]string{"DATABASE_URL": "postgres://u@h/db"}))
	require.NoError(t, err)
	assert.Equal(t, postgres.MigrateApply, o.Migrate)
	o, err = postgres.OptionsFromEnv(env(map[string]string{"DATABASE_URL": "postgres://u@h/db", "DB_MIGRATE": "verify"}))
	require.NoError(t, err)
	assert.Equal(t, postgres.MigrateVerify, o.Migrate)
	_, err = postgres.OptionsFromEnv(env(map[string]string{"DATABASE_URL": "postgres://u@h/db", "DB_MIGRATE": "later"}))
	assert.ErrorContains(t, err, `DB_MIGRATE "later": want apply or verify`)
}

// A service's user reads and writes rows, and can do nothing else: no DDL, no TRUNCATE, no
// forged migration record. Running it twice changes nothing.
func TestEnsureUsers(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewURL(t, "users")
	db, err := postgres.Open(ctx, postgres.Options{URL: dsn})
	require.NoError(t, err)
	defer db.Close()
	user := testUser(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	name := u.Path[1:]
	require.NoError(t, db.EnsureUsers(ctx, name, []postgres.User{{Name: user}}))
	require.NoError(t, db.EnsureUsers(ctx, name, []postgres.User{{Name: user}}), "second run")

	// The platform's store works as the service's user on the verified schema.
	sdb, err := postgres.Open(ctx, postgres.Options{URL: asUser(t, dsn, user), Migrate: postgres.MigrateVerify})
	require.NoError(t, err, "open as the service's user")
	defer sdb.Close()
	store := postgres.NewStore(sdb)
	dep, err := ledger.Deposit("d1", "alice", "USD", 1000)
	require.NoError(t, err)
	_, err = store.Apply(ctx, dep)
	require.NoError(t, err, "deposit")
	_, err = store.Apply(ctx, ledger.Reserve("o1", "alice", "USD", 300))
	require.NoError(t, err, "reserve (a function and a trigger)")
	b, err := store.Balance(ctx, "alice", "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(700), b.Available)
	// The latest venue migration's columns (0013, the fees recorded with a trade) are the
	// service's to write and read.
	tr := trading.Trade{ID: "BTC-USD:1:0", Market: "BTC-USD", Price: 100, Quantity: 1, MakerOrderID: "s1", TakerOrderID: "b1",
		MakerAccount: "bob", TakerAccount: "alice", TakerSide: trading.Buy, Seq: 1, ExecutedAt: time.Now().UTC(),
		Fees: &trading.FeeAmounts{Maker: 1, Taker: 2}}
	require.NoError(t, store.Settle(ctx, settlement.Batch{From: map[string]uint64{"BTC-USD": 0}, To: map[string]uint64{"BTC-USD": 1},
		Trades: []trading.Trade{tr}}), "settle a trade with its fees")
	trades, err := store.AccountTrades(ctx, "alice", "", 10)
	require.NoError(t, err)
	if assert.Len(t, trades.Items, 1, "alice's trades") {
		assert.Equal(t, tr.Fees, trades.Items[0].Fees, "the trade's fees")
	}

	svc, err := pgx.Connect(ctx, asUser(t, dsn, user))
	require.NoError(t, err)
	defer svc.Close(ctx)
	var n int
	require.NoError(t, svc.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n), "read the migrations")
	assert.Positive(t, n)
	_, err = svc.Exec(ctx, `INSERT INTO compliance.audit_log (seq, ts, actor, kind, subject, payload, prev_hash, hash)
		VALUES (1, now(), 'a', 'k', 's', '{}', decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'))`)
	require.NoError(t, err, "the audit trail is insert-only to the services")
	require.NoError(t, svc.QueryRow(ctx, `SELECT count(*) FROM compliance.audit_log`).Scan(&n))
	assert.Equal(t, 1, n)

	for _, denied := range []string{
		`CREATE TABLE evil (x int)`,
		`DROP TABLE ledger_balances`,
		`TRUNCATE ledger_balances`,
		`ALTER TABLE ledger_balances ADD COLUMN x int`,
		`INSERT INTO schema_migrations (version) VALUES ('9999_forged')`,
		`DELETE FROM schema_migrations`,
		`UPDATE compliance.audit_log SET actor = 'x'`,
		`DELETE FROM compliance.audit_log`,
		`TRUNCATE compliance.audit_log`,
		`UPDATE compliance.audit_checkpoints SET key_id = 'x'`,
		`DELETE FROM compliance.audit_checkpoints`,
	} {
		_, err := svc.Exec(ctx, denied)
		var pg *pgconn.PgError
		if assert.ErrorAs(t, err, &pg, denied) {
			assert.Contains(t, []string{"42501", "42P01"}, pg.Code, "%s: %s", denied, pg.Message)
		}
	}

	assert.ErrorContains(t, db.EnsureUsers(ctx, name, []postgres.User{{Name: "Robert'); DROP TABLE x;--"}}), "lower-case identifier")
	assert.ErrorContains(t, db.EnsureUsers(ctx, name, []postgres.User{{Name: user, Password: "pässwörd"}}), "printable ASCII only")
}

// The verifier the Job stores is the one PostgreSQL computes itself for the same password and
// salt, so RDS Proxy's login with the password from the user's secret succeeds.
func TestSCRAMVerifierIsPostgreSQLs(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewURL(t, "scram"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	user := testUser(t)
	_, err = conn.Exec(ctx, `SET password_encryption = 'scram-sha-256'`)
	require.NoError(t, err)
	const password = "Zm9vYmFy-_c0rrect.horse~battery"
	_, err = conn.Exec(ctx, `CREATE ROLE `+user+` LOGIN PASSWORD '`+password+`'`)
	require.NoError(t, err)
	var theirs string
	require.NoError(t, conn.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, user).Scan(&theirs))
	assert.True(t, postgres.SCRAMMatches(theirs, password), "PostgreSQL's own verifier: %s", theirs)
	assert.False(t, postgres.SCRAMMatches(theirs, password+"x"), "another password")
	assert.False(t, postgres.SCRAMMatches("md5abc", password), "not a SCRAM verifier")

	// Set through EnsureUsers, the stored verifier has a fresh salt and is not the password.
	db, err := postgres.Open(ctx, postgres.Options{URL: conn.Config().ConnString(), MaxConns: 2})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.EnsureUsers(ctx, conn.Config().Database, []postgres.User{{Name: user, Password: password}}))
	var stored string
	require.NoError(t, conn.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, user).Scan(&stored))
	assert.True(t, strings.HasPrefix(stored, "SCRAM-SHA-256$4096:"), stored)
	assert.NotEqual(t, theirs, stored, "a fresh salt")
	assert.True(t, postgres.SCRAMMatches(stored, password), "the verifier EnsureUsers stored")
	assert.NotContains(t, stored, password)
}
