package flow

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// Store is every storage port the flow uses; memory.Store and postgres.Store implement it.
type Store interface {
	exchange.Store
	settlement.Store
	matchingsvc.Store
}

// batch is the most messages a consumer handles at once.
const batch = 1000

// MatchingGroup is the consumer group running the engine (the matching-engine entry).
func MatchingGroup(k *Kafka, svc *matchingsvc.Service) (*kafka.Group, error) {
	g, err := k.Group(catalog.MatchingEngine, []string{topics.Orders}, batch, svc.Handle)
	if err != nil {
		return nil, err
	}
	g.Assigned = svc.Assigned
	return g, nil
}

// SettlementGroup is the consumer group running settlement (the settlement-coordinator entry).
func SettlementGroup(k *Kafka, svc *settlement.Service) (*kafka.Group, error) {
	return k.Group(catalog.SettlementCoordinator, []string{topics.Trades}, batch, func(ctx context.Context, msgs []kafka.Message) error {
		xs, poison := decodeUntilPoison(msgs, decodeExecution)
		if err := svc.Handle(ctx, xs); err != nil {
			return err
		}
		return poison
	})
}

// RiskGroup is the consumer group running post-trade risk (the risk-management entry).
func RiskGroup(k *Kafka, m *risk.Monitor) (*kafka.Group, error) {
	return k.Group(catalog.RiskManagement, []string{topics.Settlements}, batch, func(ctx context.Context, msgs []kafka.Message) error {
		ss, poison := decodeUntilPoison(msgs, decodeSettlement)
		if err := m.Handle(ctx, ss); err != nil {
			return err
		}
		return poison
	})
}

// decodeUntilPoison decodes msgs up to the first one that cannot be decoded, which it returns
// as a PoisonError (a nil error when all decode): the caller handles what came before it and
// then stops there. Nothing is skipped.
func decodeUntilPoison[T any](msgs []kafka.Message, decode func(kafka.Message) (T, error)) ([]T, error) {
	out := make([]T, 0, len(msgs))
	for _, m := range msgs {
		v, err := decode(m)
		if err != nil {
			return out, kafka.Poison(m, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func decodeExecution(m kafka.Message) (trading.Execution, error) {
	x, err := kafka.DecodeExecution(m)
	if err == nil && (x.ID == "" || x.Market == "" || x.Seq == 0) {
		err = errors.New("execution without id, market or sequence")
	}
	return x, err
}

func decodeSettlement(m kafka.Message) (trading.Settlement, error) {
	s, err := kafka.DecodeSettlement(m)
	if err == nil && (s.ID == "" || s.Market == "") {
		err = errors.New("settlement without id or market")
	}
	return s, err
}

// InstrumentMatching reports the engine's work to fm (nil: no metrics).
func InstrumentMatching(fm *platform.FlowMetrics, m *matchingsvc.Service, g *kafka.Group) {
	if fm == nil {
		return
	}
	g.Lag = fm.Lag
	m.Booked = fm.Booked
	m.Applied = func(n int, xs []trading.Execution) {
		fm.CommandsApplied.Add(float64(n))
		for _, x := range xs {
			for _, e := range x.Events {
				if e.Trade != nil {
					fm.EngineTrades.Inc()
				}
			}
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

// ConservationInterval is how often settlement checks that the ledger's totals balance.
const ConservationInterval = 30 * time.Second

// WatchConservation registers the ledger's conservation metrics on reg and returns the run
// function that checks l's totals every ConservationInterval.
func WatchConservation(reg prometheus.Registerer, l ledger.Store, log *slog.Logger) func(context.Context) error {
	return platform.NewLedgerMetrics(reg).Watch(l.Totals, ConservationInterval, log)
}
