// Command matching-engine runs the matching engine service: it consumes the orders topic,
// runs the books and publishes executions to the trades topic, snapshotting books to
// PostgreSQL. It needs DATABASE_URL and KAFKA_BROKERS; with REDIS_URL it also publishes book
// depth for the API.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/topics"
)

func main() {
	os.Exit(platform.Run(app.MatchingGroup, func(ctx context.Context, p platform.Process) (platform.Check, func() error, error) {
		c := p.Config
		if err := platform.Require("DATABASE_URL", c.DatabaseURL, "KAFKA_BROKERS", strings.Join(c.KafkaBrokers, ",")); err != nil {
			return nil, nil, err
		}
		db, err := postgres.Open(ctx, c.DatabaseURL, c.DBMaxConns)
		if err != nil {
			return nil, nil, err
		}
		if err := kafka.EnsureTopics(ctx, c.KafkaBrokers, topics.All()); err != nil {
			return nil, nil, err
		}
		prod, err := kafka.NewProducer(c.KafkaBrokers, app.MatchingGroup)
		if err != nil {
			return nil, nil, err
		}
		svc := &matchingsvc.Service{Store: postgres.NewStore(db), Publisher: prod, Log: p.Log}
		var rdb *redis.Client
		if c.RedisURL != "" {
			if rdb, err = redis.Open(ctx, c.RedisURL, "cdx"); err != nil {
				return nil, nil, err
			}
			svc.Depth = rdb.Books()
		}
		g := app.MatchingGroupFor(c.KafkaBrokers, svc, p.Log)
		app.InstrumentMatching(platform.NewFlowMetrics(p.Registry), svc, g)
		return db.Ping, func() error {
			err := g.Run(ctx)
			_ = prod.Close()
			if rdb != nil {
				_ = rdb.Close()
			}
			db.Close()
			return err
		}, nil
	}))
}
