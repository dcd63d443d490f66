// Command flowbench pushes orders through the full flow — pre-trade risk and fund
// reservation, the orders topic, the matching engine, the trades topic, settlement on the
// ledger — and reports sustained orders/s, trades settled/s and order-to-settlement latency
// p50/p99 (from risk acceptance to the settlement commit).
//
//	go run ./services/cmd/flowbench -database postgres://postgres@127.0.0.1:5432/flowbench?sslmode=disable
//
// The database must exist and should be empty (it is migrated). Without -database the
// in-memory store is used. Kafka is the in-process broker unless KAFKA_BROKERS is set.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

func main() {
	var (
		database    = flag.String("database", os.Getenv("DATABASE_URL"), "PostgreSQL URL (empty: in-memory store)")
		orders      = flag.Int("orders", 20000, "orders to place")
		accounts    = flag.Int("accounts", 200, "trading accounts")
		concurrency = flag.Int("concurrency", 32, "concurrent order submitters")
		rate        = flag.Int("rate", 0, "target orders/s (0: as fast as possible)")
		entryOnly   = flag.Bool("entry-only", false, "measure order entry alone (no engine or settlement)")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	)
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "flowbench:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(*database, *orders, *accounts, *concurrency, *rate, *entryOnly); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "flowbench:", err)
		os.Exit(1)
	}
}

