package flow_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

var (
	crashOrders   = flag.Int("crash.orders", 2000, "orders the crash-safety test places")
	crashAccounts = flag.Int("crash.accounts", 40, "accounts the crash-safety test trades from")
)

// restartable runs a service under its own context and restarts it on demand, as a crash
// and a fresh process would: the new instance keeps nothing from the old one but the store.
type restartable struct {
	name  string
	start func(ctx context.Context) func() // returns a wait
	mu    sync.Mutex
	stop  context.CancelFunc
	wait  func()
	kills int
}

func (r *restartable) run() {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel // a process's start replaces it with SIGKILL
	r.wait = r.start(ctx)
}

func (r *restartable) kill() {
	r.mu.Lock()
	r.stop()
	r.wait()
	r.kills++
	r.mu.Unlock()
	r.run()
}

func (r *restartable) shutdown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stop()
	r.wait()
}

func minKills(rs []*restartable) int {
	n := 1 << 30
	for _, r := range rs {
		r.mu.Lock()
		n = min(n, r.kills)
		r.mu.Unlock()
	}
	return n
}

func goWait(ctx context.Context, fn func(ctx context.Context) error) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fn(ctx)
	}()
	return func() { <-done }
}

// TestCrashSafety drives thousands of orders from many accounts through order entry, the
// matching engine and settlement while killing each service in turn at random points, then
// checks that no accepted order was lost, no trade settled twice, every hold was released or
// consumed, no available balance went negative, and every asset's total across accounts equals
// deposits minus withdrawals. It runs on PostgreSQL when reachable (and on the memory store
// otherwise); -crash.orders and -crash.accounts make it longer.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash-safety run skipped in -short mode")
	}
	var store flow.Store = memory.New()
	if pgtest.Available(t) {
		store = postgres.NewStore(pgtest.New(t, "crash"))
	} else {
		t.Log("PostgreSQL unreachable: running on the memory store")
	}
	testCrashSafety(t, store, nil)
}

// TestCrashSafetySIGKILL is TestCrashSafety with the matching engine and the settlement
// coordinator as separate binaries that are killed with SIGKILL and started again. It builds
// the binaries and needs PostgreSQL (about 30 s). Each binary is a static consumer-group
// member (KAFKA_GROUP_INSTANCE_ID), as a StatefulSet pod would be: its restart takes over the
// killed process's partitions at once, even when the kill came in the middle of a join.
func TestCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("SIGKILL crash-safety run skipped in -short mode")
	}
	url := pgtest.NewURL(t, "sigkill")
	db, err := postgres.Open(context.Background(), postgres.Options{URL: url, MaxConns: 8})
	require.NoError(t, err)
	defer db.Close()
	bin, logs := buildBinaries(t, "matching-engine", "settlement-coordinator")
	testCrashSafety(t, postgres.NewStore(db), &binaries{dir: bin, dbURL: url, logs: logs})
}

// binaries says where the service binaries are and how to configure them.
type binaries struct {
	dir   string
	dbURL string
	logs  *os.File // the children's stdout and stderr, printed when the test fails
	// deploy runs the deployment-shaped variant (deploy_test.go): all four production
	// binaries, the broker with TLS + SCRAM, the real Redis, orders over HTTP.
	deploy *deployment
}

