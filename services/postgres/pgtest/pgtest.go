// Package pgtest gives tests their own migrated PostgreSQL database. It reads
// TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) as the
// admin connection, creates a uniquely named database per call and drops it when the test
// ends. When the server is unreachable the test is skipped, unless CI is set: then it fails, so
// CI never silently skips integration tests.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/postgres"
)

// AdminURL is the admin connection string tests use.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewURL creates an empty database named cdx_<prefix>_<random>, drops it at cleanup, and
// returns its URL.
func NewURL(tb testing.TB, prefix string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := AdminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		require.Empty(tb, os.Getenv("CI"), "PostgreSQL unreachable at TEST_DATABASE_URL and CI is set: %v", err)
		tb.Skipf("PostgreSQL unreachable (set TEST_DATABASE_URL): %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cdx_" + strings.ToLower(prefix) + "_" + hex.EncodeToString(b[:])
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(tb, err, "create test database")
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Logf("drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	require.NoError(tb, err)
	u.Path = "/" + name
	return u.String()
}

// New returns an open, migrated database of its own, closed at cleanup.
func New(tb testing.TB, prefix string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), postgres.Options{URL: NewURL(tb, prefix), MaxConns: 8})
	require.NoError(tb, err)
	tb.Cleanup(db.Close)
	return db
}

// Available reports whether the admin connection works. When it does not and CI is set the
// test fails, so CI never silently falls back.
func Available(tb testing.TB) bool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		require.Empty(tb, os.Getenv("CI"), "PostgreSQL unreachable at TEST_DATABASE_URL and CI is set: %v", err)
		return false
	}
	conn.Close(ctx)
	return true
}

// BackendsCPU is the user and system CPU time of the server processes connected to db's
// database, read from /proc; ok is false when they cannot be read (another machine's server).
func BackendsCPU(ctx context.Context, db *postgres.DB) (user, sys time.Duration, ok bool) {
	rows, err := db.Pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return 0, 0, false
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(pids) == 0 {
		return 0, 0, false
	}
	var ut, st int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, 0, false
		}
		// The fields after the command name (which may hold spaces) end with ')'.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			return 0, 0, false
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ut, st = ut+u, st+s
	}
	const tick = time.Second / 100 // USER_HZ is 100 on Linux
	return time.Duration(ut) * tick, time.Duration(st) * tick, true
}
