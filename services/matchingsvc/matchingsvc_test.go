package matchingsvc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/trading"
)

type recorder struct {
	xs   []trading.Execution
	fail bool
}

func (r *recorder) PublishExecutions(_ context.Context, xs []trading.Execution) error {
	if r.fail {
		return errors.New("broker down")
	}
	r.xs = append(r.xs, xs...)
	return nil
}

func commands(t *testing.T, n int) []kafka.Message {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var msgs []kafka.Message
	var ids []string
	at := time.Unix(1_700_000_000, 0)
	for i := 0; i < n; i++ {
		c := trading.OrderCommand{Op: trading.OpNew, OrderID: fmt.Sprint("o", i), Account: fmt.Sprint("a", rng.IntN(10)),
			Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC,
			Price: int64(100 + rng.IntN(10)), Quantity: int64(1 + rng.IntN(5))}
		if rng.IntN(2) == 0 {
			c.Side = trading.Sell
		}
		switch {
		case len(ids) > 0 && rng.IntN(5) == 0:
			c = trading.OrderCommand{Op: trading.OpCancel, OrderID: ids[rng.IntN(len(ids))], Market: "BTC-USD"}
		case i > 10 && rng.IntN(10) == 0:
			c.OrderID = ids[rng.IntN(len(ids))] // a relayed duplicate
		default:
			ids = append(ids, c.OrderID)
		}
		v, _ := json.Marshal(c)
		msgs = append(msgs, kafka.Message{Topic: "orders", Partition: 0, Offset: int64(i), Value: v, Timestamp: at.Add(time.Duration(i) * time.Millisecond)})
	}
	return msgs
}

func newService(store *memory.Store, pub matchingsvc.Publisher) *matchingsvc.Service {
	return &matchingsvc.Service{Store: store, Publisher: pub, SnapshotEvery: 100, SnapshotInterval: time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// A restart restores the last snapshot and replays the log after it; the executions it
// publishes for the replayed commands equal the first run's, and the run continues exactly as
// an uninterrupted one.
func TestRestartReplaysIdentically(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	_, err := store.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	require.NoError(t, err)
	msgs := commands(t, 1000)

	// The reference: one uninterrupted run on a store of its own.
	refStore := memory.New()
	_, err = refStore.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	require.NoError(t, err)
	ref := &recorder{}
	rs := newService(refStore, ref)
	_, err = rs.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	for i := 0; i < len(msgs); i += 37 {
		require.NoError(t, rs.Handle(ctx, msgs[i:min(i+37, len(msgs))]), "reference run, batch at %d", i)
	}

	// The crashing run: first 650 commands, snapshot at 600 or so, then a new instance.
	got := &recorder{}
	s1 := newService(store, got)
	_, err = s1.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	for i := 0; i < 650; i += 50 {
		require.NoError(t, s1.Handle(ctx, msgs[i:i+50]), "crashing run, batch at %d", i)
	}
	s2 := newService(store, got)
	from, err := s2.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	require.Positive(t, from, "replay from")
	require.LessOrEqual(t, from, int64(650), "replay from")
	// A consumer without a committed offset starts at the beginning of the log: commands
	// already in the snapshot are skipped, not applied twice.
	require.NoError(t, s2.Handle(ctx, msgs))
	byID := map[string]trading.Execution{}
	for _, x := range got.xs {
		if prev, ok := byID[x.ID]; ok {
			require.Equal(t, prev, x, "execution %s differs on replay", x.ID)
		}
		byID[x.ID] = x
	}
	require.Len(t, byID, len(ref.xs), "distinct executions against the uninterrupted run's")
	dups := 0
	for _, x := range ref.xs {
		require.Equal(t, x, byID[x.ID], "execution %s differs from the uninterrupted run", x.ID)
	}
	for _, m := range msgs {
		var c trading.OrderCommand
		_ = json.Unmarshal(m.Value, &c)
		if _, ok := byID[fmt.Sprintf("BTC-USD:%d", m.Offset+1)]; !ok {
			dups++
		}
	}
	require.NotZero(t, dups, "no relayed duplicate was dropped: the test exercised nothing")
}

func TestPublishFailureRestartsFromSnapshot(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	_, err := store.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	require.NoError(t, err)
	msgs := commands(t, 20)
	pub := &recorder{fail: true}
	s := newService(store, pub)
	_, err = s.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	require.ErrorIs(t, s.Handle(ctx, msgs), kafka.ErrRestart, "a publish failure restarts")
	// Without reassignment the partition's books are gone rather than ahead of the log.
	pub.fail = false
	require.ErrorIs(t, s.Handle(ctx, msgs), kafka.ErrRestart, "handling a dropped partition")
	_, err = s.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	require.NoError(t, s.Handle(ctx, msgs))
	require.NotEmpty(t, pub.xs, "published after restart")
	require.Equal(t, uint64(1), pub.xs[0].Seq, "first execution published after restart")
}
