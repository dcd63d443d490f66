// Package redis is the Redis adapter (go-redis): the building blocks the api-gateway needs —
// a rate limiter that says when to retry, an idempotency-key store, counters — and an
// in-process Redis (miniredis) for runs without REDIS_URL. Keys are namespaced by a prefix.
//
// The same code runs on a single node and on a Redis Cluster (ElastiCache in cluster mode):
// no transaction or script touches more than one key, and keys that one operation reads
// together share a hash tag, so they live in one slot. Pipelines of unrelated keys are not
// transactions: go-redis splits them by node.
//
// Every key that grows with traffic carries a TTL, and the server must not evict (the cache
// component sets maxmemory-policy noeviction): a nonce, an idempotency key or a limiter
// counter lost to eviction would reopen a replay, a double submit or a brute force.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// Client is a connected Redis with a key prefix.
type Client struct {
	rdb    goredis.UniversalClient
	prefix string
	mini   *miniredis.Miniredis
}

// OpenEmbedded starts an in-process Redis and connects to it.
func OpenEmbedded(prefix string) (*Client, error) {
	m, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	return &Client{rdb: goredis.NewClient(&goredis.Options{Addr: m.Addr()}), prefix: prefix, mini: m}, nil
}

// Close disconnects (and stops the embedded server).
func (c *Client) Close() error {
	err := c.rdb.Close()
	if c.mini != nil {
		c.mini.Close()
	}
	return err
}

// Ping reports whether Redis answers (every shard's master, on a cluster), for readiness.
func (c *Client) Ping(ctx context.Context) error { return ping(ctx, c.rdb) }

func (c *Client) key(parts ...string) string {
	k := c.prefix
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// tagged is the key prefix:{family:id}:rest...: keys with the same family and id share a
// hash tag, hence a cluster slot, whatever follows. The tag is never empty (it starts with
// family) and the prefix holds no brace (Options.Validate), so the first "{" is this one and
// the tag ends at the first "}" after it, which two keys of one id reach at the same place.
func (c *Client) tagged(family, id string, rest ...string) string {
	k := c.prefix + ":{" + family + ":" + id + "}"
	for _, p := range rest {
		k += ":" + p
	}
	return k
}

// Limiter allows Limit hits per Window per key, over a sliding window: the hits of the current
// fixed window plus those of the previous one, weighed by how much of it still overlaps the
// sliding window. The counts live in Redis, so every gateway replica shares them.
//
// A hit costs one round trip of plain commands (no script: a Lua script costs far more,
// and most in the embedded Redis): it creates the current window's counter with its expiry
// (SET NX PX, so a counter never lives without one: INCR keeps it), counts itself (INCR) and
// reads the previous window (GET). The two windows' keys share a hash tag, so on a cluster one
// node answers all three. No MULTI: a transaction must stay in one slot, and the batch mixes
// keys; commands of one connection run in order, which is all a hit needs.
// Concurrent hits share that round trip: while one pipeline is out, the hits that arrive wait
// and the first of them sends them all in the next (a group commit), so under load the
// gateway pays one round trip per batch of requests, not per request.
// A refused hit takes its count back with a second round trip, so only admitted hits count;
// the refused path is the rare one. Concurrent hits at the limit may see each other's
// not-yet-taken-back counts and be refused a moment early: the limiter errs towards refusing.
type Limiter struct {
	c      *Client
	Limit  int
	Window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	queue []*hit // waiting for the next pipeline
	busy  bool   // a pipeline is out; its sender hands over to queue[0]
}

// hit is one Allow's place in a pipeline.
type hit struct {
	cur, prev string // the current and the previous window's counters
	incr      *goredis.IntCmd
	last      *goredis.StringCmd
	err       error
	lead      bool          // set before done closes: this hit sends the next pipeline
	done      chan struct{} // closed when the hit is counted, or when it is to lead
}

// maxHits bounds the hits one pipeline carries.
const maxHits = 512

// NewLimiter returns a limiter on c.
func (c *Client) NewLimiter(limit int, window time.Duration) *Limiter {
	return &Limiter{c: c, Limit: limit, Window: window, now: time.Now}
}

// Allow counts a hit for key when allowed; otherwise it reports how long to wait before
// retrying (for Retry-After).
func (l *Limiter) Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	w := l.Window.Milliseconds()
	now := l.now().UnixMilli()
	slot := now / w
	elapsed := now - slot*w
	h := &hit{cur: l.c.tagged("rl", key, strconv.FormatInt(slot, 10)), prev: l.c.tagged("rl", key, strconv.FormatInt(slot-1, 10)), done: make(chan struct{})}
	if err := l.count(ctx, h); err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	c := h.incr.Val() // this hit included
	p, _ := h.last.Int64()
	if wait := slidingWait(c, p, int64(l.Limit), w, elapsed); wait > 0 {
		if err := l.c.rdb.Decr(ctx, h.cur).Err(); err != nil {
			return false, 0, fmt.Errorf("rate limit: %w", err)
		}
		return false, time.Duration(wait) * time.Millisecond, nil
	}
	return true, 0, nil
}

