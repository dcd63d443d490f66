// Command risk-management runs post-trade risk: it consumes the settlements topic, values
// the positions of the accounts that traded and publishes alerts when exposure exceeds
// RISK_MAX_EXPOSURE (quote minor units). Pre-trade risk runs inside order entry. It needs
// DATABASE_URL and KAFKA_BROKERS.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/topics"
)

func main() {
	os.Exit(platform.Run(app.RiskGroup, func(ctx context.Context, p platform.Process) (platform.Check, func() error, error) {
		c := p.Config
		if err := platform.Require("DATABASE_URL", c.DatabaseURL, "KAFKA_BROKERS", strings.Join(c.KafkaBrokers, ",")); err != nil {
			return nil, nil, err
		}
		limits, err := app.LimitsFromEnv(os.Getenv)
		if err != nil {
			return nil, nil, err
		}
		db, err := postgres.Open(ctx, c.DatabaseURL, c.DBMaxConns)
		if err != nil {
			return nil, nil, err
		}
		if err := kafka.EnsureTopics(ctx, c.KafkaBrokers, topics.All()); err != nil {
			return nil, nil, err
		}
		prod, err := kafka.NewProducer(c.KafkaBrokers, app.RiskGroup)
		if err != nil {
			return nil, nil, err
		}
		m := &risk.Monitor{Store: postgres.NewStore(db), Publisher: prod, Limits: limits, Log: p.Log}
		g := app.RiskGroupFor(c.KafkaBrokers, m, p.Log)
		g.Lag = platform.NewFlowMetrics(p.Registry).Lag
		return db.Ping, func() error {
			err := g.Run(ctx)
			_ = prod.Close()
			db.Close()
			return err
		}, nil
	}))
}
