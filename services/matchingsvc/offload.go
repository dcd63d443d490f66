package matchingsvc

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cantondex/platform/services/trading"
)

// The partitions' goroutines own the books and do no I/O besides consuming and publishing
// executions (exchange-core's rule): the book depth for the API's cache and the snapshots are
// captured there, as copies, and reported, encoded and written by the goroutines Run starts,
// one for depth (and the Booked metrics) and one for snapshots, each in the order handed over. What is still waiting when a newer capture of
// the same market or partition arrives is replaced by it: the cache wants the latest depth,
// recovery the latest snapshot. Without Run (tests, tools) they are written inline.

// queue holds the latest value per key until its worker takes it.
type queue[K comparable, V any] struct {
	mu      sync.Mutex
	pending map[K]V
	order   []K // keys in the order they first became pending
	wake    chan struct{}
}

func newQueue[K comparable, V any]() *queue[K, V] {
	return &queue[K, V]{pending: map[K]V{}, wake: make(chan struct{}, 1)}
}

// put makes v the pending value of k (replacing an older one) and wakes the worker.
func (q *queue[K, V]) put(k K, v V) {
	q.mu.Lock()
	if _, ok := q.pending[k]; !ok {
		q.order = append(q.order, k)
	}
	q.pending[k] = v
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// putIfAbsent puts v unless a newer value for k arrived meanwhile (a retry after a failure).
func (q *queue[K, V]) putIfAbsent(k K, v V) {
	q.mu.Lock()
	_, newer := q.pending[k]
	q.mu.Unlock()
	if !newer {
		q.put(k, v)
	}
}

// take removes and returns everything pending, oldest key first.
func (q *queue[K, V]) take() ([]K, []V) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ks := q.order
	vs := make([]V, len(ks))
	for i, k := range ks {
		vs[i] = q.pending[k]
	}
	q.order, q.pending = nil, map[K]V{}
	return ks, vs
}

// work runs do on what is pending each time there is something, until ctx ends; after a
// failure it waits retry before the next round. It returns after one last round once ctx has
// ended, so that what was captured before the stop is written.
func (q *queue[K, V]) work(ctx context.Context, retry time.Duration, do func(context.Context, []K, []V) bool) {
	for {
		select {
		case <-ctx.Done():
			// The last round runs on a context of its own: the process is stopping, not the write.
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if ks, vs := q.take(); len(ks) > 0 {
				do(last, ks, vs)
			}
			cancel()
			return
		case <-q.wake:
		}
		if ks, vs := q.take(); len(ks) > 0 && !do(ctx, ks, vs) {
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			select {
			case q.wake <- struct{}{}:
			default:
			}
		}
	}
}

// capture is a snapshot as the partition's goroutine took it: the state after next-1. Its
// parts are never written again, by anyone: the worker reads them while the partition goes on.
type capture struct {
	next    int64
	books   map[string][]byte // each book's snapshot
	updates map[string]uint64
	seen    seenView
	at      time.Time
}

// doc assembles the stored form of the capture (on the snapshot worker).
func (c capture) doc() snapshotDoc {
	return snapshotDoc{Next: c.next, Seen: c.seen.ids(), Books: c.books, Updates: c.updates}
}

// offload is the work Run does off the partitions' goroutines.
type offload struct {
	ctx   context.Context // Run's
	depth *queue[string, booked]
	snaps *queue[int32, capture]

	mu       sync.Mutex
	closed   bool // no replica starts any more
	replicas sync.WaitGroup
	// fromReplica counts the captures replicas completed.
	fromReplica atomic.Int64
}

