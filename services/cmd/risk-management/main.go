// Command risk-management runs post-trade risk: it consumes the settlements topic, values
// the positions of the accounts that traded and publishes alerts when exposure exceeds
// RISK_MAX_EXPOSURE (quote minor units). Pre-trade risk runs inside order entry. It needs
// DATABASE_URL and KAFKA_BROKERS (its catalog entry) and exits naming the first one missing;
// /health, /ready and /metrics are on OPS_ADDR (default :9090).
package main

import (
	"fmt"
	"os"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/platform/version"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/risk"
)

func main() {
	if version.Handle(os.Stdout, "risk-management", os.Args[1:]) {
		return
	}
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "risk-management:", err)
		os.Exit(1)
	}
}

func run(getenv func(string) string) error {
	entry := catalog.MustLookup(catalog.RiskManagement)
	cfg, err := platform.LoadConfig(entry, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	limits, err := platform.LimitsFromEnv(getenv)
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
	m := &risk.Monitor{Store: postgres.NewStore(db), Publisher: prod, Limits: limits, Log: log}
	g, err := flow.RiskGroup(k, m)
	if err != nil {
		return err
	}
	g.Lag = platform.NewFlowMetrics(reg).Lag
	return platform.Serve(ctx, log, cfg.OpsAddr, reg, platform.Checks(db.Ping, k.Ready), g.Run)
}
