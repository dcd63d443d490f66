package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// Consumer group names.
const (
	MatchingGroup   = "matching-engine"
	SettlementGroup = "settlement-coordinator"
	RiskGroup       = "risk-management"
)

// MatchingGroupFor returns the consumer group that runs the matching engine on c.
func MatchingGroupFor(c kafka.Cluster, svc *matchingsvc.Service, log *slog.Logger) *kafka.Group {
	return &kafka.Group{Cluster: c, Group: MatchingGroup, Topics: []string{topics.Orders},
		Handle: svc.Handle, Assigned: svc.Assigned, MaxBatch: 1000, Log: log}
}

// SettlementGroupFor returns the consumer group that runs settlement on c.
func SettlementGroupFor(c kafka.Cluster, svc *settlement.Service, log *slog.Logger) *kafka.Group {
	return &kafka.Group{Cluster: c, Group: SettlementGroup, Topics: []string{topics.Trades}, MaxBatch: 1000, Log: log,
		Handle: func(ctx context.Context, msgs []kafka.Message) error {
			return svc.Handle(ctx, decodeAll(log, msgs, kafka.DecodeExecution))
		}}
}

// RiskGroupFor returns the consumer group that runs post-trade risk on c.
func RiskGroupFor(c kafka.Cluster, m *risk.Monitor, log *slog.Logger) *kafka.Group {
	return &kafka.Group{Cluster: c, Group: RiskGroup, Topics: []string{topics.Settlements}, MaxBatch: 1000, Log: log,
		Handle: func(ctx context.Context, msgs []kafka.Message) error {
			return m.Handle(ctx, decodeAll(log, msgs, kafka.DecodeSettlement))
		}}
}

// decodeAll decodes msgs, logging and skipping any that cannot be decoded (a poison message
// must not stop the partition).
func decodeAll[T any](log *slog.Logger, msgs []kafka.Message, decode func(kafka.Message) (T, error)) []T {
	out := make([]T, 0, len(msgs))
	for _, m := range msgs {
		v, err := decode(m)
		if err != nil {
			log.Error("undecodable message skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
			continue
		}
		out = append(out, v)
	}
	return out
}

// InstrumentMatching reports the engine's work to fm (nil: no metrics).
func InstrumentMatching(fm *platform.FlowMetrics, m *matchingsvc.Service, g *kafka.Group) {
	if fm == nil {
		return
	}
	g.Lag = fm.Lag
	m.Applied = func(n int, xs []trading.Execution) {
		fm.CommandsApplied.Add(float64(n))
		for _, x := range xs {
			if !x.AcceptedAt.IsZero() {
				fm.OrderToTrade.Observe(x.ExecutedAt.Sub(x.AcceptedAt).Seconds())
			}
		}
	}
}

// InstrumentSettlement reports settlement's work to fm (nil: no metrics).
func InstrumentSettlement(fm *platform.FlowMetrics, st *settlement.Service, g *kafka.Group) {
	if fm == nil {
		return
	}
	g.Lag = fm.Lag
	st.Settled = func(xs []trading.Execution, trades, transfers int, at time.Time) {
		fm.ExecutionsSettled.Add(float64(len(xs)))
		fm.TradesSettled.Add(float64(trades))
		fm.LedgerTransfers.Add(float64(transfers))
		for _, x := range xs {
			if !x.AcceptedAt.IsZero() {
				fm.OrderToSettlement.Observe(at.Sub(x.AcceptedAt).Seconds())
			}
		}
	}
}
