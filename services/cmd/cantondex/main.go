// Command cantondex runs the whole platform in one process: the order-flow backend (order
// entry with pre-trade risk, matching engine, settlement, post-trade risk) and the REST API,
// on real PostgreSQL, Kafka and Redis when DATABASE_URL, KAFKA_BROKERS and REDIS_URL are set
// and on embedded in-process defaults otherwise (in-memory store, in-process Kafka broker,
// in-process Redis; it warns that state is then lost on exit). It is the only binary that
// embeds anything. It seeds the demo market BTC-USD unless SEED_DEMO=false, prints the API
// address and an admin credential for the session, and stops cleanly on Ctrl-C. The API
// listens on HTTP_ADDR (default 127.0.0.1:8080), the WebSocket streams of the notification
// service on STREAM_ADDR (default 127.0.0.1:8081, path /api/v1/stream); /health, /ready and
// /metrics on OPS_ADDR (default 127.0.0.1:9090).
//
//	go run ./services/cmd/cantondex
package main

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/compliance/consumer"
	cpg "github.com/cantondex/platform/services/compliance/postgres"
	"github.com/cantondex/platform/services/compliance/screening"
	"github.com/cantondex/platform/services/compliance/surveillance"
	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/notification"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/platform/telemetry"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/topics"
)

func main() {
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "cantondex:", err)
		os.Exit(1)
	}
}

// config is everything cantondex reads from the environment, once.
type config struct {
	platform.Config
	Gateway gateway.Config
	Fees    settlement.Fees
	Limits  risk.Limits
	Seed    bool               // SEED_DEMO (default true)
	tracing *telemetry.Tracing // on with OTEL_EXPORTER_OTLP_ENDPOINT
	// AuditSigner signs the audit trail's checkpoints (AUDIT_SIGNING_KEY, AUDIT_KEY_ID);
	// nil: a key generated per run.
	AuditSigner compliance.Signer
	// Screener screens KYC applications (SCREENING_LIST and its settings; nil: none).
	Screener compliance.Screener
	// Surveillance are the trade surveillance settings (SURVEILLANCE_SETTINGS, a JSON file
	// over the defaults).
	Surveillance surveillance.Config
	// LinksRefresh is how often the detectors' KYC links are re-read (KYC_LINKS_REFRESH).
	LinksRefresh time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var err error
	if c.Config, err = platform.LoadLocalConfig("cantondex", getenv); err != nil {
		return c, err
	}
	if getenv("LOG_FORMAT") == "" {
		c.LogFormat = "text"
	}
	if c.Gateway, err = gateway.ConfigFromEnv(getenv); err != nil {
		return c, err
	}
	if getenv("HTTP_ADDR") == "" {
		c.Gateway.Addr = "127.0.0.1:8080" // a local run stays on loopback
	}
	c.Gateway.SessionAdmin = true
	if c.Fees, err = platform.FeesFromEnv(getenv); err != nil {
		return c, err
	}
	if c.Limits, err = platform.LimitsFromEnv(getenv); err != nil {
		return c, err
	}
	if v := getenv("AUDIT_SIGNING_KEY"); v != "" {
		signer, err := compliance.SignerFromSettings(getenv("AUDIT_KEY_ID"), v)
		if err != nil {
			return c, err
		}
		c.AuditSigner = signer
	}
	if c.Screener, err = screening.ScreenerFromEnv(getenv); err != nil {
		return c, err
	}
	if c.Surveillance, err = surveillance.ConfigFromEnv(getenv); err != nil {
		return c, err
	}
	if c.LinksRefresh, err = compliance.LinksRefreshFromEnv(getenv); err != nil {
		return c, err
	}
	switch v := getenv("SEED_DEMO"); v {
	case "", "true":
		c.Seed = true
	case "false":
	default:
		return c, fmt.Errorf("SEED_DEMO %q: want true or false", v)
	}
	return c, nil
}

