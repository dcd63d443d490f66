// Package app starts the order-flow backend in one process: the order-entry services the
// api-gateway serves (with pre-trade risk), and, unless switched off, the matching engine,
// the settlement consumer (ledger, order read model) and post-trade risk, all over Kafka.
//
// Usage (the all-in-one binary and the api-gateway):
//
//	cfg, err := app.ConfigFromEnv(os.Getenv) // DATABASE_URL, KAFKA_BROKERS, REDIS_URL
//	cfg.Log = logger
//	a, err := app.Start(ctx, cfg)
//	defer a.Close()
//	// a.Orders, a.Markets, a.Accounts, a.Risk implement the trading interfaces;
//	// a.Redis offers NewLimiter, NewIdempotencyStore, NewCounter for the HTTP layer;
//	// a.Ready(ctx) is the readiness check; a.SeedDemo(ctx) creates BTC-USD.
//
// Every endpoint left empty gets an embedded default: an in-process Kafka-protocol broker,
// an in-process Redis, and an in-memory store instead of PostgreSQL. State is then lost on
// exit, and Start logs a warning saying so.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/ledger"
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

// Services selects the backend services Start runs besides order entry.
type Services uint8

const (
	Matching Services = 1 << iota
	Settlement
	PostTradeRisk
	// All runs every backend service in this process (the local default).
	All = Matching | Settlement | PostTradeRisk
	// OrderEntryOnly runs none: the process serves orders and queries, other processes run
	// the matching engine, settlement and risk.
	OrderEntryOnly Services = 0
)

// Config says where the dependencies are. Empty endpoints select the embedded defaults.
type Config struct {
	DatabaseURL  string
	DBMaxConns   int32
	KafkaBrokers []string
	RedisURL     string
	RedisPrefix  string // default "cdx"
	Limits       risk.Limits
	Fees         settlement.Fees
	Services     Services
	Log          *slog.Logger         // default slog.Default()
	Registry     *prometheus.Registry // metrics are registered here when set
}

// ConfigFromEnv reads DATABASE_URL, KAFKA_BROKERS, REDIS_URL, DB_MAX_CONNS, the fees
// (FeesFromEnv) and the risk limits (LimitsFromEnv), and runs all services.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	pc, err := platform.LoadConfig("cantondex", getenv)
	if err != nil {
		return Config{}, err
	}
	fees, err := FeesFromEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	limits, err := LimitsFromEnv(getenv)
	if err != nil {
		return Config{}, err
	}
	return Config{
		DatabaseURL: pc.DatabaseURL, DBMaxConns: pc.DBMaxConns, KafkaBrokers: pc.KafkaBrokers,
		RedisURL: pc.RedisURL, Services: All, Fees: fees, Limits: limits,
	}, nil
}

// App is the running backend.
type App struct {
	Orders   trading.OrderService
	Markets  trading.MarketService
	Accounts trading.AccountService
	Risk     trading.RiskAdmin
	// Exchange is the concrete service behind the four interfaces (CreateAsset, Relay).
	Exchange *exchange.Service
	// Redis is the Redis adapter for rate limits, idempotency keys and counters.
	Redis *redis.Client
	// Durable is false when some state lives only in this process (an embedded default).
	Durable bool

	log     *slog.Logger
	store   Store
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errMu   sync.Mutex
	err     error
	closers []func() error
	ready   []platform.Check
}

