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
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/cmd/internal/apiserver"
	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/platform"
)

func main() {
	err := apiserver.Run(apiserver.Options{
		Service: "cantondex",
		Configure: func(pc *platform.Config, gc *gateway.Config, ac *app.Config) {
			if os.Getenv("LOG_FORMAT") == "" {
				pc.LogFormat = "text"
			}
			gc.SessionAdmin = true
			ac.Services = app.All
		},
		Started: func(ctx context.Context, a *app.App) error {
			if os.Getenv("SEED_DEMO") == "false" {
				return nil
			}
			if err := a.SeedDemo(ctx); err != nil {
				return fmt.Errorf("seed demo market: %w", err)
			}
			return nil
		},
		Listening: func(g *gateway.Gateway, _ *slog.Logger) {
			fmt.Printf("CantonDEX is running.\n  API:   %s\n  admin: %s\n  password: %s\nPress Ctrl-C to stop.\n",
				g.URL(), g.AdminEmail, g.AdminPassword)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cantondex:", err)
		os.Exit(1)
	}
}
