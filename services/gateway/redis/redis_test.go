package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/gateway/redis"
)

var _ auth.Nonces = (*redis.Nonces)(nil)

// clients yields a miniredis client and, when reachable, the real server at TEST_REDIS_URL
// (a failure there when CI is set).
func clients(t *testing.T) map[string]goredis.UniversalClient {
	t.Helper()
	m := miniredis.RunT(t)
	out := map[string]goredis.UniversalClient{"miniredis": goredis.NewClient(&goredis.Options{Addr: m.Addr()})}
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	if err := c.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis unreachable at %s: %v", url, err)
		}
		t.Logf("real Redis unreachable, miniredis only: %v", err)
	} else {
		out["redis"] = c
	}
	t.Cleanup(func() {
		for _, c := range out {
			_ = c.Close()
		}
	})
	return out
}

func prefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "cdxtest:" + hex.EncodeToString(b) + ":"
}

func TestLimiter(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			// Two limiters on one prefix stand for two gateway replicas.
			p := prefix()
			a := redis.NewLimiter(c, p, 3, time.Hour)
			b := redis.NewLimiter(c, p, 3, time.Hour)
			for i, l := range []*redis.Limiter{a, b, a} {
				if ok, _, err := l.Allow(ctx, "user1"); !ok || err != nil {
					t.Fatalf("request %d refused: %v", i, err)
				}
			}
			ok, retry, err := b.Allow(ctx, "user1")
			if ok || err != nil || retry <= 0 || retry > time.Hour {
				t.Fatalf("fourth request: ok=%v retry=%v err=%v", ok, retry, err)
			}
			if ok, _, _ := a.Allow(ctx, "user2"); !ok {
				t.Fatal("other key limited")
			}
		})
	}
}

func TestNonces(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			n := redis.NewNonces(c, prefix())
			if ok, err := n.Claim(ctx, "sig", time.Minute); !ok || err != nil {
				t.Fatalf("first claim: %v %v", ok, err)
			}
			if ok, err := n.Claim(ctx, "sig", time.Minute); ok || err != nil {
				t.Fatalf("replay claimed: %v %v", ok, err)
			}
		})
	}
}