// count sends h in a pipeline with the hits waiting beside it: itself when no pipeline is
// out, otherwise the hit that leads the next one does.
func (l *Limiter) count(ctx context.Context, h *hit) error {
	l.mu.Lock()
	l.queue = append(l.queue, h)
	if l.busy {
		l.mu.Unlock()
		<-h.done
		if !h.lead {
			return h.err
		}
		l.mu.Lock()
	}
	l.busy = true
	n := min(len(l.queue), maxHits)
	batch := l.queue[:n:n]
	l.queue = l.queue[n:]
	l.mu.Unlock()

	// The pipeline carries other callers' hits: it is not cut short by this caller's end.
	pctx := context.WithoutCancel(ctx)
	_, err := l.c.rdb.Pipelined(pctx, func(p goredis.Pipeliner) error {
		for _, b := range batch {
			// The counter expires once the next window, which reads it, is over.
			p.SetArgs(pctx, b.cur, 0, goredis.SetArgs{Mode: "NX", TTL: 2 * l.Window})
			b.incr = p.Incr(pctx, b.cur)
			b.last = p.Get(pctx, b.prev)
		}
		return nil
	})
	var cmdErr goredis.Error
	if errors.As(err, &cmdErr) { // a command's own failure (nil included): its hit's alone
		err = nil
	}

	l.mu.Lock()
	var next *hit
	if len(l.queue) > 0 {
		next = l.queue[0]
	} else {
		l.busy = false
	}
	l.mu.Unlock()
	for _, b := range batch {
		b.err = err
		// A failed connection fails every hit; a failed command, only the hit it belongs to
		// (a previous window without hits reads as nil, which is no failure).
		if b.err == nil {
			b.err = b.incr.Err()
		}
		if e := b.last.Err(); b.err == nil && e != nil && !errors.Is(e, goredis.Nil) {
			b.err = e
		}
		if b != h {
			close(b.done)
		}
	}
	if next != nil {
		next.lead = true
		close(next.done)
	}
	return h.err
}

// slidingWait is 0 when c hits in the current window (this one included) and p in the
// previous one fit in limit, elapsed ms into a window of w ms; otherwise the ms until they
// would.
func slidingWait(c, p, limit, w, elapsed int64) int64 {
	// c + p*(w-elapsed)/w > limit, in integers.
	excess := c*w + p*(w-elapsed) - limit*w
	if excess <= 0 {
		return 0
	}
	if c > limit || p == 0 {
		return w - elapsed
	}
	// The previous window's weight must fall by the excess: excess/(p*w) of a window.
	return max((excess+p-1)/p, 1)
}

// IdempotencyStore remembers the outcome of a request by its idempotency key.
type IdempotencyStore struct {
	c   *Client
	TTL time.Duration
}

// NewIdempotencyStore returns a store keeping outcomes for ttl.
func (c *Client) NewIdempotencyStore(ttl time.Duration) *IdempotencyStore {
	return &IdempotencyStore{c: c, TTL: ttl}
}

// ErrInProgress means another request with the same key has begun and not finished.
var ErrInProgress = errors.New("request with this idempotency key in progress")

const pending = "\x00pending"

// Begin claims key. When the key is new it returns (nil, nil) and the caller must call
// Finish (or Abandon). When an outcome is stored it returns it; when another request holds
// the claim it returns ErrInProgress.
func (s *IdempotencyStore) Begin(ctx context.Context, key string) ([]byte, error) {
	k := s.c.key("idem", key)
	ok, err := s.c.rdb.SetNX(ctx, k, pending, s.TTL).Result()
	if err != nil {
		return nil, fmt.Errorf("idempotency begin: %w", err)
	}
	if ok {
		return nil, nil
	}
	v, err := s.c.rdb.Get(ctx, k).Bytes()
	if errors.Is(err, goredis.Nil) {
		return s.Begin(ctx, key) // expired in between
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency get: %w", err)
	}
	if string(v) == pending {
		return nil, ErrInProgress
	}
	return v, nil
}

// Finish stores the outcome for key.
func (s *IdempotencyStore) Finish(ctx context.Context, key string, outcome []byte) error {
	if string(outcome) == pending {
		return errors.New("idempotency outcome may not equal the pending marker")
	}
	return s.c.rdb.Set(ctx, s.c.key("idem", key), outcome, s.TTL).Err()
}

// Abandon releases a claim without an outcome, so a retry can run.
func (s *IdempotencyStore) Abandon(ctx context.Context, key string) error {
	return s.c.rdb.Del(ctx, s.c.key("idem", key)).Err()
}

// Counter is a named counter that expires ttl after its first increment (0: never).
type Counter struct {
	c   *Client
	ttl time.Duration
}

// NewCounter returns a counter family on c.
func (c *Client) NewCounter(ttl time.Duration) *Counter { return &Counter{c: c, ttl: ttl} }

var incrExpire = goredis.NewScript(`
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and v == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`)

// Add adds n to name and returns the new value.
func (k *Counter) Add(ctx context.Context, name string, n int64) (int64, error) {
	v, err := incrExpire.Run(ctx, k.c.rdb, []string{k.c.key("cnt", name)}, n, k.ttl.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("counter %s: %w", name, err)
	}
	return v, nil
}

// Get returns name's value (0 when unset).
func (k *Counter) Get(ctx context.Context, name string) (int64, error) {
	v, err := k.c.rdb.Get(ctx, k.c.key("cnt", name)).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return v, err
}

// Reset deletes name.
func (k *Counter) Reset(ctx context.Context, name string) error {
	return k.c.rdb.Del(ctx, k.c.key("cnt", name)).Err()
}