// process returns a restartable running binary name; kill sends SIGKILL. Each start gets the
// same environment, as a Deployment's pod does: the Kafka cluster's settings (brokers, TLS,
// SASL), PostgreSQL, Redis and extra.
func (b *binaries) process(t *testing.T, name string, cluster kafka.Cluster, redisURL, redisPrefix string, extra ...string) *restartable {
	r := &restartable{name: name}
	r.start = func(context.Context) func() {
		cmd := exec.Command(filepath.Join(b.dir, name))
		cmd.Env = append(append(cleanEnv(), cluster.Env()...), "DATABASE_URL="+b.dbURL,
			"REDIS_URL="+redisURL, "REDIS_PREFIX="+redisPrefix, "OPS_ADDR=127.0.0.1:0",
			"KAFKA_GROUP_INSTANCE_ID="+name+"-0", "FEE_MAKER_BPS=3", "FEE_TAKER_BPS=7", "LOG_LEVEL=info")
		if b.deploy != nil {
			cmd.Env = append(append(cmd.Env, b.deploy.redisEnv()...), "OPS_ADDR="+b.deploy.opsAddr(t, name))
		}
		cmd.Env = append(cmd.Env, extra...)
		fmt.Fprintf(b.logs, "=== %s start %s\n", name, time.Now().Format("15:04:05.000"))
		cmd.Stdout, cmd.Stderr = b.logs, b.logs
		// start runs on the killer's goroutine too: assert, and leave the process down.
		if err := cmd.Start(); !assert.NoError(t, err, "start %s", name) {
			return func() {}
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		r.stop = func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
		return func() { <-done }
	}
	return r
}

func testCrashSafety(t *testing.T, store flow.Store, procs *binaries) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var opts []kafka.EmbeddedOption
	if procs != nil && procs.deploy != nil {
		opts = procs.deploy.brokerOptions(t)
	}
	broker, err := kafka.StartEmbedded("", opts...)
	require.NoError(t, err)
	defer broker.Close()
	cluster := broker.Cluster()
	if procs != nil && procs.deploy != nil {
		procs.deploy.createTopics(t, procs, cluster)
	} else {
		require.NoError(t, kafka.EnsureTopics(ctx, cluster, topics.All()))
	}
	// An in-process Redis with an address, so that the service binaries reach it too (the
	// deployment-shaped run uses the machine's Redis).
	redisURL, redisPrefix := "", "crash"
	ropts := redis.Options{Prefix: redisPrefix}
	if procs != nil && procs.deploy != nil {
		ropts = procs.deploy.redis
		redisURL, redisPrefix = ropts.URL, ropts.Prefix
	} else {
		redisURL = "redis://" + miniredis.RunT(t).Addr()
		ropts.URL = redisURL
	}
	rdb, err := redis.Open(ctx, ropts)
	require.NoError(t, err)
	defer rdb.Close()
	// Each in-process service registers its topics through its catalog entry, as its binary does.
	kafkaOf := func(name string) *flow.Kafka {
		return flow.NewKafka(catalog.MustLookup(name), cluster, "", nil, log)
	}
	// The services' start functions run again on the killer's goroutine (a restart), so a
	// failure to start is reported with assert and leaves the service down.
	down := func() {}

	// Order entry: one exchange service at a time; a kill cancels the orders in flight.
	var (
		entryMu sync.RWMutex
		entry   *exchange.Service
	)
	limits := risk.Limits{MaxOpenOrders: 10_000, PriceBandBps: 5000}
	orderEntry := &restartable{name: "order-entry", start: func(ctx context.Context) func() {
		p, err := kafkaOf(catalog.APIGateway).Producer()
		if !assert.NoError(t, err, "order entry's producer") {
			return down
		}
		svc := exchange.New(store, p, rdb.Books(), limits, log)
		entryMu.Lock()
		entry = svc
		entryMu.Unlock()
		wait := goWait(ctx, func(ctx context.Context) error { svc.Relay(ctx); return nil })
		return func() { wait(); _ = p.Close() }
	}}
	matching := &restartable{name: "matching-engine", start: func(ctx context.Context) func() {
		k := kafkaOf(catalog.MatchingEngine)
		p, err := k.Producer()
		if !assert.NoError(t, err, "matching engine's producer") {
			return down
		}
		m := &matchingsvc.Service{Store: store, Publisher: p, Depth: rdb.Books(), Log: log, SnapshotEvery: 300}
		g, err := flow.MatchingGroup(k, m)
		if !assert.NoError(t, err, "matching engine's group") {
			_ = p.Close()
			return down
		}
		// As the binary does: depth and snapshots (from the books' replicas) off the
		// partitions' goroutines.
		waitOffload := goWait(ctx, m.Run)
		wait := goWait(ctx, g.Run)
		return func() { wait(); waitOffload(); _ = p.Close() }
	}}
	settle := &restartable{name: "settlement", start: func(ctx context.Context) func() {
		k := kafkaOf(catalog.SettlementCoordinator)
		p, err := k.Producer()
		if !assert.NoError(t, err, "settlement's producer") {
			return down
		}
		s := &settlement.Service{Store: store, Publisher: p, Fees: settlement.Fees{MakerBps: 3, TakerBps: 7}, Log: log}
		g, err := flow.SettlementGroup(k, s)
		if !assert.NoError(t, err, "settlement's group") {
			_ = p.Close()
			return down
		}
		wait := goWait(ctx, g.Run)
		return func() { wait(); _ = p.Close() }
	}}
	if procs != nil {
		matching = procs.process(t, "matching-engine", cluster, redisURL, redisPrefix)
		settle = procs.process(t, "settlement-coordinator", cluster, redisURL, redisPrefix)
	}
	services := []*restartable{orderEntry, matching, settle}
	// In the deployment-shaped run, order entry is the api-gateway binary, driven over HTTP,
	// and post-trade risk runs too: every production binary is killed in turn.
	var place entryPoint
	var d *deployment
	if procs != nil && procs.deploy != nil {
		d = procs.deploy
		orderEntry = d.gateway(t, procs, cluster, redisURL, redisPrefix)
		services = []*restartable{orderEntry, matching, settle, d.risk(t, procs, cluster, redisURL, redisPrefix)}
	}
	for _, s := range services {
		s.run()
	}
	defer func() {
		for _, s := range services {
			s.shutdown()
		}
	}()

	entryMu.RLock()
	seed := entry
	entryMu.RUnlock()
	if d != nil {
		// Assets, market and deposits are written to the database as an operator would;
		// orders go through the api-gateway process.
		seed = exchange.New(store, noPublisher{}, rdb.Books(), limits, log)
		d.waitReady(t, services)
		place = d.client
	}
	for _, a := range []trading.Asset{{Symbol: "BTC", Scale: 8}, {Symbol: "USD", Scale: 6}} {
		require.NoError(t, seed.CreateAsset(ctx, a))
	}
	_, err = seed.CreateMarket(ctx, flow.DemoMarket)
	require.NoError(t, err)
	accounts := make([]string, *crashAccounts)
	deposits := map[string]int64{}
	for i := range accounts {
		accounts[i] = fmt.Sprintf("acct%03d", i)
		if d != nil {
			accounts[i] = d.client.register(t, accounts[i]) // the account is the user's id
		}
		for asset, amt := range map[string]int64{"USD": 5_000_000_000, "BTC": 50_000_000} { // 5,000 USD, 0.5 BTC
			require.NoError(t, seed.Deposit(ctx, "seed-"+asset, accounts[i], asset, amt))
			deposits[asset] += amt
		}
	}
	// One withdrawal each, so the conservation check covers both directions.
	for _, acct := range accounts[:5] {
		require.NoError(t, seed.Withdraw(ctx, "w1", acct, "USD", 1_000_000))
		deposits["USD"] -= 1_000_000
	}

	// The killer restarts a random service every 100-300ms while orders flow (every 2-4s
	// for processes, whose consumer-group sessions must time out after a SIGKILL), and goes
	// on until each service was killed at least twice.
	stopKiller := make(chan struct{})
	killerDone := make(chan struct{})
	pause, jitter := 100, 200
	if procs != nil {
		pause, jitter = 2000, 2000
	}
	go func() {
		defer close(killerDone)
		rng := rand.New(rand.NewPCG(1, 2))
		stopping, stop := false, stopKiller
		for {
			select {
			case <-stop:
				stopping, stop = true, nil
			case <-time.After(time.Duration(pause+rng.IntN(jitter)) * time.Millisecond):
				services[rng.IntN(len(services))].kill()
			}
			if stopping && minKills(services) >= 2 {
				return
			}
		}
	}()

	var accepted sync.Map // order id -> account
	var placed, refused atomic.Int64
	var wg sync.WaitGroup
	per := *crashOrders / len(accounts)
	for i, acct := range accounts {
		wg.Add(1)
		go func(i int, acct string) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for n := 0; n < per; n++ {
				req := trading.PlaceOrder{Account: acct, ClientOrderID: fmt.Sprintf("c%d", n), Market: "BTC-USD",
					Type: trading.Limit, Side: trading.Buy, Price: int64(9_900 + rng.IntN(200)), Quantity: int64(1 + rng.IntN(50))}
				if rng.IntN(2) == 0 {
					req.Side = trading.Sell
				}
				if rng.IntN(5) == 0 {
					req.TimeInForce = trading.IOC
				}
				for attempt := 0; ; attempt++ {
					entryMu.RLock()
					var svc entryPoint = entry
					entryMu.RUnlock()
					if place != nil {
						svc = place
					}
					o, err := svc.PlaceOrder(ctx, req)
					if err == nil {
						accepted.Store(o.ID, acct)
						placed.Add(1)
						if rng.IntN(4) == 0 {
							_, _ = svc.CancelOrder(ctx, acct, o.ID)
						}
						break
					}
					code := trading.ErrorCode(err)
					if code == trading.EINSUFFICIENT || code == trading.EINVALID {
						refused.Add(1)
						break
					}
					if attempt > 50 && (place == nil || attempt > 1500) { // a process restart takes seconds
						assert.NoError(t, err, "place order after %d attempts", attempt)
						return
					}
					time.Sleep(20 * time.Millisecond) // retried with the same client order id
				}
			}
		}(i, acct)
	}
	wg.Wait()
	close(stopKiller)
	<-killerDone

	// Cancel whatever rests, then wait for the flow to drain.
	entryMu.RLock()
	var svc entryPoint = entry
	entryMu.RUnlock()
	if place != nil {
		svc = place
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		open := 0
		for _, acct := range accounts {
			st, err := store.PreTrade(ctx, acct, flow.DemoMarket.Symbol)
			require.NoError(t, err)
			n := st.OpenOrders
			open += n
			if n > 0 {
				_, err := svc.CancelAll(ctx, acct, "")
				require.NoError(t, err)
			}
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			groupDiagnostics(t, cluster)
			stuckOrders(t, store, accounts, &accepted)
			require.Failf(t, "flow not drained", "%d orders still open after the flow drained", open)
		}
		time.Sleep(500 * time.Millisecond)
	}
	kills := map[string]int{}
	for _, s := range services {
		kills[s.name] = s.kills
	}
	t.Logf("placed %d orders (%d refused by risk); kills %v", placed.Load(), refused.Load(), kills)
	require.GreaterOrEqual(t, placed.Load(), int64(*crashOrders)/2, "orders accepted")
	checkInvariants(t, store, accounts, deposits, &accepted)
	if d != nil {
		d.checkRegistrations(t, services)
	}
}