func run(getenv func(string) string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := platform.NewLogger(cfg.Config)
	ctx, stop := platform.SignalContext()
	defer stop()
	reg := platform.NewRegistry()
	tracing, flushTraces, err := platform.StartTracing(ctx, cfg.Config, log)
	if err != nil {
		return err
	}
	defer flushTraces()
	cfg.tracing = tracing

	b, err := start(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer b.close()
	if cfg.Seed {
		if err := flow.SeedDemo(ctx, b.exchange); err != nil {
			return fmt.Errorf("seed demo market: %w", err)
		}
	}
	g, err := gateway.New(ctx, cfg.Gateway, gateway.Backend{
		Orders: b.exchange, Markets: b.exchange, Accounts: b.exchange, Risk: b.exchange, Redis: b.redis, Ready: b.ready, DB: b.db,
		Gated: b.exchange, ComplianceStore: b.compliance, Screener: cfg.Screener,
		Tracing: cfg.tracing,
	}, reg, log)
	if err != nil {
		return err
	}
	defer g.Close()
	nc, err := notification.ConfigFromEnv(getenv, false)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	nc.Addr, nc.Server.OriginPatterns = cmp.Or(getenv("STREAM_ADDR"), "127.0.0.1:8081"), cfg.Gateway.CORSOrigins
	stream, err := notification.NewService(b.kafka(catalog.NotificationService), b.exchange, g.Auth, nc, reg, log.With("component", catalog.NotificationService))
	if err != nil {
		return err
	}
	ops, err := platform.ListenOps(cfg.OpsAddr, reg, g.Ready)
	if err != nil {
		return err
	}
	fmt.Printf("CantonDEX is running.\n  API:   %s\n  stream: %s\n  ops:   %s\n  admin: %s\n  password: %s\nPress Ctrl-C to stop.\n",
		g.URL(), stream.URL(), ops.URL(), g.AdminEmail, g.AdminPassword)
	err = platform.RunAll(ctx, append(append(b.runs, stream.Runs()...), g.Serve, ops.Serve)...)
	log.Info("stopping")
	return err
}

// backend is the all-in-one order flow: order entry and the three consumers in this process.
type backend struct {
	exchange *exchange.Service
	store    flow.Store
	db       *postgres.DB // nil on the in-memory store
	redis    *redis.Client
	// compliance is the audit trail and KYC store the gateway and the compliance consumer share.
	compliance interface {
		compliance.Store
		compliance.EventLog
		compliance.CaseStore
	}
	durable bool // false when some state lives only in this process
	ready   platform.Check
	runs    []func(ctx context.Context) error
	kafka   func(name string) *flow.Kafka // a catalog entry's Kafka access on the backend's cluster
	closers []func()
}

func (b *backend) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
	b.closers = nil
}

