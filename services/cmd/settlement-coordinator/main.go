// Command settlement-coordinator consumes the trades topic and settles every execution
// exactly once on the PostgreSQL ledger (trades, fees, hold releases, order read model,
// positions), then publishes to the settlements topic. It needs DATABASE_URL and
// KAFKA_BROKERS; FEE_MAKER_BPS and FEE_TAKER_BPS set the fees (default 2 and 5).
package main

import (
	"context"
	"os"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/settlement"
)

func main() {
	os.Exit(platform.Run(app.SettlementGroup, func(ctx context.Context, p platform.Process) (platform.Check, func() error, error) {
		fees, err := app.FeesFromEnv(os.Getenv)
		if err != nil {
			return nil, nil, err
		}
		d, err := app.OpenDeps(ctx, p.Config, app.SettlementGroup)
		if err != nil {
			return nil, nil, err
		}
		svc := &settlement.Service{Store: d.Store, Publisher: d.Producer, Fees: fees, Log: p.Log}
		g := app.SettlementGroupFor(d.Kafka, svc, p.Log)
		g.InstanceID = p.Config.KafkaInstanceID
		app.InstrumentSettlement(platform.NewFlowMetrics(p.Registry), svc, g)
		return d.DB.Ping, func() error {
			err := g.Run(ctx)
			d.Close()
			return err
		}, nil
	}))
}
