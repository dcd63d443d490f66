package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frozenBudget is a budget limiter of limit hits a second whose clock stands at ms into
// window 1000000000.
func frozenBudget(c *Client, limit int, ms *atomic.Int64) *BudgetLimiter {
	l := c.NewBudgetLimiter(limit, time.Second)
	base := time.UnixMilli(1_000_000_000_000)
	l.now = func() time.Time { return base.Add(time.Duration(ms.Load()) * time.Millisecond) }
	return l
}

// N replicas (limiters of their own on one Redis) hammering one key together admit no more
// than the limit: every admitted hit was reserved in the shared counter first. They admit at
// least the limit less the leases the replicas may still hold unused.
func TestBudgetAcrossReplicas(t *testing.T) {
	const replicas, limit = 4, 160
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var ms atomic.Int64
			var ls []*BudgetLimiter
			for range replicas {
				ls = append(ls, frozenBudget(c, limit, &ms))
			}
			lease := ls[0].Lease
			require.Greater(t, lease, 1, "the test needs leases of more than one hit")
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for i := range replicas * 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range limit { // until refused
						ok, _, err := ls[i%replicas].Allow(ctx, "shared")
						if !assert.NoError(t, err) || !ok {
							return
						}
						admitted.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.LessOrEqual(t, admitted.Load(), int64(limit), "admitted by %d replicas (limit %d)", replicas, limit)
			assert.GreaterOrEqual(t, admitted.Load(), int64(limit-replicas*lease), "admitted by %d replicas (leases of %d)", replicas, lease)
			require.Eventually(t, func() bool { // background reservations settle
				for _, l := range ls {
					l.mu.Lock()
					out := l.buckets["shared"].claim != nil
					l.mu.Unlock()
					if out {
						return false
					}
				}
				return true
			}, 5*time.Second, time.Millisecond)
			n, err := c.rdb.Get(ctx, c.tagged("rl", "shared", "1000000000")).Int64()
			require.NoError(t, err)
			assert.LessOrEqual(t, n, int64(limit), "the shared counter")
			assert.GreaterOrEqual(t, n, admitted.Load(), "the shared counter holds every admitted hit")
		})
	}
}

// Hits the local bucket covers do not wait for Redis: with Redis gone, the hits of a lease
// reserved before are still admitted, and the next one that needs Redis fails.
func TestBudgetLeaseAnswersWithoutRedis(t *testing.T) {
	c, err := OpenEmbedded("budget")
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	var ms atomic.Int64
	l := frozenBudget(c, 32*16, &ms) // leases of 32
	ok, _, err := l.Allow(ctx, "k")
	require.NoError(t, err)
	require.True(t, ok)
	c.mini.Close()
	for i := 1; i < l.Lease; i++ {
		ok, _, err := l.Allow(ctx, "k")
		require.NoError(t, err, "hit %d of the lease", i)
		require.True(t, ok, "hit %d of the lease", i)
	}
	require.Eventually(t, func() bool { // the reservation ahead fails in the background
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.buckets["k"].claim == nil
	}, 10*time.Second, time.Millisecond)
	_, _, err = l.Allow(ctx, "k")
	assert.Error(t, err, "a hit past the lease needs Redis")
}