// entryPoint is how the test places and cancels orders: the exchange service in process, or
// the api-gateway binary over HTTP.
type entryPoint interface {
	PlaceOrder(ctx context.Context, req trading.PlaceOrder) (trading.Order, error)
	CancelOrder(ctx context.Context, account, orderID string) (trading.Order, error)
	CancelAll(ctx context.Context, account, market string) (int, error)
}

// cleanEnv is this process's environment without the platform's own settings.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "KAFKA_") || strings.HasPrefix(name, "REDIS_") || strings.HasPrefix(name, "DB_") ||
			name == "DATABASE_URL" || name == "HTTP_ADDR" || name == "OPS_ADDR" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func checkInvariants(t *testing.T, store flow.Store, accounts []string, deposits map[string]int64, accepted *sync.Map) {
	ctx := context.Background()
	// No accepted order lost: each exists, ended, and its fills match its trades.
	filledByTrades := map[string]int64{}
	trades := 0
	seen := map[string]bool{}
	for _, acct := range accounts {
		cursor := ""
		for {
			p, err := store.AccountTrades(ctx, acct, cursor, 500)
			require.NoError(t, err)
			for _, tr := range p.Items {
				if seen[tr.ID] {
					continue
				}
				seen[tr.ID] = true
				trades++
				filledByTrades[tr.MakerOrderID] += tr.Quantity
				filledByTrades[tr.TakerOrderID] += tr.Quantity
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
	}
	lost := 0
	accepted.Range(func(k, v any) bool {
		o, err := store.Order(ctx, v.(string), k.(string))
		if err != nil {
			lost++
			return true
		}
		assert.True(t, o.Status.Final(), "order %s still %s", o.ID, o.Status)
		assert.Equal(t, filledByTrades[o.ID], o.Filled, "order %s filled %d, trades say %d", o.ID, o.Filled, filledByTrades[o.ID])
		assert.LessOrEqual(t, o.Filled, o.Quantity, "order %s filled %d of %d", o.ID, o.Filled, o.Quantity)
		return true
	})
	assert.Zero(t, lost, "accepted orders lost")
	assert.NotZero(t, trades, "no trades: the test exercised nothing")
	// Holds all released or consumed, no negative available.
	for _, acct := range accounts {
		bs, err := store.Balances(ctx, acct)
		require.NoError(t, err)
		for _, b := range bs {
			assert.Zero(t, b.Held, "%s %s held: %+v", acct, b.Asset, b)
			assert.GreaterOrEqual(t, b.Available, int64(0), "%s %s available: %+v", acct, b.Asset, b)
			assert.GreaterOrEqual(t, b.Total, int64(0), "%s %s total: %+v", acct, b.Asset, b)
		}
	}
	tot, err := store.Totals(ctx)
	require.NoError(t, err)
	for asset, want := range deposits {
		got := tot[asset]
		fees, _ := store.Balance(ctx, ledger.Fees, asset)
		// Owner accounts hold deposits minus withdrawals minus fees; fees sit in @fees.
		assert.Equal(t, want, got.Owners+fees.Total, "%s: owners plus fees against deposits-withdrawals; totals %+v, fees %d", asset, got, fees.Total)
		assert.Zero(t, got.Owners+got.System, "%s: owners and system do not balance: %+v", asset, got)
		assert.Zero(t, got.OpenHeld, "%s: open holds left: %+v", asset, got)
		assert.Zero(t, got.Held, "%s: held left: %+v", asset, got)
	}
	// A trade settled twice would move funds twice while being recorded once: replay the
	// recorded trades from the deposits and compare every balance.
	t.Logf("%d trades settled once each", trades)
}

// groupDiagnostics logs, for each consumer group and the topic it consumes, the committed
// offset of every partition next to its high-water mark.
func groupDiagnostics(t *testing.T, cluster kafka.Cluster) {
	cfg, err := cluster.Config("crash-diagnostics")
	if err != nil {
		t.Logf("diagnostics: %v", err)
		return
	}
	client, err := sarama.NewClient(cluster.Brokers, cfg)
	if err != nil {
		t.Logf("diagnostics: %v", err)
		return
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Logf("diagnostics: %v", err)
		return
	}
	for group, topic := range map[string]string{catalog.MatchingEngine: topics.Orders, catalog.SettlementCoordinator: topics.Trades} {
		parts, err := client.Partitions(topic)
		if err != nil {
			t.Logf("diagnostics %s: %v", topic, err)
			continue
		}
		offs, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
		if err != nil {
			t.Logf("diagnostics %s: %v", group, err)
			continue
		}
		var b strings.Builder
		for _, p := range parts {
			hw, _ := client.GetOffset(topic, p, sarama.OffsetNewest)
			committed := int64(-1)
			if blk := offs.GetBlock(topic, p); blk != nil {
				committed = blk.Offset
			}
			if hw > 0 || committed >= 0 {
				fmt.Fprintf(&b, " p%d committed=%d hw=%d", p, committed, hw)
			}
		}
		if desc, err := admin.DescribeConsumerGroups([]string{group}); err == nil && len(desc) == 1 {
			fmt.Fprintf(&b, " state=%s members=%d", desc[0].State, len(desc[0].Members))
			for id, m := range desc[0].Members {
				if a, err := m.GetMemberAssignment(); err == nil && a != nil {
					fmt.Fprintf(&b, " [%s %v]", id, a.Topics)
				}
			}
		}
		t.Logf("group %s on %s:%s", group, topic, b.String())
	}
}

// stuckOrders logs the accepted orders that have not ended.
func stuckOrders(t *testing.T, store flow.Store, accounts []string, accepted *sync.Map) {
	ctx := context.Background()
	n := 0
	accepted.Range(func(k, v any) bool {
		o, err := store.Order(ctx, v.(string), k.(string))
		if err != nil || o.Status.Final() {
			return true
		}
		if n++; n <= 20 {
			t.Logf("stuck order %s %s %s filled %d of %d", o.ID, v, o.Status, o.Filled, o.Quantity)
		}
		return true
	})
	t.Logf("%d stuck orders", n)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// notInfo keeps the lines that are not info-level log records.
func notInfo(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if l != "" && !strings.Contains(l, `"level":"INFO"`) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// noPublisher refuses to publish: the seeding service only writes to the database.
type noPublisher struct{}

func (noPublisher) PublishCommands(context.Context, ...trading.OrderCommand) error {
	return trading.Errorf(trading.EINTERNAL, "seeding publishes nothing")
}

// buildBinaries builds the commands services/cmd/<name> into a directory of the test and
// opens the log their processes write to; the log is printed when the test fails.
func buildBinaries(t *testing.T, names ...string) (dir string, logs *os.File) {
	t.Helper()
	dir = t.TempDir()
	args := []string{"build", "-o", dir}
	for _, n := range names {
		args = append(args, "./cmd/"+n)
	}
	build := exec.Command("go", args...)
	build.Dir = ".."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build: %s", out)
	logs, err = os.Create(filepath.Join(dir, "children.log"))
	require.NoError(t, err)
	t.Cleanup(func() {
		defer logs.Close()
		if !t.Failed() {
			return
		}
		if out, err := os.ReadFile(logs.Name()); err == nil {
			t.Logf("children's warnings and errors:\n%s", tail(notInfo(string(out)), 200))
			t.Logf("children's output (last 80 lines):\n%s", tail(string(out), 80))
		}
	})
	return dir, logs
}
