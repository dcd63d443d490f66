package matchingsvc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

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
	if _, err := store.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"}); err != nil {
		t.Fatal(err)
	}
	msgs := commands(t, 1000)

	// The reference: one uninterrupted run on a store of its own.
	refStore := memory.New()
	_, _ = refStore.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	ref := &recorder{}
	rs := newService(refStore, ref)
	if _, err := rs.Assigned(ctx, "orders", 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(msgs); i += 37 {
		if err := rs.Handle(ctx, msgs[i:min(i+37, len(msgs))]); err != nil {
			t.Fatal(err)
		}
	}

	// The crashing run: first 650 commands, snapshot at 600 or so, then a new instance.
	got := &recorder{}
	s1 := newService(store, got)
	if _, err := s1.Assigned(ctx, "orders", 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 650; i += 50 {
		if err := s1.Handle(ctx, msgs[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	s2 := newService(store, got)
	from, err := s2.Assigned(ctx, "orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	if from <= 0 || from > 650 {
		t.Fatalf("replay from %d", from)
	}
	// A consumer without a committed offset starts at the beginning of the log: commands
	// already in the snapshot are skipped, not applied twice.
	if err := s2.Handle(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	byID := map[string]trading.Execution{}
	for _, x := range got.xs {
		if prev, ok := byID[x.ID]; ok && !reflect.DeepEqual(prev, x) {
			t.Fatalf("execution %s differs on replay:\n%+v\n%+v", x.ID, prev, x)
		}
		byID[x.ID] = x
	}
	if len(byID) != len(ref.xs) {
		t.Fatalf("%d distinct executions, uninterrupted run had %d", len(byID), len(ref.xs))
	}
	dups := 0
	for _, x := range ref.xs {
		if !reflect.DeepEqual(byID[x.ID], x) {
			t.Fatalf("execution %s differs from the uninterrupted run", x.ID)
		}
	}
	for _, m := range msgs {
		var c trading.OrderCommand
		_ = json.Unmarshal(m.Value, &c)
		if _, ok := byID[fmt.Sprintf("BTC-USD:%d", m.Offset+1)]; !ok {
			dups++
		}
	}
	if dups == 0 {
		t.Fatal("no relayed duplicate was dropped: the test exercised nothing")
	}
}

func TestPublishFailureRestartsFromSnapshot(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	_, _ = store.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	msgs := commands(t, 20)
	pub := &recorder{fail: true}
	s := newService(store, pub)
	if _, err := s.Assigned(ctx, "orders", 0); err != nil {
		t.Fatal(err)
	}
	err := s.Handle(ctx, msgs)
	if !errors.Is(err, kafka.ErrRestart) {
		t.Fatalf("publish failure gave %v, want a restart", err)
	}
	// Without reassignment the partition's books are gone rather than ahead of the log.
	pub.fail = false
	if err := s.Handle(ctx, msgs); !errors.Is(err, kafka.ErrRestart) {
		t.Fatalf("handling a dropped partition: %v", err)
	}
	if _, err := s.Assigned(ctx, "orders", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Handle(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if len(pub.xs) == 0 || pub.xs[0].Seq != 1 {
		t.Fatalf("after restart published %d executions", len(pub.xs))
	}
}