// start connects or embeds every dependency and builds the services; b.runs run them.
func start(ctx context.Context, cfg config, log *slog.Logger, reg *prometheus.Registry) (_ *backend, err error) {
	b := &backend{durable: true}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	var embedded []string
	var checks []platform.Check

	cluster := cfg.Kafka
	if len(cluster.Brokers) == 0 {
		k, err := kafka.StartEmbedded("")
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, k.Close)
		cluster = k.Cluster()
		embedded = append(embedded, "Kafka (in-process broker)")
	}
	// The all-in-one binary creates its topics itself (in a cluster, the kafka-topics Job does).
	if err := kafka.EnsureTopics(ctx, cluster, topics.All()); err != nil {
		return nil, err
	}

	if cfg.Redis.URL == "" {
		b.redis, err = redis.OpenEmbedded(cfg.Redis.Prefix)
		embedded = append(embedded, "Redis (in-process)")
	} else {
		b.redis, err = redis.Open(ctx, cfg.Redis)
	}
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, func() { _ = b.redis.Close() })
	checks = append(checks, b.redis.Ping)

	if cfg.Postgres.URL == "" {
		b.store = memory.New()
		embedded = append(embedded, "store (in memory instead of PostgreSQL)")
	} else {
		db, err := postgres.Open(ctx, cfg.Postgres)
		if err != nil {
			return nil, err
		}
		b.db = db
		b.closers = append(b.closers, db.Close)
		checks = append(checks, db.Ping)
		pg := postgres.NewStore(db)
		if len(cfg.Kafka.Brokers) == 0 {
			// The in-process broker starts with an empty log: the engine snapshots and the
			// settlement progress in the database name offsets of a log that is gone, and
			// orders still open there can no longer reach a book. Only this binary, and only
			// with its own embedded broker, ever does this.
			n, err := pg.ResetFlow(ctx, "log_reset", time.Now().UTC())
			if err != nil {
				return nil, err
			}
			log.Warn("embedded Kafka with a durable store: open orders cancelled and their holds released", "orders", n)
		}
		b.store = pg
	}
	if len(embedded) > 0 {
		b.durable = false
		log.Warn("embedded defaults in use: state is lost when the process exits", "embedded", embedded)
	}

	fm := platform.NewFlowMetrics(reg)
	km := flow.NewMetrics(reg)
	b.kafka = func(name string) *flow.Kafka {
		return flow.NewKafka(catalog.MustLookup(name), cluster, cfg.KafkaInstanceID, km, log.With("component", name))
	}
	kafkaFor := func(name string) (*flow.Kafka, *flow.Producer, error) {
		k := flow.NewKafka(catalog.MustLookup(name), cluster, cfg.KafkaInstanceID, km, log.With("component", name))
		k.Tracing = cfg.tracing
		checks = append(checks, k.Ready)
		p, err := k.StartProducer()
		if err != nil {
			return nil, nil, err
		}
		b.closers = append(b.closers, func() { _ = p.Close() })
		return k, p, nil
	}

	_, entryProd, err := kafkaFor(catalog.APIGateway)
	if err != nil {
		return nil, err
	}
	b.exchange = exchange.New(b.store, entryProd, b.redis.Books(), cfg.Limits, log)
	b.exchange.Placed = fm.InitEntry().Placed
	b.runs = append(b.runs, func(ctx context.Context) error { b.exchange.Relay(ctx); return nil })

	k, p, err := kafkaFor(catalog.MatchingEngine)
	if err != nil {
		return nil, err
	}
	m := &matchingsvc.Service{Store: b.store, Publisher: p, Depth: b.redis.Books(), Log: k.Log, Metrics: matchingsvc.NewMetrics(reg)}
	mg, err := flow.MatchingGroup(k, m)
	if err != nil {
		return nil, err
	}
	flow.InstrumentMatching(fm, m, mg)
	b.runs = append(b.runs, m.Run) // depth and snapshots off the partitions' goroutines

	k, p, err = kafkaFor(catalog.SettlementCoordinator)
	if err != nil {
		return nil, err
	}
	st := &settlement.Service{Store: b.store, Publisher: p, Fees: cfg.Fees, Log: k.Log}
	sg, err := flow.SettlementGroup(k, st)
	if err != nil {
		return nil, err
	}
	flow.InstrumentSettlement(fm, st, sg)

	k, p, err = kafkaFor(catalog.RiskManagement)
	if err != nil {
		return nil, err
	}
	rg, err := flow.RiskGroup(k, &risk.Monitor{Store: b.store, Publisher: p, Limits: cfg.Limits, Log: k.Log})
	if err != nil {
		return nil, err
	}
	rg.Lag = fm.Lag

	// The compliance-service: the flow into the audit trail, checkpoints signed with
	// AUDIT_SIGNING_KEY or, unset, a key generated for this run.
	if b.db != nil {
		b.compliance = cpg.New(b.db)
	} else {
		b.compliance = compliance.NewMemory()
	}
	k, p, err = kafkaFor(catalog.ComplianceService)
	if err != nil {
		return nil, err
	}
	// The detectors count accounts linked by KYC (shared beneficial owners) as one owner.
	links := &compliance.KYCLinks{}
	cg, err := consumer.Group(k, &compliance.Monitor{Log: b.compliance, Surveillance: surveillance.Live{D: surveillance.New(cfg.Surveillance, links)},
		Publisher: consumer.Events{P: p}, Cases: compliance.NewCases(b.compliance), Links: links})
	if err != nil {
		return nil, err
	}
	cg.Lag = fm.Lag
	signer := cfg.AuditSigner
	if signer == nil {
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			return nil, err
		}
		signer = compliance.Ed25519Signer{ID: "local-run", Key: key}
		log.Warn("AUDIT_SIGNING_KEY unset: audit checkpoints signed with a key generated for this run")
	}
	checkpoints := func(ctx context.Context) error {
		return compliance.Checkpoints(ctx, b.compliance, signer, time.Minute, func(err error) { log.Error("audit checkpoint", "err", err) })
	}

	refreshLinks := func(ctx context.Context) error {
		return links.Run(ctx, b.compliance, cfg.LinksRefresh, func(err error) { log.Error("kyc links refresh", "err", err) })
	}
	b.runs = append(b.runs, mg.Run, sg.Run, rg.Run, cg.Run, checkpoints, refreshLinks, flow.WatchConservation(reg, b.store, log))
	b.ready = platform.Checks(checks...)
	return b, nil
}
