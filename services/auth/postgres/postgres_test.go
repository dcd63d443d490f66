package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/auth/authtest"
	"github.com/cantondex/platform/services/auth/memory"
	"github.com/cantondex/platform/services/auth/postgres"
	pgdb "github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/trading"
)

// testPool creates a uniquely named database on TEST_DATABASE_URL's server, migrates it and
// drops it when the test ends. Without a reachable server the test skips, unless CI is set.
func testPool(t *testing.T, migrate func(*pgxpool.Pool)) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		require.Empty(t, os.Getenv("CI"), "PostgreSQL unreachable at TEST_DATABASE_URL: %v", err)
		t.Skipf("PostgreSQL unreachable (set TEST_DATABASE_URL): %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "cdx_auth_" + hex.EncodeToString(b)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	cfg, err := pgxpool.ParseConfig(admin)
	require.NoError(t, err)
	cfg.ConnConfig.Database = name
	cfg.MaxConns = 40 // so that concurrent claims in the contract really run at once
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		pool.Close()
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = conn.Close(ctx)
	})
	if migrate != nil {
		migrate(pool)
	}
	db := &pgdb.DB{Pool: pool}
	require.NoError(t, db.Migrate(ctx), "first migrate")
	require.NoError(t, db.Migrate(ctx), "second migrate")
	return pool
}

func TestStore(t *testing.T) { authtest.TestStore(t, postgres.NewStore(testPool(t, nil))) }

// oldSchema is the auth schema as the auth service's own migration (001_auth.sql) left it
// before the auth store moved under services/postgres's migrations.
const oldSchema = `
CREATE TABLE auth_users (id text PRIMARY KEY, email text NOT NULL UNIQUE, role text NOT NULL CHECK (role IN ('trader', 'admin')),
    password_hash text NOT NULL, failed_logins integer NOT NULL DEFAULT 0, locked_until timestamptz, created_at timestamptz NOT NULL);
CREATE TABLE auth_refresh_tokens (hash text PRIMARY KEY, user_id text NOT NULL REFERENCES auth_users (id),
    expires_at timestamptz NOT NULL, created_at timestamptz NOT NULL, revoked_at timestamptz);
CREATE INDEX auth_refresh_tokens_user ON auth_refresh_tokens (user_id) WHERE revoked_at IS NULL;
CREATE TABLE auth_api_keys (id text PRIMARY KEY, user_id text NOT NULL REFERENCES auth_users (id), label text NOT NULL,
    scopes text[] NOT NULL, sealed bytea NOT NULL, created_at timestamptz NOT NULL, revoked_at timestamptz);
CREATE INDEX auth_api_keys_user ON auth_api_keys (user_id, created_at);
INSERT INTO auth_users VALUES ('u1', 'a@example.com', 'trader', 'h', 2, NULL, now());
INSERT INTO auth_refresh_tokens VALUES ('t1', 'u1', now() + interval '1 hour', now(), NULL);
INSERT INTO auth_api_keys VALUES ('ak_1', 'u1', 'bot', '{read}', '\x01', now(), NULL);
`

// A database the old mechanism migrated keeps its users, keys and refresh tokens (each
// becoming a session of its own) under the one migration mechanism.
func TestMigratesTheOldAuthSchema(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t, func(p *pgxpool.Pool) {
		_, err := p.Exec(ctx, oldSchema)
		require.NoError(t, err)
	})
	s := postgres.NewStore(pool)
	u, err := s.UserByEmail(ctx, "a@example.com")
	require.NoError(t, err)
	assert.Equal(t, "u1", u.ID)
	k, err := s.APIKey(ctx, "ak_1")
	require.NoError(t, err)
	assert.Equal(t, "bot", k.Label)
	old, err := s.RotateRefreshToken(ctx, "t1", auth.RefreshToken{Hash: "t2", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, time.Now())
	require.NoError(t, err)
	assert.Equal(t, "u1", old.UserID)
	sess, err := s.Session(ctx, old.SessionID)
	require.NoError(t, err)
	assert.True(t, sess.RevokedAt.IsZero())
}

