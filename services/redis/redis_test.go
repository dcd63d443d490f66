package redis

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/redis/redistest"
	"github.com/cantondex/platform/services/trading"
)

// The package's tests run against a Redis Cluster of three masters this binary starts (or
// TEST_REDIS_CLUSTER_ADDRS).
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// clients returns the embedded Redis, the real single node (TEST_REDIS_URL) and the real
// Redis Cluster, each with a key prefix of its own whose keys are deleted at cleanup. A real
// server that cannot be had skips the test, or fails it when CI is set.
func clients(t testing.TB) map[string]*Client {
	t.Helper()
	prefix := redistest.Prefix()
	ctx := context.Background()
	m, err := OpenEmbedded(prefix)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	out := map[string]*Client{"embedded": m}

	single, err := Open(ctx, Options{URL: redistest.URL(), Prefix: prefix})
	if err != nil {
		redistest.Unavailable(t, "Redis unreachable at TEST_REDIS_URL: %v", err)
	}
	out["single"] = single
	cluster, err := Open(ctx, Options{URL: "redis://" + redistest.ClusterAddrs(t)[0], Cluster: true, Prefix: prefix})
	require.NoError(t, err, "Redis Cluster")
	out["cluster"] = cluster
	for _, c := range []*Client{single, cluster} {
		t.Cleanup(func() {
			assert.NoError(t, forEachNode(ctx, c, func(n goredis.UniversalClient) error {
				keys, err := n.Keys(ctx, prefix+":*").Result()
				for _, k := range keys {
					n.Del(ctx, k)
				}
				return err
			}))
			c.Close()
		})
	}
	return out
}

// forEachNode runs fn on each master of a cluster, or on the single node.
func forEachNode(ctx context.Context, c *Client, fn func(goredis.UniversalClient) error) error {
	if cc, ok := c.rdb.(*goredis.ClusterClient); ok {
		var mu sync.Mutex
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return fn(n)
		})
	}
	return fn(c.rdb)
}

// clocked is a limiter with its clock: Limiter and BudgetLimiter.
type clocked struct {
	Allow  func(ctx context.Context, key string) (bool, time.Duration, error)
	setNow func(func() time.Time)
}

// limiters are both limiters of limit hits a second on c, by name.
func limiters(c *Client, limit int) map[string]clocked {
	l, b := c.NewLimiter(limit, time.Second), c.NewBudgetLimiter(limit, time.Second)
	return map[string]clocked{
		"sliding": {l.Allow, func(now func() time.Time) { l.now = now }},
		"budget":  {b.Allow, func(now func() time.Time) { b.now = now }},
	}
}

// Both limiters count a sliding window, refused hits not counted, with the same waits.
func TestLimiterSlidingWindow(t *testing.T) {
	for name, c := range clients(t) {
		for kind, l := range limiters(c, 3) {
			t.Run(name+"/"+kind, func(t *testing.T) {
				ctx := context.Background()
				base := time.UnixMilli(1_000_000_000_000) // a window boundary
				at := func(ms int64) { l.setNow(func() time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }) }
				allow := func(key string) (bool, time.Duration) {
					ok, wait, err := l.Allow(ctx, kind+key)
					require.NoError(t, err)
					return ok, wait
				}
				at(0)
				for i := 0; i < 3; i++ {
					ok, _ := allow("a")
					require.True(t, ok, "hit %d refused", i)
				}
				ok, wait := allow("a")
				assert.False(t, ok, "4th hit")
				assert.Equal(t, time.Second, wait, "4th hit's wait")
				ok, _ = allow("b")
				assert.True(t, ok, "another key is limited too")
				n, err := c.rdb.Get(ctx, c.tagged("rl", kind+"a", "1000000000")).Int64()
				require.NoError(t, err)
				assert.Equal(t, int64(3), n, "the shared counter holds the admitted hits, not the refused one")
				// The counters expire on their own, after the window that still reads them.
				ttl := c.rdb.PTTL(ctx, c.tagged("rl", kind+"a", "1000000000")).Val()
				assert.Greater(t, ttl, time.Second)
				assert.LessOrEqual(t, ttl, 2*time.Second)
				// Next window: the previous one still weighs fully, so wait a third of a window
				// (refused hits are not counted: had the 4th counted, the wait would be half).
				at(1000)
				ok, wait = allow("a")
				assert.False(t, ok, "at 1000ms")
				assert.Equal(t, 334*time.Millisecond, wait, "at 1000ms")
				at(1334)
				ok, _ = allow("a")
				assert.True(t, ok, "refused after the advertised wait")
			})
		}
	}
}

