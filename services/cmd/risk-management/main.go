// Command risk-management runs post-trade risk: it consumes the settlements topic, values
// the positions of the accounts that traded and publishes alerts when exposure exceeds
// RISK_MAX_EXPOSURE (quote minor units). Pre-trade risk runs inside order entry. It needs
// DATABASE_URL and KAFKA_BROKERS.
package main

import (
	"context"
	"os"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/risk"
)

func main() {
	os.Exit(platform.Run(app.RiskGroup, func(ctx context.Context, p platform.Process) (platform.Check, func() error, error) {
		limits, err := app.LimitsFromEnv(os.Getenv)
		if err != nil {
			return nil, nil, err
		}
		d, err := app.OpenDeps(ctx, p.Config, app.RiskGroup)
		if err != nil {
			return nil, nil, err
		}
		m := &risk.Monitor{Store: d.Store, Publisher: d.Producer, Limits: limits, Log: p.Log}
		g := app.RiskGroupFor(d.Kafka, m, p.Log)
		g.InstanceID = p.Config.KafkaInstanceID
		g.Lag = platform.NewFlowMetrics(p.Registry).Lag
		return d.DB.Ping, func() error {
			err := g.Run(ctx)
			d.Close()
			return err
		}, nil
	}))
}
