// Command api-gateway serves the trading REST API. With KAFKA_BROKERS set it runs order entry
// only, and the matching engine, settlement and risk run as their own processes; without it,
// it runs the whole backend in process on embedded defaults (a development convenience: use
// cmd/cantondex for that).
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
		fmt.Fprintln(os.Stderr, "api-gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := platform.SignalContext()
	defer stop()
	pc, err := platform.LoadConfig("api-gateway", os.Getenv)
	if err != nil {
		return err
	}
	log := platform.NewLogger(pc)
	gc, err := gateway.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ac, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	reg := platform.NewRegistry()
	ac.Log, ac.Registry = log, reg
	ac.RedisPrefix = os.Getenv("REDIS_PREFIX") // "" takes the app's default
	if len(ac.KafkaBrokers) > 0 {
		ac.Services = app.OrderEntryOnly
	}
	a, err := app.Start(ctx, ac)
	if err != nil {
		return err
	}
	defer a.Close()
	g, err := gateway.New(ctx, gc, gateway.Backend{
		Orders: a.Orders, Markets: a.Markets, Accounts: a.Accounts, Risk: a.Risk, Redis: a.Redis, Ready: a.Ready,
	}, reg, log)
	if err != nil {
		return err
	}
	defer g.Close()
	log.Info("api-gateway listening", "url", g.URL())
	return g.Serve(ctx)
}
