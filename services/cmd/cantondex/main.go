// Command cantondex runs the whole platform in one process: the order-flow backend (order
// entry with pre-trade risk, matching engine, settlement, post-trade risk) and the REST API,
// on real PostgreSQL, Kafka and Redis when DATABASE_URL, KAFKA_BROKERS and REDIS_URL are set
// and on embedded in-process defaults otherwise (in-memory store, in-process Kafka broker,
// in-process Redis; it warns that state is then lost on exit). It seeds the demo market
// BTC-USD unless SEED_DEMO=false, prints the API address and an admin credential for the
// session, and stops cleanly on Ctrl-C. The API, including /api/v1/health, /api/v1/ready and
// /api/v1/metrics, listens on HTTP_ADDR (default 127.0.0.1:8080).
//
//	go run ./services/cmd/cantondex
package main

import (
	"fmt"
	"os"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/platform"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cantondex:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := platform.SignalContext()
	defer stop()
	pc, err := platform.LoadConfig("cantondex", os.Getenv)
	if err != nil {
		return err
	}
	if os.Getenv("LOG_FORMAT") == "" {
		pc.LogFormat = "text"
	}
	log := platform.NewLogger(pc)
	gc, err := gateway.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	gc.SessionAdmin = true
	ac, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	reg := platform.NewRegistry()
	ac.Log, ac.Registry, ac.Services = log, reg, app.All
	ac.RedisPrefix = os.Getenv("REDIS_PREFIX") // "" takes the app's default
	a, err := app.Start(ctx, ac)
	if err != nil {
		return err
	}
	defer a.Close()
	if os.Getenv("SEED_DEMO") != "false" {
		if err := a.SeedDemo(ctx); err != nil {
			return fmt.Errorf("seed demo market: %w", err)
		}
	}
	g, err := gateway.New(ctx, gc, gateway.Backend{
		Orders: a.Orders, Markets: a.Markets, Accounts: a.Accounts, Risk: a.Risk, Redis: a.Redis, Ready: a.Ready,
	}, reg, log)
	if err != nil {
		return err
	}
	defer g.Close()
	fmt.Printf("CantonDEX is running.\n  API:   %s\n  admin: %s\n  password: %s\nPress Ctrl-C to stop.\n",
		g.URL(), g.AdminEmail, g.AdminPassword)
	err = g.Serve(ctx)
	log.Info("stopping")
	return err
}