// The two windows a hit reads share a slot, whatever the limited key holds (braces included),
// so one cluster node answers a hit; the keys of different limited keys spread over the slots.
func TestLimiterWindowsShareASlot(t *testing.T) {
	c := clients(t)["cluster"]
	ctx := context.Background()
	cc := c.rdb.(*goredis.ClusterClient)
	slots := map[int64]bool{}
	for _, key := range []string{"", "a", "user:42", "}", "{", "{x}", "a}b{c", "login:10.0.0.1", "k1", "k2", "k3", "k4"} {
		cur, err := cc.ClusterKeySlot(ctx, c.tagged("rl", key, "1000000000")).Result()
		require.NoError(t, err)
		prev, err := cc.ClusterKeySlot(ctx, c.tagged("rl", key, "999999999")).Result()
		require.NoError(t, err)
		assert.Equal(t, cur, prev, "key %q: windows in slots %d and %d", key, cur, prev)
		slots[cur] = true
	}
	assert.Greater(t, len(slots), 3, "the tag must hold the limited key, not only the prefix")
}

// frozenLimiter is a limiter of limit hits a second whose clock stands at the start of window
// 1000000000.
func frozenLimiter(c *Client, limit int) *Limiter {
	l := c.NewLimiter(limit, time.Second)
	at := time.UnixMilli(1_000_000_000_000)
	l.now = func() time.Time { return at }
	return l
}

// Concurrent hits share pipelines: a burst on one key admits no more than the limit, on
// another key nothing is refused, and the refused hits are taken back, so the counter holds
// exactly the admitted ones. On the cluster the pipelines mix keys of every master.
func TestLimiterConcurrentHits(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l := frozenLimiter(c, 20)
			var admitted, refused, other atomic.Int64
			var wg sync.WaitGroup
			for i := range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := "burst"
					if i%2 == 1 {
						key = fmt.Sprint("calm-", i) // one hit each: always admitted
					}
					ok, _, err := l.Allow(ctx, key)
					switch {
					case err != nil:
						assert.NoError(t, err, key)
					case key != "burst" && ok:
						other.Add(1)
					case key != "burst":
						assert.Failf(t, "a key with one hit refused", "%s refused", key)
					case ok:
						admitted.Add(1)
					default:
						refused.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.Positive(t, admitted.Load(), "burst admitted")
			assert.LessOrEqual(t, admitted.Load(), int64(20), "burst admitted (limit 20)")
			assert.Equal(t, int64(100), admitted.Load()+refused.Load(), "burst hits answered")
			assert.Equal(t, int64(100), other.Load(), "other keys admitted")
			n, err := c.rdb.Get(ctx, c.tagged("rl", "burst", "1000000000")).Int64()
			require.NoError(t, err)
			assert.Equal(t, admitted.Load(), n, "the counter holds the admitted hits")
			if name == "cluster" {
				var holding atomic.Int64
				require.NoError(t, forEachNode(ctx, c, func(n goredis.UniversalClient) error {
					keys, err := n.Keys(ctx, c.prefix+":{rl:*").Result()
					if len(keys) > 0 {
						holding.Add(1)
					}
					return err
				}))
				assert.Equal(t, int64(3), holding.Load(), "masters holding limiter keys")
			}
		})
	}
}

// A hit whose counter cannot be counted (here: the key holds a list) fails alone; the hits
// that share its pipeline are counted as usual.
func TestLimiterFailedHitFailsAlone(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l := frozenLimiter(c, 1000)
			require.NoError(t, c.rdb.LPush(ctx, c.tagged("rl", "broken", "1000000000"), "x").Err())
			var failed, admitted atomic.Int64
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := fmt.Sprint("fine-", i)
					if i%4 == 0 {
						key = "broken"
					}
					ok, _, err := l.Allow(ctx, key)
					switch {
					case key == "broken" && err != nil:
						failed.Add(1)
					case key != "broken" && err == nil && ok:
						admitted.Add(1)
					default:
						assert.Failf(t, "a hit answered wrongly", "%s: ok=%v err=%v", key, ok, err)
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, int64(25), failed.Load(), "hits on the broken key failed")
			assert.Equal(t, int64(75), admitted.Load(), "other hits admitted")
		})
	}
}

