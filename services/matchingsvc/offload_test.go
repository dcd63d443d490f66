package matchingsvc_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/trading"
)

// gatedStore holds every snapshot write until the gate opens, and can fail them.
type gatedStore struct {
	*memory.Store
	gate  chan struct{}
	mu    sync.Mutex
	fails int
	saved []int64 // the next offset of each stored snapshot, in order
}

func (g *gatedStore) SaveSnapshot(ctx context.Context, key string, data []byte) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fails > 0 {
		g.fails--
		return errors.New("database away")
	}
	var doc struct{ Next int64 }
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	g.saved = append(g.saved, doc.Next)
	return g.Store.SaveSnapshot(ctx, key, data)
}

func (g *gatedStore) savedOffsets() []int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int64(nil), g.saved...)
}

// gatedDepth holds every depth write until the gate opens and keeps the last book per market.
type gatedDepth struct {
	gate chan struct{}
	mu   sync.Mutex
	last map[string]trading.Book
	puts int
}

func (d *gatedDepth) Put(ctx context.Context, books ...trading.Book) error {
	select {
	case <-d.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range books {
		d.last[b.Market] = b
	}
	d.puts++
	return nil
}

func (d *gatedDepth) book(m string) (trading.Book, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last[m], d.puts
}

// With Run, the partition's goroutine never waits for the depth cache or the snapshot store:
// every batch is handled while both are blocked; once they answer, the cache holds the latest
// depth and the store the latest snapshot, and a restart from it replays identically.
func TestNoIOOnTheBooksGoroutine(t *testing.T) {
	ctx := context.Background()
	mem := memory.New()
	_, err := mem.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	require.NoError(t, err)
	store := &gatedStore{Store: mem, gate: make(chan struct{})}
	depth := &gatedDepth{gate: make(chan struct{}), last: map[string]trading.Book{}}
	pub := &recorder{}
	s := newService(mem, pub)
	s.Store, s.Depth = store, depth
	var bookedMu sync.Mutex
	var lastBooked trading.Book
	lastOpen := -1
	s.Booked = func(b trading.Book, open int) { // the metrics: as slow as the cache
		<-depth.gate
		bookedMu.Lock()
		defer bookedMu.Unlock()
		lastBooked, lastOpen = b, open
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	require.Eventually(t, func() bool { return s.Running() }, time.Second, time.Millisecond)

	_, err = s.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	msgs := commands(t, 1030) // the last 30 after the last snapshot (every 100)
	handled := make(chan error, 1)
	go func() {
		for i := 0; i < len(msgs); i += 50 {
			if err := s.Handle(ctx, msgs[i:min(i+50, len(msgs))]); err != nil {
				handled <- err
				return
			}
		}
		handled <- nil
	}()
	select {
	case err := <-handled:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.Fail(t, "a batch waited for the blocked depth cache or snapshot store")
	}
	assert.Empty(t, store.savedOffsets(), "nothing stored while the store is blocked")
	_, puts := depth.book("BTC-USD")
	assert.Zero(t, puts, "nothing published while the cache is blocked")

	// The reference book after all the commands, from an uninterrupted inline run.
	refStore := memory.New()
	_, err = refStore.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	require.NoError(t, err)
	refDepth := &gatedDepth{gate: make(chan struct{}), last: map[string]trading.Book{}}
	close(refDepth.gate)
	ref := newService(refStore, &recorder{})
	ref.Depth = refDepth
	refOpen := -1
	ref.Booked = func(_ trading.Book, open int) { refOpen = open }
	_, err = ref.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	require.NoError(t, ref.Handle(ctx, msgs))
	want, _ := refDepth.book("BTC-USD")

	store.mu.Lock()
	store.fails = 1 // the first write fails: the capture is retried
	store.mu.Unlock()
	close(store.gate)
	close(depth.gate)
	require.Eventually(t, func() bool {
		b, _ := depth.book("BTC-USD")
		return b.Seq == want.Seq
	}, 5*time.Second, time.Millisecond, "the cache ends with the latest depth")
	got, puts := depth.book("BTC-USD")
	assert.Equal(t, want, got, "latest depth")
	assert.Less(t, puts, 20, "depth waiting for the cache was coalesced, not queued per batch")
	bookedMu.Lock()
	assert.Equal(t, want, lastBooked, "Booked saw the latest depth")
	assert.Equal(t, refOpen, lastOpen, "Booked saw the orders resting at the end")
	bookedMu.Unlock()
	require.Eventually(t, func() bool {
		o := store.savedOffsets()
		return len(o) > 0 && o[len(o)-1] == 1000
	}, 5*time.Second, time.Millisecond, "the latest snapshot is stored after a failed write")
	offs := store.savedOffsets()
	assert.IsIncreasing(t, offs, "snapshots stored in order")
	assert.Less(t, len(offs), 10, "snapshots waiting for the store were coalesced: %v", offs)

	stop()
	require.NoError(t, <-done)
	assert.False(t, s.Running())

	// A new member restores the stored snapshot and ends where the uninterrupted run did.
	again := &recorder{}
	s2 := newService(mem, again)
	from, err := s2.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	assert.Equal(t, offs[len(offs)-1], from, "replay from the last stored snapshot")
	require.NoError(t, s2.Handle(ctx, msgs))
	first := map[string]trading.Execution{}
	for _, x := range pub.xs {
		first[x.ID] = x
	}
	require.NotEmpty(t, again.xs, "the commands after the snapshot were replayed")
	for _, x := range again.xs {
		assert.Equal(t, first[x.ID], x, "replayed execution %s", x.ID)
	}
}
