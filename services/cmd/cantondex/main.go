// Command cantondex runs the whole order-flow backend in one process for local use: order
// entry with pre-trade risk, the matching engine, settlement and post-trade risk. Without
// DATABASE_URL, KAFKA_BROKERS or REDIS_URL it uses embedded defaults (in-memory store,
// in-process Kafka broker, in-process Redis) and warns that state is lost on exit. It seeds
// the demo market BTC-USD unless SEED_DEMO=false, and serves /health, /ready and /metrics on
// HTTP_ADDR (default :8080).
package main

import (
	"context"
	"os"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/platform"
)

func main() {
	os.Exit(platform.Run("cantondex", func(ctx context.Context, p platform.Process) (platform.Check, func() error, error) {
		cfg, err := app.ConfigFromEnv(os.Getenv)
		if err != nil {
			return nil, nil, err
		}
		cfg.Log, cfg.Registry = p.Log, p.Registry
		a, err := app.Start(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		if os.Getenv("SEED_DEMO") != "false" {
			if err := a.SeedDemo(ctx); err != nil {
				_ = a.Close()
				return nil, nil, err
			}
		}
		return a.Ready, func() error {
			<-ctx.Done()
			return a.Close()
		}, nil
	}))
}
