package platform

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/trading"
)

// FlowMetrics are the order flow's Prometheus metrics.
type FlowMetrics struct {
	OrdersPlaced      *prometheus.CounterVec // by result: accepted or rejected
	OrdersRejected    *prometheus.CounterVec // by reason: RejectReasons
	CommandsApplied   prometheus.Counter
	EngineTrades      prometheus.Counter
	OpenOrders        *prometheus.GaugeVec // orders resting in a book, by market
	BookDepth         *prometheus.GaugeVec // lots on the top levels of a book, by market and side
	OrderToTrade      prometheus.Histogram // seconds from risk acceptance to the engine
	ExecutionsSettled prometheus.Counter
	TradesSettled     prometheus.Counter
	LedgerTransfers   prometheus.Counter
	OrderToSettlement prometheus.Histogram // seconds from risk acceptance to settlement
	ConsumerLag       *prometheus.GaugeVec // messages behind the high-water mark, by group, topic, partition
}

// RejectReasons is the fixed vocabulary of cantondex_orders_rejected_total's reason label: the
// domain error codes an order can be refused with, and "other" for anything else.
func RejectReasons() []string {
	return []string{trading.EINVALID, trading.EINSUFFICIENT, trading.ENOTFOUND, trading.ECONFLICT, trading.EUNAUTHORIZED,
		trading.EFORBIDDEN, trading.ERATELIMIT, trading.EUNAVAILABLE, trading.EINTERNAL, "other"}
}

// RejectReason maps an error code to its label in RejectReasons.
func RejectReason(code string) string {
	for _, r := range RejectReasons() {
		if r == code {
			return r
		}
	}
	return "other"
}

// NewFlowMetrics registers the flow metrics on reg.
func NewFlowMetrics(reg prometheus.Registerer) *FlowMetrics {
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	m := &FlowMetrics{
		OrdersPlaced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cantondex_orders_placed_total",
			Help: "Orders submitted to order entry, by result (accepted or rejected)."}, []string{"result"}),
		OrdersRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cantondex_orders_rejected_total",
			Help: "Orders order entry refused, by reason (the error code)."}, []string{"reason"}),
		CommandsApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "cantondex_engine_commands_total",
			Help: "Commands the matching engine applied."}),
		EngineTrades: prometheus.NewCounter(prometheus.CounterOpts{Name: "cantondex_engine_trades_total",
			Help: "Trades the matching engine executed."}),
		OpenOrders: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_book_open_orders",
			Help: "Orders resting in a market's book."}, []string{"market"}),
		BookDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_book_depth_lots",
			Help: "Lots resting on the top levels (those the API publishes) of a market's book, by side."}, []string{"market", "side"}),
		OrderToTrade: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cantondex_order_to_engine_seconds",
			Help: "Time from risk acceptance to the engine executing the command.", Buckets: buckets}),
		ExecutionsSettled: prometheus.NewCounter(prometheus.CounterOpts{Name: "cantondex_executions_settled_total",
			Help: "Engine executions settled."}),
		TradesSettled: prometheus.NewCounter(prometheus.CounterOpts{Name: "cantondex_trades_settled_total",
			Help: "Trades settled on the ledger."}),
		LedgerTransfers: prometheus.NewCounter(prometheus.CounterOpts{Name: "cantondex_ledger_transfers_total",
			Help: "Ledger transfers applied by settlement."}),
		OrderToSettlement: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cantondex_order_to_settlement_seconds",
			Help: "Time from risk acceptance to settlement.", Buckets: buckets}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_consumer_lag_messages",
			Help: "Messages between a consumer's position and the partition's high-water mark."}, []string{"group", "topic", "partition"}),
	}
	reg.MustRegister(m.OrdersPlaced, m.OrdersRejected, m.CommandsApplied, m.EngineTrades, m.OpenOrders, m.BookDepth, m.OrderToTrade, m.ExecutionsSettled,
		m.TradesSettled, m.LedgerTransfers, m.OrderToSettlement, m.ConsumerLag)
	return m
}

// Placed counts one PlaceOrder result: "accepted" or the error code of the refusal.
func (m *FlowMetrics) Placed(result string) {
	if result == "accepted" {
		m.OrdersPlaced.WithLabelValues("accepted").Inc()
		return
	}
	m.OrdersPlaced.WithLabelValues("rejected").Inc()
	m.OrdersRejected.WithLabelValues(RejectReason(result)).Inc()
}

