// Command settlement-coordinator consumes the trades topic and settles every execution
// exactly once on the PostgreSQL ledger (trades, fees, hold releases, order read model,
// positions), then publishes to the settlements topic. It needs DATABASE_URL and
// KAFKA_BROKERS; FEE_MAKER_BPS and FEE_TAKER_BPS set the fees (default 2 and 5).
package main

import (
	"context"
	"os"
	"strings"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/topics"
)

func main() {
	os.Exit(platform.Run(app.SettlementGroup, func(ctx context.Context, p platform.Process) (platform.Check, func() error, error) {
		c := p.Config
		if err := platform.Require("DATABASE_URL", c.DatabaseURL, "KAFKA_BROKERS", strings.Join(c.KafkaBrokers, ",")); err != nil {
			return nil, nil, err
		}
		fees, err := app.FeesFromEnv(os.Getenv)
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
		prod, err := kafka.NewProducer(c.KafkaBrokers, app.SettlementGroup)
		if err != nil {
			return nil, nil, err
		}
		svc := &settlement.Service{Store: postgres.NewStore(db), Publisher: prod, Fees: fees, Log: p.Log}
		g := app.SettlementGroupFor(c.KafkaBrokers, svc, p.Log)
		app.InstrumentSettlement(platform.NewFlowMetrics(p.Registry), svc, g)
		return db.Ping, func() error {
			err := g.Run(ctx)
			_ = prod.Close()
			db.Close()
			return err
		}, nil
	}))
}