// Run writes the captured depth and snapshots until ctx ends, then writes what is still
// pending and returns. Start it beside the consumer group (platform.Serve's functions).
func (s *Service) Run(ctx context.Context) error {
	off := &offload{ctx: ctx, depth: newQueue[string, booked](), snaps: newQueue[int32, capture]()}
	s.mu.Lock()
	s.off = off
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.off = nil
		s.mu.Unlock()
		// Captures handed over after the workers' last round are written here.
		last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if ks, vs := off.depth.take(); len(ks) > 0 {
			s.writeDepth(last, ks, vs)
		}
		if ks, vs := off.snaps.take(); len(ks) > 0 {
			s.writeSnapshots(last, ks, vs)
		}
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		off.depth.work(ctx, 200*time.Millisecond, func(ctx context.Context, ms []string, bs []booked) bool {
			ok := s.writeDepth(ctx, ms, bs)
			if !ok {
				for i, m := range ms {
					off.depth.putIfAbsent(m, bs[i])
				}
			}
			return ok
		})
	})
	wg.Go(func() {
		off.snaps.work(ctx, time.Second, func(ctx context.Context, ps []int32, cs []capture) bool {
			ok := s.writeSnapshots(ctx, ps, cs)
			if !ok {
				for i, p := range ps {
					off.snaps.putIfAbsent(p, cs[i])
				}
			}
			return ok
		})
	})
	wg.Wait()
	// The replicas' last captures are written by the deferred round.
	off.mu.Lock()
	off.closed = true
	off.mu.Unlock()
	off.replicas.Wait()
	return nil
}

// Running reports whether Run is writing depth and snapshots off the partitions' goroutines.
func (s *Service) Running() bool { return s.offloaded() != nil }

// offloaded is the running offload, or nil.
func (s *Service) offloaded() *offload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.off
}

// booked is a book's depth as a batch left it, and how many orders rest in it.
type booked struct {
	book trading.Book
	open int
}

// publishDepth hands books to the depth worker, or writes them inline without one.
func (s *Service) publishDepth(ctx context.Context, bs []booked) {
	if off := s.offloaded(); off != nil {
		for _, b := range bs {
			off.depth.put(b.book.Market, b)
		}
		return
	}
	s.writeDepth(ctx, nil, bs)
}

// writeDepth reports books to Booked and puts them into the API's cache; false after a
// failure (logged).
func (s *Service) writeDepth(ctx context.Context, _ []string, bs []booked) bool {
	books := make([]trading.Book, len(bs))
	for i, b := range bs {
		books[i] = b.book
		if s.Booked != nil {
			s.Booked(b.book, b.open)
		}
	}
	if s.Depth == nil {
		return true
	}
	if err := s.Depth.Put(ctx, books...); err != nil {
		s.log().Warn("publish depth", "err", err)
		return false
	}
	return true
}

// saveSnapshot hands a capture to the snapshot worker, or writes it inline without one.
func (s *Service) saveSnapshot(ctx context.Context, p int32, c capture) error {
	if off := s.offloaded(); off != nil {
		off.snaps.put(p, c)
		return nil
	}
	return s.writeSnapshot(ctx, p, c)
}

func (s *Service) writeSnapshots(ctx context.Context, ps []int32, cs []capture) bool {
	ok := true
	for i, p := range ps {
		if err := s.writeSnapshot(ctx, p, cs[i]); err != nil {
			s.log().Warn("snapshot", "partition", p, "next", cs[i].next, "err", err)
			ok = false
		}
	}
	return ok
}

// writeSnapshot encodes and stores a capture. A capture older than what the store holds
// cannot happen with one worker per service; one member's late write after the partition
// moved to another member is harmless: it is a true state at its offset, and the log replays
// the rest.
func (s *Service) writeSnapshot(ctx context.Context, p int32, c capture) error {
	data, err := json.Marshal(c.doc())
	if err != nil {
		return err
	}
	start := time.Now()
	if err := s.Store.SaveSnapshot(ctx, snapshotKey(p), data); err != nil {
		return err
	}
	s.log().Debug("snapshot stored", slog.Int("partition", int(p)), slog.Int64("next", c.next), slog.Int("bytes", len(data)),
		slog.Duration("age", time.Since(c.at)), slog.Duration("took", time.Since(start)))
	return nil
}
