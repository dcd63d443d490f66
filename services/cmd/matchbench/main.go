// Command matchbench generates a realistic order flow and replays it through the matching
// engine on one goroutine, printing throughput (messages per second), latency per command at
// p50/p99/p99.9 and allocations per command. See services/matching/README.md.
//
//	matchbench [--regime NAME|all] [--orders N] [--runs 5] [--commands 2000000] [--depth 1000] [--spread 200] [--accounts 100] [--seed 1] [--rate 1000000]
//
// Without --regime the flow is exchange-core's mix shaped by --commands, --depth, --spread and
// --accounts; --regime picks a named flow of services/matching/flow (venue, deep, exchange-core,
// gbm-0, gbm-0.15, swing-25, swing-40, crash-60, addcancel) or all of them in turn.
//
// Throughput is measured closed loop: commands back to back. Latency is measured open loop, so
// without coordinated omission: command i is due at start + i/rate, and its latency runs from
// that due time (not from when the engine got round to it) to the end of Apply. A stall
// therefore shows up in the latency of every command queued behind it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/matching/flow"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "matchbench:", err)
		os.Exit(1)
	}
}

type options struct {
	commands, depth, accounts int
	orders, runs              int
	regime, cpuprofile        string
	latency                   bool
	spread                    int64
	seed                      uint64
	rate                      float64
}

func run(args []string, w io.Writer) error {
	var o options
	fs := flag.NewFlagSet("matchbench", flag.ContinueOnError)
	fs.IntVar(&o.commands, "commands", 2_000_000, "measured commands")
	fs.IntVar(&o.depth, "depth", 1_000, "resting orders in the initial book")
	fs.Int64Var(&o.spread, "spread", 200, "prices spread over mid ± spread ticks")
	fs.IntVar(&o.accounts, "accounts", 100, "distinct accounts")
	fs.Uint64Var(&o.seed, "seed", 1, "flow seed")
	fs.Float64Var(&o.rate, "rate", 1_000_000, "offered rate for the open-loop latency run, commands per second")
	fs.StringVar(&o.regime, "regime", "", "named flow ("+strings.Join(flow.Names(), ", ")+") or all; empty: exchange-core's mix shaped by --commands, --depth, --spread, --accounts")
	fs.IntVar(&o.orders, "orders", 0, "size of a named flow: new orders of a regime, commands of exchange-core and deep (0: the flow's default)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the closed-loop runs to this file")
	fs.BoolVar(&o.latency, "latency", true, "also run the open-loop latency measurement")
	fs.IntVar(&o.runs, "runs", 5, "closed-loop throughput runs (median, min and max are reported)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.commands <= 0 || o.rate <= 0 || o.runs <= 0 || o.orders < 0 {
		return fmt.Errorf("--commands, --rate and --runs must be positive, --orders not negative")
	}
	// One goroutine on one OS thread, as the service runs a book.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if o.regime == "" {
		market := matching.Market{Symbol: "BTC-USD", TickSize: "0.01", LotSize: "0.0001"}
		f, err := flow.Generate(flow.Config{Market: market, Commands: o.commands, Depth: o.depth, Accounts: o.accounts,
			Mix: flow.ExchangeCore, Seed: o.seed, Mid: 10_000_000, Spread: o.spread})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "flow: exchange-core mix (9%% GTC, 3%% IOC, 6%% cancel, 82%% modify moving the price), %d commands, initial book %d orders over ±%d ticks, %d accounts, seed %d\n",
			o.commands, o.depth, o.spread, o.accounts, o.seed)
		return measure(w, o, market, f)
	}
	names := []string{o.regime}
	if o.regime == "all" {
		names = flow.Names()
	}
	for _, name := range names {
		f, market, err := flow.Named(name, o.orders, o.seed)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "flow: regime %s, %d commands (%d warm-up), seed %d\n", name, len(f.Commands), len(f.Warmup), o.seed)
		if err := measure(w, o, market, f); err != nil {
			return err
		}
	}
	return nil
}

