package platform

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// FlowMetrics are the order flow's Prometheus metrics.
type FlowMetrics struct {
	OrdersPlaced      *prometheus.CounterVec // by result: accepted or the error code
	CommandsApplied   prometheus.Counter
	OrderToTrade      prometheus.Histogram // seconds from risk acceptance to the engine
	ExecutionsSettled prometheus.Counter
	TradesSettled     prometheus.Counter
	LedgerTransfers   prometheus.Counter
	OrderToSettlement prometheus.Histogram // seconds from risk acceptance to settlement
	ConsumerLag       *prometheus.GaugeVec // messages behind the high-water mark, by group, topic, partition
}

// NewFlowMetrics registers the flow metrics on reg.
func NewFlowMetrics(reg prometheus.Registerer) *FlowMetrics {
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	m := &FlowMetrics{
		OrdersPlaced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cantondex_orders_placed_total",
			Help: "Orders submitted to order entry, by result."}, []string{"result"}),
		CommandsApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "cantondex_engine_commands_total",
			Help: "Commands the matching engine applied."}),
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
	reg.MustRegister(m.OrdersPlaced, m.CommandsApplied, m.OrderToTrade, m.ExecutionsSettled, m.TradesSettled,
		m.LedgerTransfers, m.OrderToSettlement, m.ConsumerLag)
	return m
}

// Lag records a consumer's lag.
func (m *FlowMetrics) Lag(group, topic string, partition int32, lag int64) {
	m.ConsumerLag.WithLabelValues(group, topic, strconv.Itoa(int(partition))).Set(float64(lag))
}
