// Command api-gateway serves the trading REST API on HTTP_ADDR (default :8080): order entry
// with pre-trade risk (its outbox relay publishes to the orders topic), queries on the
// PostgreSQL read model, and the auth service; the matching engine, settlement and risk run as
// their own processes. It needs DATABASE_URL, KAFKA_BROKERS and REDIS_URL (its catalog entry)
// and exits naming the first one missing, before it connects to anything; /health, /ready and
// /metrics are on OPS_ADDR (default :9090), never on the public API.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/compliance/screening"
	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/platform/version"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/redis"
)

func main() {
	if version.Handle(os.Stdout, "api-gateway", os.Args[1:]) {
		return
	}
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "api-gateway:", err)
		os.Exit(1)
	}
}

func run(getenv func(string) string) error {
	entry := catalog.MustLookup(catalog.APIGateway)
	cfg, err := platform.LoadConfig(entry, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	gc, err := gateway.ConfigFromEnv(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	limits, err := platform.LimitsFromEnv(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	screener, err := screening.ScreenerFromEnv(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := platform.NewLogger(cfg)
	ctx, stop := platform.SignalContext()
	defer stop()
	reg := platform.NewRegistry()
	tracing, flushTraces, err := platform.StartTracing(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer flushTraces()

	db, err := postgres.Open(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer db.Close()
	rdb, err := redis.Open(ctx, cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	k := flow.NewKafka(entry, cfg.Kafka, cfg.KafkaInstanceID, flow.NewMetrics(reg), log)
	k.Tracing = tracing
	prod, err := k.StartProducer()
	if err != nil {
		return err
	}
	defer prod.Close()
	svc := exchange.New(postgres.NewStore(db), prod, rdb.Books(), limits, log)
	fm := platform.NewFlowMetrics(reg)
	svc.Placed = fm.InitEntry().Placed

	g, err := gateway.New(ctx, gc, gateway.Backend{
		Orders: svc, Markets: svc, Accounts: svc, Risk: svc, Redis: rdb, DB: db, Gated: svc,
		Ready: platform.Checks(db.Ping, rdb.Ping), Tracing: tracing, Screener: screener,
	}, reg, log)
	if err != nil {
		return err
	}
	defer g.Close()
	log.Info("api-gateway listening", "url", g.URL())
	return platform.Serve(ctx, log, cfg.OpsAddr, reg, g.Ready,
		func(ctx context.Context) error { svc.Relay(ctx); return nil }, g.Serve)
}