// Start connects or starts every dependency and the selected services. The services run
// until ctx ends or Close is called.
func Start(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RedisPrefix == "" {
		cfg.RedisPrefix = "cdx"
	}
	runCtx, cancel := context.WithCancel(ctx)
	a := &App{log: cfg.Log, cancel: cancel, Durable: true}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	var embedded []string

	kc := kafka.Cluster{Brokers: cfg.KafkaBrokers}
	if len(kc.Brokers) == 0 {
		k, err := kafka.StartEmbedded("")
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() error { k.Close(); return nil })
		kc = k.Cluster()
		embedded = append(embedded, "Kafka (in-process broker)")
	}
	if err := kafka.EnsureTopics(ctx, kc, topics.All()); err != nil {
		return nil, err
	}
	prod, err := kafka.NewProducer(kc, "order-entry")
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, prod.Close)

	if cfg.RedisURL == "" {
		a.Redis, err = redis.OpenEmbedded(cfg.RedisPrefix)
		embedded = append(embedded, "Redis (in-process)")
	} else {
		a.Redis, err = redis.Open(ctx, cfg.RedisURL, cfg.RedisPrefix)
	}
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.Redis.Close)
	a.ready = append(a.ready, a.Redis.Ping)

	var store Store
	if cfg.DatabaseURL == "" {
		store = memory.New()
		embedded = append(embedded, "store (in memory instead of PostgreSQL)")
	} else {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() error { db.Close(); return nil })
		a.ready = append(a.ready, db.Ping)
		pg := postgres.NewStore(db)
		if len(cfg.KafkaBrokers) == 0 {
			// The in-process broker starts with an empty log: the engine snapshots and the
			// settlement progress in the database name offsets of a log that is gone, and
			// orders still open there can no longer reach a book.
			n, err := pg.ResetFlow(ctx, "log_reset", time.Now().UTC())
			if err != nil {
				return nil, err
			}
			a.log.Warn("embedded Kafka with a durable store: open orders cancelled and their holds released", "orders", n)
		}
		store = pg
	}
	if len(embedded) > 0 {
		a.Durable = false
		a.log.Warn("embedded defaults in use: state is lost when the process exits", "embedded", embedded)
	}

	svc := exchange.New(store, prod, a.Redis.Books(), cfg.Limits, a.log)
	var fm *platform.FlowMetrics
	if cfg.Registry != nil {
		fm = platform.NewFlowMetrics(cfg.Registry)
		svc.Placed = func(r string) { fm.OrdersPlaced.WithLabelValues(r).Inc() }
	}
	a.Exchange, a.Orders, a.Markets, a.Accounts, a.Risk = svc, svc, svc, svc, svc
	a.goRun(runCtx, "relay", func(ctx context.Context) error { svc.Relay(ctx); return nil })
	a.store = store

	if cfg.Services&Matching != 0 {
		p, err := kafka.NewProducer(kc, MatchingGroup)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, p.Close)
		m := &matchingsvc.Service{Store: store, Publisher: p, Depth: a.Redis.Books(), Log: a.log.With("component", MatchingGroup)}
		g := MatchingGroupFor(kc, m, m.Log)
		InstrumentMatching(fm, m, g)
		a.goRun(runCtx, MatchingGroup, g.Run)
	}
	if cfg.Services&Settlement != 0 {
		p, err := kafka.NewProducer(kc, SettlementGroup)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, p.Close)
		st := &settlement.Service{Store: store, Publisher: p, Fees: cfg.Fees, Log: a.log.With("component", SettlementGroup)}
		g := SettlementGroupFor(kc, st, st.Log)
		InstrumentSettlement(fm, st, g)
		a.goRun(runCtx, SettlementGroup, g.Run)
	}
	if cfg.Services&PostTradeRisk != 0 {
		p, err := kafka.NewProducer(kc, RiskGroup)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, p.Close)
		m := &risk.Monitor{Store: store, Publisher: p, Limits: cfg.Limits, Log: a.log.With("component", RiskGroup)}
		g := RiskGroupFor(kc, m, m.Log)
		if fm != nil {
			g.Lag = fm.Lag
		}
		a.goRun(runCtx, RiskGroup, g.Run)
	}
	return a, nil
}

// Store is every storage port the backend uses; memory.Store and postgres.Store implement it.
type Store interface {
	exchange.Store
	settlement.Store
	matchingsvc.Store
}

// Ledger returns the ledger port of the running store (for checks and tools).
func (a *App) Ledger() ledger.Store { return a.store }

func (a *App) goRun(ctx context.Context, name string, fn func(context.Context) error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("service stopped", "service", name, "err", err)
			a.errMu.Lock()
			if a.err == nil {
				a.err = fmt.Errorf("%s: %w", name, err)
			}
			a.errMu.Unlock()
		}
	}()
}

// Ready reports whether every dependency answers.
func (a *App) Ready(ctx context.Context) error {
	for _, c := range a.ready {
		if err := c(ctx); err != nil {
			return err
		}
	}
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.err
}

// Wait blocks until every service goroutine has returned (after ctx of Start ended or Close)
// and returns the first service error.
func (a *App) Wait() error {
	a.wg.Wait()
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.err
}

// Close stops the services, waits for them and releases every dependency.
func (a *App) Close() error {
	a.cancel()
	a.wg.Wait()
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
