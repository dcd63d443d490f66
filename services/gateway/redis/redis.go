// Package redis holds the gateway's shared admission state in Redis, so every gateway replica
// sees the same counts: request rate limits per user and per API key, and the nonces that
// stop a signed request from being replayed.
package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Limiter is a fixed-window rate limiter: at most Limit requests per Window per key.
type Limiter struct {
	client goredis.UniversalClient
	prefix string
	limit  int
	window time.Duration
	now    func() time.Time
}

// NewLimiter returns a limiter of limit requests per window, keeping its counters under
// prefix.
func NewLimiter(client goredis.UniversalClient, prefix string, limit int, window time.Duration) *Limiter {
	return &Limiter{client: client, prefix: prefix, limit: limit, window: window, now: time.Now}
}

// incr counts one request in the window and sets the window's expiry on its first request.
var incr = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// Allow counts a request for key. When the key is over its limit it reports false and how long
// until the window ends.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	w := l.window.Milliseconds()
	slot := now.UnixMilli() / w
	k := fmt.Sprintf("%s%s:%d", l.prefix, key, slot)
	n, err := incr.Run(ctx, l.client, []string{k}, w+1000).Int64()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	if n > int64(l.limit) {
		retry := time.Duration((slot+1)*w-now.UnixMilli()) * time.Millisecond
		return false, retry, nil
	}
	return true, 0, nil
}

// Nonces claims keys with SET NX: the first claim within ttl wins.
type Nonces struct {
	client goredis.UniversalClient
	prefix string
}

// NewNonces returns a nonce set keeping its keys under prefix.
func NewNonces(client goredis.UniversalClient, prefix string) *Nonces {
	return &Nonces{client: client, prefix: prefix}
}

// Claim reports true the first time key is claimed within ttl.
func (n *Nonces) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := n.client.SetNX(ctx, n.prefix+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("claim nonce: %w", err)
	}
	return ok, nil
}
