// Command settlement-coordinator consumes the trades topic and settles every execution
// exactly once on the PostgreSQL ledger (trades, fees, hold releases, order read model,
// positions), then publishes to the settlements topic. It needs DATABASE_URL and
// KAFKA_BROKERS (its catalog entry) and exits naming the first one missing; FEE_MAKER_BPS and
// FEE_TAKER_BPS set the fees (default 2 and 5); /health, /ready and /metrics are on OPS_ADDR
// (default :9090).
package main

import (
	"fmt"
	"os"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/platform/version"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/settlement"
)

func main() {
	if version.Handle(os.Stdout, "settlement-coordinator", os.Args[1:]) {
		return
	}
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "settlement-coordinator:", err)
		os.Exit(1)
	}
}

func run(getenv func(string) string) error {
	entry := catalog.MustLookup(catalog.SettlementCoordinator)
	cfg, err := platform.LoadConfig(entry, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	fees, err := platform.FeesFromEnv(getenv)
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
	k := flow.NewKafka(entry, cfg.Kafka, cfg.KafkaInstanceID, flow.NewMetrics(reg), log)
	k.Tracing = tracing
	prod, err := k.StartProducer()
	if err != nil {
		return err
	}
	defer prod.Close()
	store := postgres.NewStore(db)
	svc := &settlement.Service{Store: store, Publisher: prod, Fees: fees, Log: log}
	g, err := flow.SettlementGroup(k, svc)
	if err != nil {
		return err
	}
	flow.InstrumentSettlement(platform.NewFlowMetrics(reg), svc, g)
	return platform.Serve(ctx, log, cfg.OpsAddr, reg, platform.Checks(db.Ping, k.Ready), g.Run,
		flow.WatchConservation(reg, store, log))
}
