// Command matching-engine runs the matching engine service: it consumes the orders topic,
// runs the books, publishes executions to the trades topic, snapshots books to PostgreSQL and
// publishes book depth to Redis for the API. It needs DATABASE_URL, KAFKA_BROKERS and
// REDIS_URL (its catalog entry) and exits naming the first one missing; /health, /ready and
// /metrics are on OPS_ADDR (default :9090).
package main

import (
	"fmt"
	"os"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/platform/version"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/redis"
)

func main() {
	if version.Handle(os.Stdout, "matching-engine", os.Args[1:]) {
		return
	}
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "matching-engine:", err)
		os.Exit(1)
	}
}

func run(getenv func(string) string) error {
	entry := catalog.MustLookup(catalog.MatchingEngine)
	cfg, err := platform.LoadConfig(entry, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := platform.NewLogger(cfg)
	ctx, stop := platform.SignalContext()
	defer stop()
	reg := platform.NewRegistry()
	tracing, flushTraces, err := platform.StartTracing(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer flushTraces()

	db, err := postgres.Open(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer db.Close()
	rdb, err := redis.Open(ctx, cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	k := flow.NewKafka(entry, cfg.Kafka, cfg.KafkaInstanceID, flow.NewMetrics(reg), log)
	k.Tracing = tracing
	prod, err := k.StartProducer()
	if err != nil {
		return err
	}
	defer prod.Close()
	svc := &matchingsvc.Service{Store: postgres.NewStore(db), Publisher: prod, Depth: rdb.Books(), Log: log, Metrics: matchingsvc.NewMetrics(reg)}
	g, err := flow.MatchingGroup(k, svc)
	if err != nil {
		return err
	}
	flow.InstrumentMatching(platform.NewFlowMetrics(reg), svc, g)
	// svc.Run writes the book depth and the snapshots off the partitions' goroutines.
	return platform.Serve(ctx, log, cfg.OpsAddr, reg, platform.Checks(db.Ping, rdb.Ping, k.Ready), g.Run, svc.Run)
}
