// Command matching-engine runs the matching engine service: it consumes the orders topic,
// runs the books and publishes executions to the trades topic, snapshotting books to
// PostgreSQL. It needs DATABASE_URL and KAFKA_BROKERS; with REDIS_URL it also publishes book
// depth for the API.
package main

import (
	"context"
	"os"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/redis"
)

func main() {
	os.Exit(platform.Run(app.MatchingGroup, func(ctx context.Context, p platform.Process) (platform.Check, func() error, error) {
		d, err := app.OpenDeps(ctx, p.Config, app.MatchingGroup)
		if err != nil {
			return nil, nil, err
		}
		svc := &matchingsvc.Service{Store: d.Store, Publisher: d.Producer, Log: p.Log}
		var rdb *redis.Client
		if p.Config.RedisURL != "" {
			if rdb, err = redis.Open(ctx, p.Config.RedisURL, "cdx"); err != nil {
				d.Close()
				return nil, nil, err
			}
			svc.Depth = rdb.Books()
		}
		g := app.MatchingGroupFor(d.Kafka, svc, p.Log)
		g.InstanceID = p.Config.KafkaInstanceID
		app.InstrumentMatching(platform.NewFlowMetrics(p.Registry), svc, g)
		return d.DB.Ping, func() error {
			err := g.Run(ctx)
			if rdb != nil {
				_ = rdb.Close()
			}
			d.Close()
			return err
		}, nil
	}))
}