// InitEntry sets order entry's series (every result and reason) to zero, so that rates over
// them exist before the first refusal. It returns m.
func (m *FlowMetrics) InitEntry() *FlowMetrics {
	m.OrdersPlaced.WithLabelValues("accepted")
	m.OrdersPlaced.WithLabelValues("rejected")
	for _, r := range RejectReasons() {
		m.OrdersRejected.WithLabelValues(r)
	}
	return m
}

// Booked records a book's depth and open orders.
func (m *FlowMetrics) Booked(b trading.Book, open int) {
	m.OpenOrders.WithLabelValues(b.Market).Set(float64(open))
	for side, levels := range map[string][]trading.Level{"buy": b.Bids, "sell": b.Asks} {
		lots := int64(0)
		for _, l := range levels {
			lots += l.Quantity
		}
		m.BookDepth.WithLabelValues(b.Market, side).Set(float64(lots))
	}
}

// Lag records a consumer's lag.
func (m *FlowMetrics) Lag(group, topic string, partition int32, lag int64) {
	m.ConsumerLag.WithLabelValues(group, topic, strconv.Itoa(int(partition))).Set(float64(lag))
}

// LedgerMetrics are the ledger's conservation metrics, which settlement computes periodically
// from the ledger's totals.
type LedgerMetrics struct {
	Violations *prometheus.GaugeVec // 0 or 1 per asset: 1 when its totals do not balance
	Imbalance  *prometheus.GaugeVec // minor units off, by asset and kind (supply, holds)
	Supply     *prometheus.GaugeVec // units owners hold in total (deposited and not withdrawn), by asset
	Held       *prometheus.GaugeVec // units reserved by open orders, by asset
	Checked    prometheus.Gauge     // Unix time of the last check that read the totals
	Errors     prometheus.Counter   // checks that could not read the totals
}

// NewLedgerMetrics registers the ledger metrics on reg.
func NewLedgerMetrics(reg prometheus.Registerer) *LedgerMetrics {
	m := &LedgerMetrics{
		Violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_ledger_conservation_violations",
			Help: "1 for an asset whose totals across accounts do not balance (supply or holds), else 0."}, []string{"asset"}),
		Imbalance: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_ledger_imbalance_minor_units",
			Help: "Minor units an asset's totals are off by: supply (owners plus system accounts) or holds (held minus open holds)."},
			[]string{"asset", "kind"}),
		Supply: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_ledger_supply_minor_units",
			Help: "Units of an asset owner accounts hold in total (deposited and not withdrawn)."}, []string{"asset"}),
		Held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cantondex_ledger_held_minor_units",
			Help: "Units of an asset reserved by holds of open orders."}, []string{"asset"}),
		Checked: prometheus.NewGauge(prometheus.GaugeOpts{Name: "cantondex_ledger_conservation_checked_timestamp_seconds",
			Help: "Unix time of the last conservation check that read the ledger's totals."}),
		Errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "cantondex_ledger_conservation_check_errors_total",
			Help: "Conservation checks that could not read the ledger's totals."}),
	}
	reg.MustRegister(m.Violations, m.Imbalance, m.Supply, m.Held, m.Checked, m.Errors)
	return m
}

// Observe records one check of the ledger's totals at now and returns how many assets do not
// balance.
func (m *LedgerMetrics) Observe(totals map[string]ledger.AssetTotals, now time.Time) int {
	broken := 0
	for asset, t := range totals {
		supply, holds := t.Imbalance()
		violated := 0.0
		if !t.Conserved() {
			violated = 1
			broken++
		}
		m.Violations.WithLabelValues(asset).Set(violated)
		m.Imbalance.WithLabelValues(asset, "supply").Set(float64(supply))
		m.Imbalance.WithLabelValues(asset, "holds").Set(float64(holds))
		m.Supply.WithLabelValues(asset).Set(float64(t.Owners))
		m.Held.WithLabelValues(asset).Set(float64(t.Held))
	}
	m.Checked.Set(float64(now.Unix()))
	return broken
}

// Watch checks the ledger's totals every interval until ctx ends (a run function for
// RunAll). A failed read is counted and logged, and the next tick tries again.
func (m *LedgerMetrics) Watch(totals func(context.Context) (map[string]ledger.AssetTotals, error), every time.Duration, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if tot, err := totals(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.Errors.Inc()
				log.Warn("ledger conservation check", "err", err)
			} else if n := m.Observe(tot, time.Now()); n > 0 {
				log.Error("ledger conservation broken", "assets", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}
