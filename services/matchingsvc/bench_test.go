package matchingsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/trading"
)

// benchCommands is a deterministic flow on one market around a fixed mid: new limit orders
// on both sides (some crossing), cancels of earlier orders; enough of them that the
// remembered ids fill the whole dedupe window before the last snapshots.
var benchCommands = sync.OnceValue(func() []kafka.Message { return flowCommands(400_000) })

// flowCommands is the first n commands of that flow.
func flowCommands(n int) []kafka.Message {
	rng := rand.New(rand.NewPCG(7, 8))
	at := time.Unix(1_700_000_000, 0)
	msgs := make([]kafka.Message, 0, n)
	var ids []string
	for i := range n {
		c := trading.OrderCommand{Op: trading.OpNew, OrderID: fmt.Sprintf("ord-%08d", i), Account: fmt.Sprint("acct-", rng.IntN(100)),
			Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, TimeInForce: trading.GTC,
			Price: int64(10_000 + rng.IntN(60)), Quantity: int64(1 + rng.IntN(10)), AcceptedAt: at}
		if rng.IntN(2) == 0 {
			c.Side, c.Price = trading.Sell, c.Price-10
		}
		if len(ids) > 0 && rng.IntN(100) < 35 {
			c = trading.OrderCommand{Op: trading.OpCancel, OrderID: ids[rng.IntN(len(ids))], Account: c.Account, Market: "BTC-USD", AcceptedAt: at}
		} else {
			ids = append(ids, c.OrderID)
		}
		v, err := json.Marshal(c)
		if err != nil {
			panic(err)
		}
		msgs = append(msgs, kafka.Message{Topic: "orders", Partition: 0, Offset: int64(i), Value: v, Timestamp: at.Add(time.Duration(i) * time.Microsecond)})
	}
	return msgs
}

type nopPublisher struct{}

func (nopPublisher) PublishExecutions(context.Context, []trading.Execution) error { return nil }

type nopDepth struct{}

func (nopDepth) Put(context.Context, ...trading.Book) error { return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandle drives the service's batch loop as the consumer group does (batches of 100,
// Run writing depth and snapshots beside it, a snapshot every 50,000 commands) over 400,000
// commands per op. It reports the partition goroutine's time per command (ns/cmd), the
// process's CPU per command including Run's goroutines and the collector (cpu-ns/cmd), the
// mean goroutine time of an ordinary batch and of a batch that took a snapshot, and the
// longest batch.
func BenchmarkHandle(b *testing.B) { benchmarkHandle(b, false) }

// BenchmarkHandleMetrics is BenchmarkHandle with the service's histograms on: their cost.
func BenchmarkHandleMetrics(b *testing.B) { benchmarkHandle(b, true) }

func benchmarkHandle(b *testing.B, metrics bool) {
	msgs := benchCommands()
	ctx := context.Background()
	const batch = 100
	var onGoroutine, snapTime, plainTime, longest time.Duration
	var snaps, plain int
	cpu := time.Duration(0)
	b.ReportAllocs()
	for b.Loop() {
		mem := memory.New()
		if _, err := mem.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"}); err != nil {
			b.Fatal(err)
		}
		s := &Service{Store: mem, Publisher: nopPublisher{}, Depth: nopDepth{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if metrics {
			s.Metrics = NewMetrics(prometheus.NewRegistry())
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(runCtx) }()
		for !s.Running() {
			time.Sleep(time.Millisecond)
		}
		if _, err := s.Assigned(ctx, "orders", 0); err != nil {
			b.Fatal(err)
		}
		part := s.parts[0]
		cpu0 := cpuTime()
		for i := 0; i < len(msgs); i += batch {
			start := time.Now()
			if err := s.Handle(ctx, msgs[i:min(i+batch, len(msgs))]); err != nil {
				b.Fatal(err)
			}
			d := time.Since(start)
			onGoroutine += d
			longest = max(longest, d)
			if part.since == 0 {
				snaps++
				snapTime += d
			} else {
				plain++
				plainTime += d
			}
		}
		stop()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpu0
	}
	cmds := float64(b.N * len(msgs))
	b.ReportMetric(float64(onGoroutine.Nanoseconds())/cmds, "ns/cmd")
	b.ReportMetric(float64(cpu.Nanoseconds())/cmds, "cpu-ns/cmd")
	b.ReportMetric(float64(plainTime.Microseconds())/float64(max(plain, 1)), "µs/batch")
	b.ReportMetric(float64(snapTime.Microseconds())/float64(max(snaps, 1)), "µs/snapbatch")
	b.ReportMetric(float64(longest.Microseconds()), "µs/longest")
}
