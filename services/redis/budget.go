package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// BudgetLimiter is Limiter's sliding window with the Redis round trip off the request path:
// each replica admits hits from a local token bucket, a lease of hits it reserved in the
// shared Redis counter beforehand, and reserves the next lease in the background when the
// bucket runs low. A hit waits for Redis only when its replica holds no lease for its key:
// the first hit of a key in a window, or a burst that outruns the background reservation.
//
// How the limit holds across replicas: every hit any replica admits was counted in Redis
// before it was admitted, because a lease is reserved with INCRBY on the window's shared
// counter (the same counters, keys and window arithmetic as Limiter) and keeps only the part
// of it that fits the limit, as judged from the counter's value after everyone's reservations
// so far, giving the rest back. So the hits all replicas admit in a sliding window together
// never exceed Limit (TestBudgetAcrossReplicas: N replicas hammering one key admit at most
// Limit, 0 over). The price is paid the other way: a lease not used up by the end of its
// window is lost (given back to the old window's counter when the key is next seen, where it
// only weighs on the next window's previous-window share), so a caller may be refused while
// other replicas hold unused leases: at most Lease hits per replica that holds one, fewer
// than Limit admitted in the worst case by (replicas-1) × Lease. A lease is Limit/16 hits
// (at least 1, at most 256): a 100/s limit reserves 6 at a time, one round trip per 6 hits
// instead of one per hit, and a limit under 32 reserves 1, which is Limiter's one trip per
// hit (no reservation ahead).
//
// A window found full is remembered: until the wait it advertised is over, the replica
// refuses the key's hits without asking Redis again. Redis failures fail the hits that need
// a lease (an error, as Limiter's), not those the bucket still covers.
type BudgetLimiter struct {
	c      *Client
	Limit  int
	Window time.Duration
	Lease  int // hits reserved at a time
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   int64 // the window whose start last swept buckets of older windows
}

// bucket is one key's lease on this replica.
type bucket struct {
	slot     int64         // the window the tokens belong to
	tokens   int64         // hits still admissible in slot
	fullTill int64         // Unix ms until which slot is known to be full
	claim    chan struct{} // a reservation is out; closed when it is settled
	err      error         // the last reservation's failure, for the hits that waited on it
}

// NewBudgetLimiter returns a limiter on c admitting limit hits per window per key.
func (c *Client) NewBudgetLimiter(limit int, window time.Duration) *BudgetLimiter {
	return &BudgetLimiter{c: c, Limit: limit, Window: window, Lease: min(max(limit/16, 1), 256), now: time.Now,
		buckets: map[string]*bucket{}}
}

// Allow counts a hit for key when allowed; otherwise it reports how long to wait before
// retrying.
func (l *BudgetLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	w := l.Window.Milliseconds()
	l.mu.Lock()
	for {
		now := l.now().UnixMilli()
		slot := now / w
		l.sweep(slot)
		b := l.buckets[key]
		if b == nil {
			b = &bucket{slot: slot}
			l.buckets[key] = b
		}
		if b.slot != slot && b.claim == nil {
			if b.tokens > 0 && b.slot == slot-1 { // the last window's unused lease, back
				go l.giveBack(key, b.slot, b.tokens)
			}
			*b = bucket{slot: slot}
		}
		switch {
		case b.slot == slot && b.tokens > 0:
			b.tokens--
			if b.tokens <= int64(l.Lease/2) && l.Lease > 1 && b.claim == nil && b.fullTill <= now {
				l.reserve(key, b, slot, now) // ahead, in the background
			}
			l.mu.Unlock()
			return true, 0, nil
		case b.slot == slot && b.fullTill > now:
			l.mu.Unlock()
			return false, time.Duration(b.fullTill-now) * time.Millisecond, nil
		case b.claim == nil:
			l.reserve(key, b, slot, now)
		}
		claim := b.claim
		l.mu.Unlock()
		select {
		case <-claim:
		case <-ctx.Done():
			return false, 0, fmt.Errorf("rate limit: %w", ctx.Err())
		}
		l.mu.Lock()
		if b.err != nil && b.tokens == 0 {
			err := b.err
			l.mu.Unlock()
			return false, 0, fmt.Errorf("rate limit: %w", err)
		}
	}
}

// reserve sends a reservation of a lease for key in slot; l.mu is held.
func (l *BudgetLimiter) reserve(key string, b *bucket, slot, now int64) {
	b.claim = make(chan struct{})
	go func() {
		granted, fullTill, err := l.lease(key, slot, now)
		l.mu.Lock()
		defer l.mu.Unlock()
		if b.slot == slot {
			b.tokens += granted
			b.fullTill = fullTill
		} else if granted > 0 { // the window ended meanwhile
			go l.giveBack(key, slot, granted)
		}
		b.err = err
		close(b.claim)
		b.claim = nil
	}()
}

// lease reserves up to Lease hits of key in slot at now: it counts them on the window's
// counter, keeps those that fit in the limit (with the previous window's weighed hits) and
// gives the others back. With fewer than asked it also says until when the window is full.
func (l *BudgetLimiter) lease(key string, slot, now int64) (granted, fullTill int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, limit, ask := l.Window.Milliseconds(), int64(l.Limit), int64(l.Lease)
	elapsed := now - slot*w
	cur, prev := l.c.tagged("rl", key, strconv.FormatInt(slot, 10)), l.c.tagged("rl", key, strconv.FormatInt(slot-1, 10))
	var incr *goredis.IntCmd
	var last *goredis.StringCmd
	_, err = l.c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.SetArgs(ctx, cur, 0, goredis.SetArgs{Mode: "NX", TTL: 2 * l.Window})
		incr = p.IncrBy(ctx, cur, ask)
		last = p.Get(ctx, prev)
		return nil
	})
	if errors.Is(err, goredis.Nil) { // a previous window without hits reads as nil
		err = nil
	}
	if err == nil {
		err = incr.Err()
	}
	if e := last.Err(); err == nil && e != nil && !errors.Is(e, goredis.Nil) {
		err = e
	}
	if err != nil {
		return 0, 0, err
	}
	before := incr.Val() - ask
	p, _ := last.Int64()
	// The most hits c of this window with c*w + p*(w-elapsed) <= limit*w (slidingWait's rule).
	granted = min(max((limit*w-p*(w-elapsed))/w-before, 0), ask)
	if granted < ask {
		fullTill = now + slidingWait(before+granted+1, p, limit, w, elapsed)
		if err := l.c.rdb.DecrBy(ctx, cur, ask-granted).Err(); err != nil {
			return granted, fullTill, nil // the counter over-counts: it errs towards refusing
		}
	}
	return granted, fullTill, nil
}

// giveBack returns n unused hits of key's lease in slot to its counter (best effort: a
// failure only over-counts, which refuses early).
func (l *BudgetLimiter) giveBack(key string, slot, n int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.c.rdb.DecrBy(ctx, l.c.tagged("rl", key, strconv.FormatInt(slot, 10)), n).Err()
}

// sweep drops, once per window, the buckets of windows before the previous one; l.mu is held.
func (l *BudgetLimiter) sweep(slot int64) {
	if slot <= l.swept {
		return
	}
	l.swept = slot
	for k, b := range l.buckets {
		if b.slot < slot-1 && b.claim == nil {
			delete(l.buckets, k)
		}
	}
}