// measure replays f: closed-loop throughput o.runs times, then open-loop latency once.
func measure(w io.Writer, o options, market matching.Market, f flow.Flow) error {
	// An untimed replay finds the largest book the flow builds, so that every measured book is
	// reserved for it and the figures show steady-state allocation.
	book, out, err := warm(market, f, 0)
	if err != nil {
		return err
	}
	peak := book.Len()
	for _, c := range f.Commands {
		out = book.Apply(c, out[:0])
		peak = max(peak, book.Len())
	}
	reserve := peak + peak/4 + 4096

	// Throughput, closed loop.
	n := len(f.Commands)
	rates := make([]float64, 0, o.runs)
	cpuRates := make([]float64, 0, o.runs)
	var allocs, bytes uint64
	events := 0
	if o.cpuprofile != "" {
		pf, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	for range o.runs {
		book, out, err = warm(market, f, reserve)
		if err != nil {
			return err
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cpu0 := threadCPU()
		start := time.Now()
		events = 0
		for _, c := range f.Commands {
			out = book.Apply(c, out[:0])
			events += len(out)
		}
		elapsed := time.Since(start)
		if cpu := threadCPU() - cpu0; cpu > 0 {
			cpuRates = append(cpuRates, float64(n)/cpu.Seconds())
		}
		runtime.ReadMemStats(&after)
		rates = append(rates, float64(n)/elapsed.Seconds())
		allocs += after.Mallocs - before.Mallocs
		bytes += after.TotalAlloc - before.TotalAlloc
	}
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	slices.Sort(rates)
	fmt.Fprintf(w, "throughput: median %.0f msgs/s, min %.0f, max %.0f over %d runs (%d commands, %d events each, peak book %d orders, closed loop, one goroutine)\n",
		rates[len(rates)/2], rates[0], rates[len(rates)-1], o.runs, n, events, peak)
	if len(cpuRates) > 0 {
		slices.Sort(cpuRates)
		fmt.Fprintf(w, "throughput per CPU second of the thread (leaves out the time the machine gave others): median %.0f msgs/s, min %.0f, max %.0f\n",
			cpuRates[len(cpuRates)/2], cpuRates[0], cpuRates[len(cpuRates)-1])
	}
	fmt.Fprintf(w, "allocations: %.4f allocs/op (%d in %d commands), %.2f B/op\n",
		float64(allocs)/float64(n*o.runs), allocs, n*o.runs, float64(bytes)/float64(n*o.runs))

	if !o.latency {
		return nil
	}

	// Latency, open loop at the offered rate.
	book, out, err = warm(market, f, reserve)
	if err != nil {
		return err
	}
	lat := make([]int64, n)
	svc := make([]int64, n)
	kind := make([]matching.Op, n)
	interval := float64(time.Second) / o.rate
	runtime.GC()
	start := time.Now()
	for i, c := range f.Commands {
		due := time.Duration(float64(i) * interval)
		began := time.Since(start)
		for began < due {
			began = time.Since(start)
		}
		out = book.Apply(c, out[:0])
		ended := time.Since(start)
		lat[i] = int64(ended - due)
		svc[i] = int64(ended - began)
		kind[i] = c.Op
	}
	total := time.Since(start)
	fmt.Fprintf(w, "latency: offered %.0f msgs/s, achieved %.0f msgs/s, measured from each command's due time (no coordinated omission)\n",
		o.rate, float64(n)/total.Seconds())
	fmt.Fprintf(w, "  %-7s %s\n", "all", percentiles(lat))
	for _, op := range []matching.Op{matching.OpNew, matching.OpCancel, matching.OpModify} {
		var sub []int64
		for i, k := range kind {
			if k == op {
				sub = append(sub, lat[i])
			}
		}
		fmt.Fprintf(w, "  %-7s %s\n", op, percentiles(sub))
	}
	fmt.Fprintf(w, "service time (Apply alone, from its start; hides queueing, for comparison only):\n  %-7s %s\n", "all", percentiles(svc))
	fmt.Fprintf(w, "clock: %v per time.Since call (included in each latency)\n", clockCost())
	gaps, lost, longest := machineGaps(500 * time.Millisecond)
	fmt.Fprintf(w, "machine: a bare clock-reading loop on this goroutine was held up %d times for over %v in %v "+
		"(%.1f%% of the time lost, longest %v); commands due then wait as long, whatever the engine\n",
		gaps, gapThreshold, 500*time.Millisecond, 100*lost.Seconds()/0.5, longest)
	return nil
}

// gapThreshold is the hold-up machineGaps counts: far above a clock read (tens of ns).
const gapThreshold = 20 * time.Microsecond

// machineGaps spins reading the clock for d and reports the gaps between consecutive reads
// longer than gapThreshold: the time the machine (other processes, interrupts, the
// hypervisor) took this thread away. It bounds what an open-loop latency can show here.
func machineGaps(d time.Duration) (gaps int, lost, longest time.Duration) {
	start := time.Now()
	last := time.Duration(0)
	for last < d {
		now := time.Since(start)
		if g := now - last; g > gapThreshold {
			gaps++
			lost += g
			longest = max(longest, g)
		}
		last = now
	}
	return gaps, lost, longest
}

// warm returns a fresh book reserved for reserve orders, holding the flow's initial orders,
// and a reusable event slice.
func warm(m matching.Market, f flow.Flow, reserve int) (*matching.Book, []matching.Event, error) {
	book, err := matching.NewBook(m)
	if err != nil {
		return nil, nil, err
	}
	book.Reserve(reserve)
	out := make([]matching.Event, 0, 1024)
	for _, c := range f.Warmup {
		out = book.Apply(c, out[:0])
	}
	return book, out, nil
}

func percentiles(v []int64) string {
	if len(v) == 0 {
		return "no commands"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	at := func(q float64) time.Duration { return time.Duration(s[min(len(s)-1, int(q*float64(len(s))))]) }
	return fmt.Sprintf("n=%-8d p50 %-8v p99 %-8v p99.9 %-8v max %v", len(s), at(0.50), at(0.99), at(0.999), time.Duration(s[len(s)-1]))
}

func clockCost() time.Duration {
	const n = 100_000
	start := time.Now()
	var sink time.Duration
	for range n {
		sink += time.Since(start)
	}
	_ = sink
	return time.Since(start) / n
}
