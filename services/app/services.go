package app

import (
	"context"
	"log/slog"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matchingsvc"
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

// MatchingGroupFor returns the consumer group that runs the matching engine over brokers.
func MatchingGroupFor(brokers []string, svc *matchingsvc.Service, log *slog.Logger) *kafka.Group {
	return &kafka.Group{Brokers: brokers, Group: MatchingGroup, Topics: []string{topics.Orders},
		Handle: svc.Handle, Assigned: svc.Assigned, MaxBatch: 1000, Log: log}
}

// SettlementGroupFor returns the consumer group that runs settlement over brokers.
func SettlementGroupFor(brokers []string, svc *settlement.Service, log *slog.Logger) *kafka.Group {
	return &kafka.Group{Brokers: brokers, Group: SettlementGroup, Topics: []string{topics.Trades}, MaxBatch: 1000, Log: log,
		Handle: func(ctx context.Context, msgs []kafka.Message) error {
			xs := make([]trading.Execution, 0, len(msgs))
			for _, m := range msgs {
				x, err := kafka.DecodeExecution(m)
				if err != nil {
					log.Error("undecodable execution skipped", "partition", m.Partition, "offset", m.Offset, "err", err)
					continue
				}
				xs = append(xs, x)
			}
			return svc.Handle(ctx, xs)
		}}
}