func run(database string, nOrders, nAccounts, concurrency, rate int, entryOnly bool) error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var brokers []string
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		brokers = strings.Split(b, ",")
	} else {
		k, err := kafka.StartEmbedded("")
		if err != nil {
			return err
		}
		defer k.Close()
		brokers = k.Brokers()
	}
	if err := kafka.EnsureTopics(ctx, kafka.Cluster{Brokers: brokers}, topics.All()); err != nil {
		return err
	}
	// Order entry, the engine and settlement in this process, each registered through its
	// catalog entry as its binary is.
	var store flow.Store = memory.New()
	if database != "" {
		db, err := postgres.Open(ctx, postgres.Options{URL: database, MaxConns: 32})
		if err != nil {
			return err
		}
		defer db.Close()
		store = postgres.NewStore(db)
	}
	rdb, err := redis.OpenEmbedded("flowbench")
	if err != nil {
		return err
	}
	defer rdb.Close()
	producer := func(name string) (*flow.Kafka, *flow.Producer, error) {
		k := flow.NewKafka(catalog.MustLookup(name), kafka.Cluster{Brokers: brokers}, "", nil, log)
		p, err := k.Producer()
		return k, p, err
	}
	_, entryProd, err := producer(catalog.APIGateway)
	if err != nil {
		return err
	}
	defer entryProd.Close()
	ex := exchange.New(store, entryProd, rdb.Books(), risk.Limits{MaxOpenOrders: 1 << 30, PriceBandBps: 5000}, log)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runs := []func(context.Context) error{func(ctx context.Context) error { ex.Relay(ctx); return nil }}
	if !entryOnly {
		k, p, err := producer(catalog.MatchingEngine)
		if err != nil {
			return err
		}
		defer p.Close()
		mg, err := flow.MatchingGroup(k, &matchingsvc.Service{Store: store, Publisher: p, Depth: rdb.Books(), Log: log})
		if err != nil {
			return err
		}
		k, p, err = producer(catalog.SettlementCoordinator)
		if err != nil {
			return err
		}
		defer p.Close()
		sg, err := flow.SettlementGroup(k, &settlement.Service{Store: store, Publisher: p, Fees: settlement.Fees{MakerBps: 2, TakerBps: 5}, Log: log})
		if err != nil {
			return err
		}
		runs = append(runs, mg.Run, sg.Run)
	}
	go func() { _ = platform.RunAll(runCtx, runs...) }()
	if err := flow.SeedDemo(ctx, ex); err != nil {
		return err
	}
	accts := make([]string, nAccounts)
	for i := range accts {
		accts[i] = fmt.Sprintf("bench%04d", i)
		if err := ex.Deposit(ctx, "usd", accts[i], "USD", 1<<50); err != nil {
			return err
		}
		if err := ex.Deposit(ctx, "btc", accts[i], "BTC", 1<<50); err != nil {
			return err
		}
	}

	// Watch settlements from the start of the log.
	var (
		mu        sync.Mutex
		latencies []time.Duration
		toEngine  []time.Duration // order accepted to the engine's trade, for orders that traded
		trades    int
		lastSettl time.Time
		settled   atomic.Int64
	)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watcher := &kafka.Group{Cluster: kafka.Cluster{Brokers: brokers}, Group: fmt.Sprintf("flowbench-%d", time.Now().UnixNano()), Topics: []string{topics.Settlements}, MaxBatch: 2000, Log: log,
		Handle: func(_ context.Context, msgs []kafka.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				st, err := kafka.DecodeSettlement(m)
				if err != nil {
					return err
				}
				trades += len(st.Trades)
				if st.SettledAt.After(lastSettl) {
					lastSettl = st.SettledAt
				}
				latencies = append(latencies, st.SettledAt.Sub(st.AcceptedAt))
				if len(st.Trades) > 0 {
					toEngine = append(toEngine, st.Trades[0].ExecutedAt.Sub(st.AcceptedAt))
				}
			}
			settled.Add(int64(len(msgs)))
			return nil
		}}
	go func() { _ = watcher.Run(watchCtx) }()

	// Warm up: wait until the consumer groups have joined and a first order went through.
	if !entryOnly {
		if _, err := ex.PlaceOrder(ctx, trading.PlaceOrder{Account: accts[0], Market: flow.DemoMarket.Symbol, Type: trading.Limit,
			Side: trading.Buy, TimeInForce: trading.IOC, Price: 1_000_000, Quantity: 1}); err != nil {
			return err
		}
		for settled.Load() < 1 {
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		latencies, toEngine, trades = latencies[:0], toEngine[:0], 0
		settled.Store(0)
		mu.Unlock()
	}

	fmt.Printf("flowbench: %d orders, %d accounts, %d submitters, store=%s\n", nOrders, nAccounts, concurrency, storeName(database))
	var next atomic.Int64
	var refused atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for {
				i := next.Add(1) - 1
				if i >= int64(nOrders) {
					return
				}
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
						time.Sleep(d)
					}
				}
				req := trading.PlaceOrder{Account: accts[rng.IntN(len(accts))], Market: flow.DemoMarket.Symbol, Type: trading.Limit,
					Side: trading.Buy, Price: int64(1_000_000 - 50 + rng.IntN(100)), Quantity: int64(1 + rng.IntN(20))}
				if rng.IntN(2) == 0 {
					req.Side = trading.Sell
				}
				if rng.IntN(4) == 0 {
					req.TimeInForce = trading.IOC
				}
				if _, err := ex.PlaceOrder(ctx, req); err != nil {
					refused.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	placedIn := time.Since(start)
	accepted := int64(nOrders) - refused.Load()
	if entryOnly {
		fmt.Printf("orders accepted:     %d (%d refused)\n", accepted, refused.Load())
		fmt.Printf("orders/s (entry):    %.0f over %s\n", float64(accepted)/placedIn.Seconds(), placedIn.Round(time.Millisecond))
		return nil
	}
	deadline := time.Now().Add(5 * time.Minute)
	for settled.Load() < accepted {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d executions settled", settled.Load(), accepted)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	flowTime := lastSettl.Sub(start)
	slices.Sort(latencies)
	slices.Sort(toEngine)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	pctEngine := func(p float64) time.Duration {
		if len(toEngine) == 0 {
			return 0
		}
		return toEngine[min(len(toEngine)-1, int(p*float64(len(toEngine))))].Round(10 * time.Microsecond)
	}
	fmt.Printf("orders accepted:     %d (%d refused)\n", accepted, refused.Load())
	fmt.Printf("orders/s (entry):    %.0f over %s\n", float64(accepted)/placedIn.Seconds(), placedIn.Round(time.Millisecond))
	fmt.Printf("orders/s (settled):  %.0f over %s\n", float64(accepted)/flowTime.Seconds(), flowTime.Round(time.Millisecond))
	fmt.Printf("trades settled/s:    %.0f (%d trades)\n", float64(trades)/flowTime.Seconds(), trades)
	fmt.Printf("order-to-trade:      p50 %s  p99 %s (orders that traded: accepted to the engine's execution)\n", pctEngine(0.50), pctEngine(0.99))
	fmt.Printf("order-to-settlement: p50 %s  p99 %s  max %s\n", pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), latencies[len(latencies)-1].Round(time.Millisecond))
	return nil
}

func storeName(database string) string {
	if database == "" {
		return "memory"
	}
	return "postgresql"
}
