package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cantondex/platform/services/trading"
)

// clients returns the embedded Redis and the real one (TEST_REDIS_URL, default
// redis://127.0.0.1:6379/0), each with a unique key prefix. The real one is skipped when
// unreachable unless CI is set.
func clients(t testing.TB) map[string]*Client {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "cdxtest:" + hex.EncodeToString(b[:])
	out := map[string]*Client{}
	m, err := OpenEmbedded(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	out["embedded"] = m
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	ctx := context.Background()
	r, err := Open(ctx, Options{URL: url, Prefix: prefix})
	switch {
	case err == nil:
		t.Cleanup(func() {
			keys, _ := r.rdb.Keys(ctx, prefix+":*").Result()
			if len(keys) > 0 {
				r.rdb.Del(ctx, keys...)
			}
			r.Close()
		})
		out["real"] = r
	case os.Getenv("CI") != "":
		t.Fatalf("Redis unreachable at TEST_REDIS_URL and CI is set: %v", err)
	default:
		t.Logf("real Redis unreachable, testing the embedded one only: %v", err)
	}
	return out
}

func TestLimiterSlidingWindow(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l := c.NewLimiter(3, time.Second)
			base := time.UnixMilli(1_000_000_000_000) // a window boundary
			at := func(ms int64) { l.now = func() time.Time { return base.Add(time.Duration(ms) * time.Millisecond) } }
			allow := func(key string) (bool, time.Duration) {
				ok, wait, err := l.Allow(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				return ok, wait
			}
			at(0)
			for i := 0; i < 3; i++ {
				if ok, _ := allow("a"); !ok {
					t.Fatalf("hit %d refused", i)
				}
			}
			if ok, wait := allow("a"); ok || wait != time.Second {
				t.Fatalf("4th hit: ok=%v wait=%v, want refused for 1s", ok, wait)
			}
			if ok, _ := allow("b"); !ok {
				t.Fatal("another key is limited too")
			}
			// The counters expire on their own, after the window that still reads them.
			if ttl := c.rdb.PTTL(ctx, c.key("rl", "a", "1000000000")).Val(); ttl <= time.Second || ttl > 2*time.Second {
				t.Fatalf("counter ttl = %v, want within (1s, 2s]", ttl)
			}
			// Next window: the previous one still weighs fully, so wait a third of a window
			// (refused hits are not counted: had the 4th counted, the wait would be half).
			at(1000)
			if ok, wait := allow("a"); ok || wait != 334*time.Millisecond {
				t.Fatalf("at 1000ms: ok=%v wait=%v, want refused for 334ms", ok, wait)
			}
			at(1334)
			if ok, _ := allow("a"); !ok {
				t.Fatal("refused after the advertised wait")
			}
		})
	}
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
// exactly the admitted ones.
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
						t.Error(err)
					case key != "burst" && ok:
						other.Add(1)
					case key != "burst":
						t.Errorf("%s refused", key)
					case ok:
						admitted.Add(1)
					default:
						refused.Add(1)
					}
				}()
			}
			wg.Wait()
			if admitted.Load() == 0 || admitted.Load() > 20 || admitted.Load()+refused.Load() != 100 || other.Load() != 100 {
				t.Fatalf("burst: %d admitted, %d refused (limit 20); other keys: %d of 100 admitted", admitted.Load(), refused.Load(), other.Load())
			}
			n, err := c.rdb.Get(ctx, c.key("rl", "burst", "1000000000")).Int64()
			if err != nil || n != admitted.Load() {
				t.Fatalf("counter %d (%v), want the %d admitted hits", n, err, admitted.Load())
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
			if err := c.rdb.LPush(ctx, c.key("rl", "broken", "1000000000"), "x").Err(); err != nil {
				t.Fatal(err)
			}
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
						t.Errorf("%s: ok=%v err=%v", key, ok, err)
					}
				}()
			}
			wg.Wait()
			if failed.Load() != 25 || admitted.Load() != 75 {
				t.Fatalf("%d hits on the broken key failed (want 25), %d others admitted (want 75)", failed.Load(), admitted.Load())
			}
		})
	}
}

func TestIdempotencyStore(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := c.NewIdempotencyStore(time.Minute)
			if v, err := s.Begin(ctx, "k"); v != nil || err != nil {
				t.Fatalf("first begin = %q, %v", v, err)
			}
			if _, err := s.Begin(ctx, "k"); !errors.Is(err, ErrInProgress) {
				t.Fatalf("second begin err = %v, want in progress", err)
			}
			if err := s.Finish(ctx, "k", []byte("201 created")); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Begin(ctx, "k"); string(v) != "201 created" || err != nil {
				t.Fatalf("after finish = %q, %v", v, err)
			}
			if _, err := s.Begin(ctx, "k2"); err != nil {
				t.Fatal(err)
			}
			if err := s.Abandon(ctx, "k2"); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Begin(ctx, "k2"); v != nil || err != nil {
				t.Fatalf("after abandon = %q, %v", v, err)
			}
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
				if err != nil || v != want {
					t.Fatalf("add = %d, %v; want %d", v, err, want)
				}
			}
			ttl := c.rdb.PTTL(ctx, c.key("cnt", "logins")).Val()
			if ttl <= 0 || ttl > time.Minute {
				t.Fatalf("ttl %v", ttl)
			}
			if err := k.Reset(ctx, "logins"); err != nil {
				t.Fatal(err)
			}
			if v, _ := k.Get(ctx, "logins"); v != 0 {
				t.Fatalf("after reset %d", v)
			}
		})
	}
}

func TestBooksKeepLatestDepth(t *testing.T) {
	for name, c := range clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			bs := c.Books()
			if b, err := bs.Book(ctx, "BTC-USD", 5); err != nil || b.Market != "BTC-USD" || len(b.Bids)+len(b.Asks) != 0 {
				t.Fatalf("unknown book %+v %v", b, err)
			}
			levels := func(n int, from int64) []trading.Level {
				var ls []trading.Level
				for i := 0; i < n; i++ {
					ls = append(ls, trading.Level{Price: from - int64(i), Quantity: 1, Orders: 1})
				}
				return ls
			}
			if err := bs.Put(ctx, trading.Book{Market: "BTC-USD", Bids: levels(3, 100), Seq: 1}); err != nil {
				t.Fatal(err)
			}
			if err := bs.Put(ctx, trading.Book{Market: "BTC-USD", Bids: levels(10, 99), Asks: levels(1, 101), Seq: 2}); err != nil {
				t.Fatal(err)
			}
			b, err := bs.Book(ctx, "BTC-USD", 4)
			if err != nil || b.Seq != 2 || len(b.Bids) != 4 || b.Bids[0].Price != 99 || len(b.Asks) != 1 {
				t.Fatalf("book %+v %v", b, err)
			}
		})
	}
}
