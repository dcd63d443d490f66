// Command notification-service serves the WebSocket streams (services/notification) at
// /api/v1/stream on HTTP_ADDR (default :8080), behind the same ALB as the api-gateway, and
// their AsyncAPI document at /api/v1/asyncapi.json. Every replica reads every partition of
// trades, settlements and alerts by manual assignment from the newest offset (no consumer
// group: each must see every event for the connections it holds) and delivers to its own
// connections. It verifies the gateway's access tokens and API key signatures with the same
// keys (AUTH_TOKEN_KEY, AUTH_SEAL_KEY) and the same auth tables, claims signatures once in the
// shared Redis, and reads balances after settlement from PostgreSQL. It needs DATABASE_URL,
// KAFKA_BROKERS and REDIS_URL (its catalog entry) and exits naming the first one missing;
// /health, /ready and /metrics are on OPS_ADDR (default :9090).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cantondex/platform/services/auth"
	authpg "github.com/cantondex/platform/services/auth/postgres"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/notification"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/platform/version"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/risk"
)

func main() {
	if version.Handle(os.Stdout, catalog.NotificationService, os.Args[1:]) {
		return
	}
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "notification-service:", err)
		os.Exit(1)
	}
}

func run(getenv func(string) string) error {
	entry := catalog.MustLookup(catalog.NotificationService)
	cfg, err := platform.LoadConfig(entry, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	nc, err := notification.ConfigFromEnv(getenv, true)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := platform.NewLogger(cfg)
	ctx, stop := platform.SignalContext()
	defer stop()
	reg := platform.NewRegistry()

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
	authSvc, err := auth.NewService(authpg.NewStore(db.Pool), gateway.Nonces{Store: rdb.NewIdempotencyStore(2 * time.Minute)}, auth.Config{
		TokenKey: nc.TokenKey, SealKey: nc.SealKey, SignatureWindow: 30 * time.Second, Mailer: auth.NoMailer{Log: log},
	})
	if err != nil {
		return err
	}
	// Order entry is not used here: the exchange service only answers markets, assets and
	// balances from the read model.
	venue := exchange.New(postgres.NewStore(db), nil, rdb.Books(), risk.Limits{}, log)
	k := flow.NewKafka(entry, cfg.Kafka, "", flow.NewMetrics(reg), log)
	svc, err := notification.NewService(k, venue, authSvc, nc, reg, log)
	if err != nil {
		return err
	}
	log.Info("notification-service listening", "url", svc.URL())
	watch := func(ctx context.Context) error { authSvc.WatchSessions(ctx); <-ctx.Done(); return nil }
	return platform.Serve(ctx, log, cfg.OpsAddr, reg, platform.Checks(db.Ping, rdb.Ping, k.Ready), append(svc.Runs(), watch)...)
}