// countingStore counts the reads of sessions (its embedded store's feed is promoted).
type countingStore struct {
	*postgres.Store
	reads atomic.Int64
}

func (c *countingStore) Session(ctx context.Context, id string) (auth.Session, error) {
	c.reads.Add(1)
	return c.Store.Session(ctx, id)
}

// Two replicas over one database: each reuses a session it read active while its feed
// listens (a reuse window of an hour here, so that only the feed can end it), and forgets it
// when the session is revoked anywhere: through the other replica (logout, password change)
// or by a statement of nobody's (an operator's UPDATE). A replica whose feed connection is
// killed reads every session again until it listens anew.
func TestSessionsReusedUntilRevokedAnywhere(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := testPool(t, nil)
	replica := func() (*auth.Service, *countingStore) {
		st := &countingStore{Store: postgres.NewStore(pool)}
		s, err := auth.NewService(st, memory.NewNonces(time.Now), auth.Config{
			TokenKey: []byte(strings.Repeat("k", 32)), SealKey: []byte(strings.Repeat("s", 32)),
			Hash: auth.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}, SessionReuse: time.Hour,
		})
		require.NoError(t, err)
		go s.WatchSessions(ctx)
		return s, st
	}
	a, _ := replica()
	b, bst := replica()
	_, err := a.CreateUser(ctx, "alice@example.com", "correct horse battery", auth.RoleTrader)
	require.NoError(t, err)
	login := func() auth.Tokens {
		tok, err := a.Login(ctx, "alice@example.com", "correct horse battery", "192.0.2.1")
		require.NoError(t, err)
		return tok
	}
	reused := func(s *auth.Service, st *countingStore, token string) bool {
		before := st.reads.Load()
		_, err := s.Authenticate(ctx, token)
		return err == nil && st.reads.Load() == before
	}
	rejected := func(s *auth.Service, token string) func() bool {
		return func() bool {
			_, err := s.Authenticate(ctx, token)
			return trading.ErrorCode(err) == trading.EUNAUTHORIZED
		}
	}

	// Logout through a: a stops at once, b as soon as its feed tells it.
	t1 := login()
	require.Eventually(t, func() bool { return reused(b, bst, t1.AccessToken) }, 10*time.Second, 10*time.Millisecond, "b reuses the session once listening")
	require.NoError(t, a.Logout(ctx, t1.RefreshToken))
	assert.True(t, rejected(a, t1.AccessToken)(), "the replica that logged out, at once")
	require.Eventually(t, rejected(b, t1.AccessToken), 10*time.Second, 10*time.Millisecond, "the other replica")

	// An operator's statement revokes a session behind both replicas' backs.
	t2 := login()
	require.Eventually(t, func() bool { return reused(b, bst, t2.AccessToken) }, 10*time.Second, 10*time.Millisecond)
	_, err = pool.Exec(ctx, `UPDATE auth_sessions SET revoked_at = now() WHERE revoked_at IS NULL`)
	require.NoError(t, err)
	require.Eventually(t, rejected(b, t2.AccessToken), 10*time.Second, 10*time.Millisecond, "revoked by a statement")

	// b's feed connection dies: b reads every session again (and listens again later).
	t3 := login()
	require.Eventually(t, func() bool { return reused(b, bst, t3.AccessToken) }, 10*time.Second, 10*time.Millisecond)
	var killed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN cantondex_auth_sessions'`).Scan(&killed))
	require.Equal(t, 2, killed, "both replicas' feed connections")
	require.Eventually(t, func() bool {
		before := bst.reads.Load()
		_, err := b.Authenticate(ctx, t3.AccessToken)
		return err == nil && bst.reads.Load() == before+1
	}, 10*time.Second, 10*time.Millisecond, "read again while the feed is down")
	require.Eventually(t, func() bool { return reused(b, bst, t3.AccessToken) }, 10*time.Second, 10*time.Millisecond, "listening again")
	_, err = pool.Exec(ctx, `UPDATE auth_sessions SET revoked_at = now() WHERE revoked_at IS NULL`)
	require.NoError(t, err)
	require.Eventually(t, rejected(b, t3.AccessToken), 10*time.Second, 10*time.Millisecond, "the new feed reports revocations")
}
