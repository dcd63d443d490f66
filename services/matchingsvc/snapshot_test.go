package matchingsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/trading"
)

// slowStore keeps every snapshot stored, each write taking a while, so that the partition
// captures new snapshots while older ones are still being encoded and written.
type slowStore struct {
	*memory.Store
	mu    sync.Mutex
	saved [][]byte
}

func (s *slowStore) SaveSnapshot(ctx context.Context, key string, data []byte) error {
	time.Sleep(2 * time.Millisecond)
	s.mu.Lock()
	s.saved = append(s.saved, bytes.Clone(data))
	s.mu.Unlock()
	return s.Store.SaveSnapshot(ctx, key, data)
}

// oneSnapshot serves one stored snapshot to a restoring member.
type oneSnapshot struct {
	*memory.Store
	data []byte
}

func (o oneSnapshot) LoadSnapshot(context.Context, string) ([]byte, error) { return o.data, nil }

func twoMarkets(t *testing.T) *memory.Store {
	t.Helper()
	mem := memory.New()
	for _, sym := range []string{"BTC-USD", "ETH-USD"} {
		_, err := mem.CreateMarket(context.Background(), trading.MarketDef{Symbol: sym, Base: sym[:3], Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
		require.NoError(t, err)
	}
	return mem
}

// partitionState is everything a snapshot restores, in comparable form.
func partitionState(p *partition) map[string]any {
	books := map[string][]byte{}
	for sym, b := range p.books {
		books[sym] = b.AppendSnapshot(nil)
	}
	updates := map[string]uint64{}
	for sym, u := range p.updates {
		if u > 0 {
			updates[sym] = u
		}
	}
	seen := p.ring.capture().ids()
	return map[string]any{"next": p.next, "books": books, "updates": updates, "seen": seen, "remembered": len(p.seen)}
}

// Snapshots captured while commands flow, and encoded and stored while the partition goes on
// changing its books and remembered ids, each restore to exactly the partition an
// uninterrupted run reaches at the offset the snapshot claims: the same books byte for byte,
// the same remembered ids in the same order (the dedupe window wraps several times), the same
// update ids. A book the flow stopped touching is captured unchanged.
func TestSnapshotsMatchTheReferenceAtTheirOffset(t *testing.T) {
	ctx := context.Background()
	const window = 2*seenChunk + 50
	msgs := flowCommands(25_000)
	for i := 1501; i < 4000; i += 2 { // the second market opens after the first snapshot, trades, then rests
		var c trading.OrderCommand
		require.NoError(t, json.Unmarshal(msgs[i].Value, &c))
		c.Market = "ETH-USD"
		v, err := json.Marshal(c)
		require.NoError(t, err)
		msgs[i].Value = v
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := &slowStore{Store: twoMarkets(t)}
	s := &Service{Store: store, Publisher: nopPublisher{}, Depth: nopDepth{}, Log: log, SnapshotEvery: 700, SnapshotInterval: time.Hour, window: window}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	require.Eventually(t, s.Running, time.Second, time.Millisecond)
	off := s.offloaded()
	_, err := s.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	var dropped *replica
	for i := 0; i < len(msgs); {
		n := 1 + rng.IntN(80)
		require.NoError(t, s.Handle(ctx, msgs[i:min(i+n, len(msgs))]))
		i += n
		if part := s.parts[0]; i > 15_000 && dropped == nil {
			require.NotNil(t, part.rep, "the partition has a replica")
			dropped = part.rep
			dropped.stop() // as if it lagged: the partition captures itself and seeds another
		}
	}
	require.NotNil(t, s.parts[0].rep, "a new replica after the first was dropped")
	require.NotSame(t, dropped, s.parts[0].rep, "a new replica after the first was dropped")
	stop()
	require.NoError(t, <-done)
	require.Greater(t, off.fromReplica.Load(), int64(10), "snapshots encoded by the replica")

	store.mu.Lock()
	saved := store.saved
	store.mu.Unlock()
	require.GreaterOrEqual(t, len(saved), 5, "snapshots stored")

	ref := &Service{Store: twoMarkets(t), Publisher: nopPublisher{}, Log: log, SnapshotInterval: time.Hour, SnapshotEvery: 1 << 30, window: window}
	_, err = ref.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	var at int64
	var reused bool
	for _, data := range saved {
		var doc snapshotDoc
		require.NoError(t, json.Unmarshal(data, &doc))
		require.Greater(t, doc.Next, at, "snapshots stored in order")
		require.NoError(t, ref.Handle(ctx, msgs[at:doc.Next]))
		at = doc.Next

		r := &Service{Store: oneSnapshot{Store: twoMarkets(t), data: data}, Publisher: nopPublisher{}, Log: log, window: window}
		from, err := r.Assigned(ctx, "orders", 0)
		require.NoError(t, err)
		require.Equal(t, doc.Next, from, "replay from the snapshot's offset")
		want, got := partitionState(ref.parts[0]), partitionState(r.parts[0])
		if !assert.Equal(t, want, got, "the partition restored from the snapshot at %d", doc.Next) {
			return
		}
		reused = reused || doc.Next > 5000
	}
	require.True(t, reused, "no snapshot after the second market went quiet: the test exercised nothing")
	news := 0
	for _, m := range msgs {
		if c, err := kafka.DecodeCommand(m); err == nil && c.Op == trading.OpNew {
			news++
		}
	}
	require.Greater(t, news, window+seenChunk, "the window never wrapped past a chunk: the test exercised nothing")
	require.Greater(t, at, int64(len(msgs)/2), "the last snapshot")
}
