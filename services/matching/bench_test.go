package matching_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	. "github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/matching/flow"
)

// benchMarket is BTC-USD with tick 0.01 and lot 0.0001.
func benchMarket() Market {
	return Market{Symbol: "BTC-USD", TickSize: "0.01", LotSize: "0.0001"}
}

func benchBook(b *testing.B, reserve int) *Book {
	book, err := NewBook(benchMarket())
	require.NoError(b, err)
	book.Reserve(reserve)
	return book
}

func ids(prefix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return s
}

func reportRate(b *testing.B, msgs int) {
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkAdd rests passive limit orders spread over 1,000 price levels of both sides.
func BenchmarkAdd(b *testing.B) {
	const n = 10_000
	names := ids("a", n)
	rng := rand.New(rand.NewPCG(1, 1))
	cmds := make([]Command, n)
	for i := range cmds {
		side, price := Buy, int64(1_000_000-1-rng.IntN(500))
		if i%2 == 1 {
			side, price = Sell, int64(1_000_000+rng.IntN(500))
		}
		cmds[i] = Command{Op: OpNew, ID: names[i], Account: "acct", Side: side, Type: Limit, Price: price, Qty: int64(1 + rng.IntN(100))}
	}
	runCycled(b, n, func() *Book { return benchBook(b, n) }, func(i int) Command {
		c := cmds[i%n]
		c.Seq = uint64(i + 1)
		return c
	})
}

// runCycled applies command(i) for i < b.N, starting over on a book from reset (untimed)
// after every n commands.
func runCycled(b *testing.B, n int, reset func() *Book, command func(i int) Command) {
	book := reset()
	out := make([]Event, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%n == 0 && i > 0 {
			b.StopTimer()
			book = reset()
			b.StartTimer()
		}
		out = book.Apply(command(i), out[:0])
	}
	reportRate(b, b.N)
}

// BenchmarkCancel cancels resting orders in random order.
func BenchmarkCancel(b *testing.B) {
	const n = 10_000
	names := ids("c", n)
	rng := rand.New(rand.NewPCG(2, 2))
	fill := func() *Book {
		book := benchBook(b, n)
		var out []Event
		for _, id := range names {
			out = book.Apply(Command{Op: OpNew, ID: id, Account: "acct", Side: Buy, Type: Limit, Price: int64(1_000_000 - rng.IntN(500)), Qty: 10}, out[:0])
		}
		return book
	}
	order := rng.Perm(n)
	runCycled(b, n, fill, func(i int) Command {
		return Command{Op: OpCancel, Seq: uint64(i + 1), ID: names[order[i%n]]}
	})
}

// BenchmarkSweep: each op rests 50 sell orders over 10 levels (5 per level), then one IOC buy
// sweeps all 10 levels, producing 50 trades. Reported per op (51 messages, 50 trades).
func BenchmarkSweep(b *testing.B) {
	book := benchBook(b, 1024)
	makers := ids("m", 50)
	out := make([]Event, 0, 128)
	b.ReportAllocs()
	b.ResetTimer()
	seq := uint64(0)
	for i := 0; i < b.N; i++ {
		for j, id := range makers {
			seq++
			out = book.Apply(Command{Op: OpNew, Seq: seq, ID: id, Account: "maker", Side: Sell, Type: Limit, Price: int64(1_000_000 + j/5), Qty: 10}, out[:0])
		}
		seq++
		out = book.Apply(Command{Op: OpNew, Seq: seq, ID: "taker", Account: "taker", Side: Buy, Type: Limit, TIF: IOC, Price: 1_000_010, Qty: 500}, out[:0])
		if len(out) != 51 {
			require.Len(b, out, 51, "sweep events")
		}
	}
	reportRate(b, b.N*51)
}

// benchFlow replays a generated flow: warm-up untimed, commands timed, repeated as needed.
func benchFlow(b *testing.B, cfg flow.Config) {
	f, err := flow.Generate(cfg)
	require.NoError(b, err)
	replayFlow(b, f, cfg.Market, cfg.Depth+cfg.Depth/2+1024)
}

func replayFlow(b *testing.B, f flow.Flow, m Market, reserve int) {
	reset := func() *Book {
		book, err := NewBook(m)
		require.NoError(b, err)
		book.Reserve(reserve)
		var out []Event
		for _, c := range f.Warmup {
			out = book.Apply(c, out[:0])
		}
		return book
	}
	runCycled(b, len(f.Commands), reset, func(i int) Command { return f.Commands[i%len(f.Commands)] })
}

// BenchmarkRegime replays each regime flow of the flow package (200,000 orders each; matchbench
// runs the full million).
func BenchmarkRegime(b *testing.B) {
	for _, name := range []string{"venue", "gbm-0", "gbm-0.15", "swing-25", "swing-40", "crash-60", "addcancel"} {
		b.Run(name, func(b *testing.B) {
			f, m, err := flow.Named(name, 200_000, 1)
			require.NoError(b, err)
			replayFlow(b, f, m, 64_000)
		})
	}
}

// BenchmarkMixed is exchange-core's mix (9% GTC, 3% IOC, 6% cancel, 82% modify moving the price)
// on a book of about 1,000 resting orders.
func BenchmarkMixed(b *testing.B) {
	benchFlow(b, flow.Config{Market: benchMarket(), Commands: 200_000, Depth: 1_000, Accounts: 100,
		Mix: flow.ExchangeCore, Seed: 1, Mid: 1_000_000, Spread: 200})
}

// BenchmarkDeepBook is the same mix on a book of 50,000 resting orders over 5,000 price levels.
func BenchmarkDeepBook(b *testing.B) {
	benchFlow(b, flow.Config{Market: benchMarket(), Commands: 200_000, Depth: 50_000, Accounts: 1000,
		Mix: flow.ExchangeCore, Seed: 2, Mid: 1_000_000, Spread: 2_500})
}
