package platformtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// RealDependencies creates a uniquely named database on TEST_DATABASE_URL's server (default
// the local PostgreSQL) and checks TEST_REDIS_URL (default the local Redis). It returns the
// database's URL, the Redis URL and a unique key prefix; the database and the prefix's keys
// are removed when t ends (register it before starting a platform on them, so the platform
// stops first). When either server is unreachable the test skips, unless CI is set.
func RealDependencies(t *testing.T) (dbURL, redisURL, prefix string) {
	t.Helper()
	d, err := NewRealDeps()
	if errors.Is(err, ErrUnreachable) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(d.Remove)
	return d.DatabaseURL, d.RedisURL, d.Prefix
}

// ErrUnreachable is NewRealDeps's error when PostgreSQL or Redis does not answer.
var ErrUnreachable = errors.New("unreachable")

// RealDeps are a fresh database and a Redis key prefix for one platform.
type RealDeps struct {
	DatabaseURL, RedisURL, Prefix string
	Remove                        func() // drops the database and the prefix's keys
}

// Env is the platform settings that use them.
func (d RealDeps) Env() []string {
	return []string{"DATABASE_URL=" + d.DatabaseURL, "REDIS_URL=" + d.RedisURL, "REDIS_PREFIX=" + d.Prefix}
}

// NewRealDeps is RealDependencies without a test, for a platform a whole suite shares.
func NewRealDeps() (RealDeps, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/0"
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return RealDeps{}, fmt.Errorf("PostgreSQL %w at TEST_DATABASE_URL: %v", ErrUnreachable, err)
	}
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		_ = conn.Close(ctx)
		return RealDeps{}, fmt.Errorf("TEST_REDIS_URL: %w", err)
	}
	rdb := goredis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = conn.Close(ctx)
		_ = rdb.Close()
		return RealDeps{}, fmt.Errorf("redis %w at TEST_REDIS_URL: %v", ErrUnreachable, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "cdx_e2e_" + hex.EncodeToString(b)
	prefix := "cdxe2e" + hex.EncodeToString(b)
	u, err := url.Parse(admin)
	if err == nil {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	}
	if err != nil {
		_ = conn.Close(ctx)
		_ = rdb.Close()
		return RealDeps{}, fmt.Errorf("test database: %w", err)
	}
	u.Path = "/" + name
	return RealDeps{DatabaseURL: u.String(), RedisURL: redisURL, Prefix: prefix, Remove: func() {
		ctx := context.Background()
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = conn.Close(ctx)
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	}}, nil
}