func TestIdempotencyStore(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := c.NewIdempotencyStore(time.Minute)
			v, err := s.Begin(ctx, "k")
			require.NoError(t, err)
			assert.Nil(t, v, "first begin")
			_, err = s.Begin(ctx, "k")
			assert.ErrorIs(t, err, ErrInProgress, "second begin")
			require.NoError(t, s.Finish(ctx, "k", []byte("201 created")))
			v, err = s.Begin(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, "201 created", string(v), "after finish")
			ttl := c.rdb.PTTL(ctx, c.key("idem", "k")).Val()
			assert.Positive(t, ttl, "an outcome expires")
			assert.LessOrEqual(t, ttl, time.Minute)

			_, err = s.Begin(ctx, "k2")
			require.NoError(t, err)
			require.NoError(t, s.Abandon(ctx, "k2"))
			v, err = s.Begin(ctx, "k2")
			require.NoError(t, err)
			assert.Nil(t, v, "after abandon")
		})
	}
}

func TestCounter(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			k := c.NewCounter(time.Minute)
			for i, want := range []int64{5, 7} {
				v, err := k.Add(ctx, "logins", []int64{5, 2}[i])
				require.NoError(t, err)
				assert.Equal(t, want, v)
			}
			v, err := k.Get(ctx, "logins")
			require.NoError(t, err)
			assert.Equal(t, int64(7), v)
			ttl := c.rdb.PTTL(ctx, c.key("cnt", "logins")).Val()
			assert.Positive(t, ttl)
			assert.LessOrEqual(t, ttl, time.Minute)
			require.NoError(t, k.Reset(ctx, "logins"))
			v, err = k.Get(ctx, "logins")
			require.NoError(t, err)
			assert.Zero(t, v, "after reset")
		})
	}
}

func TestBooksKeepLatestDepth(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			bs := c.Books()
			b, err := bs.Book(ctx, "BTC-USD", 5)
			require.NoError(t, err)
			assert.Equal(t, "BTC-USD", b.Market)
			assert.Empty(t, b.Bids, "unknown book")
			assert.Empty(t, b.Asks, "unknown book")
			levels := func(n int, from int64) []trading.Level {
				var ls []trading.Level
				for i := 0; i < n; i++ {
					ls = append(ls, trading.Level{Price: from - int64(i), Quantity: 1, Orders: 1})
				}
				return ls
			}
			require.NoError(t, bs.Put(ctx, trading.Book{Market: "BTC-USD", Bids: levels(3, 100), Seq: 1}))
			require.NoError(t, bs.Put(ctx, trading.Book{Market: "BTC-USD", Bids: levels(10, 99), Asks: levels(1, 101), Seq: 2}))
			b, err = bs.Book(ctx, "BTC-USD", 4)
			require.NoError(t, err)
			assert.Equal(t, uint64(2), b.Seq)
			require.Len(t, b.Bids, 4)
			assert.Equal(t, int64(99), b.Bids[0].Price)
			assert.Len(t, b.Asks, 1)

			// One Put of many markets: on the cluster their keys live on different masters.
			var many []trading.Book
			for i := range 20 {
				many = append(many, trading.Book{Market: fmt.Sprintf("M%d-USD", i), Bids: levels(1, int64(100+i)), Seq: 3})
			}
			require.NoError(t, bs.Put(ctx, many...))
			for i := range 20 {
				b, err := bs.Book(ctx, fmt.Sprintf("M%d-USD", i), 5)
				require.NoError(t, err)
				require.Len(t, b.Bids, 1, "market %d", i)
				assert.Equal(t, int64(100+i), b.Bids[0].Price, "market %d", i)
			}
		})
	}
}

func TestPingEveryMaster(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			assert.NoError(t, c.Ping(context.Background()))
		})
	}
}
