// Command api-gateway serves the trading REST API. With KAFKA_BROKERS set it runs order entry
// only, and the matching engine, settlement and risk run as their own processes; without it,
// it runs the whole backend in process on embedded defaults (a development convenience: use
// cmd/cantondex for that).
package main

import (
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
		Service: "api-gateway",
		Configure: func(_ *platform.Config, _ *gateway.Config, ac *app.Config) {
			if len(ac.KafkaBrokers) > 0 {
				ac.Services = app.OrderEntryOnly
			}
		},
		Listening: func(g *gateway.Gateway, log *slog.Logger) { log.Info("api-gateway listening", "url", g.URL()) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "api-gateway:", err)
		os.Exit(1)
	}
}
