package platform

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/trading"
)

func TestPlacedCountsRejectsByAFixedReason(t *testing.T) {
	m := NewFlowMetrics(prometheus.NewRegistry()).InitEntry()
	m.Placed("accepted")
	m.Placed("insufficient_funds")
	m.Placed("insufficient_funds")
	m.Placed("some new code")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.OrdersPlaced.WithLabelValues("accepted")))
	assert.Equal(t, 3.0, testutil.ToFloat64(m.OrdersPlaced.WithLabelValues("rejected")))
	assert.Equal(t, 2.0, testutil.ToFloat64(m.OrdersRejected.WithLabelValues("insufficient_funds")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.OrdersRejected.WithLabelValues("other")), "an unknown code is counted as other")
	assert.Equal(t, 2, testutil.CollectAndCount(m.OrdersPlaced), "results")
	assert.Equal(t, len(RejectReasons()), testutil.CollectAndCount(m.OrdersRejected), "reasons: the vocabulary, all from the start")
}

func TestLedgerMetricsFlagAnAssetThatDoesNotBalance(t *testing.T) {
	m := NewLedgerMetrics(prometheus.NewRegistry())
	now := time.Unix(1700000000, 0)
	n := m.Observe(map[string]ledger.AssetTotals{
		"USD": {Owners: 130, Held: 30, System: -130, OpenHeld: 30},
		"BTC": {Owners: 10, Held: 0, System: -9, OpenHeld: 0},    // a unit appeared
		"ETH": {Owners: 50, Held: 20, System: -50, OpenHeld: 15}, // held without a hold
	}, now)
	assert.Equal(t, 2, n)
	assert.Equal(t, 0.0, testutil.ToFloat64(m.Violations.WithLabelValues("USD")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Violations.WithLabelValues("BTC")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Violations.WithLabelValues("ETH")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Imbalance.WithLabelValues("BTC", "supply")))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.Imbalance.WithLabelValues("BTC", "holds")))
	assert.Equal(t, 5.0, testutil.ToFloat64(m.Imbalance.WithLabelValues("ETH", "holds")))
	assert.Equal(t, 130.0, testutil.ToFloat64(m.Supply.WithLabelValues("USD")))
	assert.Equal(t, 30.0, testutil.ToFloat64(m.Held.WithLabelValues("USD")))
	assert.Equal(t, float64(now.Unix()), testutil.ToFloat64(m.Checked))

	// Repaired, the same series go back to zero.
	assert.Zero(t, m.Observe(map[string]ledger.AssetTotals{"BTC": {Owners: 10, System: -10}}, now))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.Violations.WithLabelValues("BTC")))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.Imbalance.WithLabelValues("BTC", "supply")))
}

func TestLedgerWatchCountsFailedReadsAndKeepsChecking(t *testing.T) {
	m := NewLedgerMetrics(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	totals := func(context.Context) (map[string]ledger.AssetTotals, error) {
		calls++
		if calls == 1 {
			return nil, errors.New("database down")
		}
		cancel()
		return map[string]ledger.AssetTotals{"USD": {Owners: 1, System: 0}}, nil
	}
	require.NoError(t, m.Watch(totals, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))(ctx))
	assert.Equal(t, 2, calls)
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Errors))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Violations.WithLabelValues("USD")))
	assert.Positive(t, testutil.ToFloat64(m.Checked))
}

func TestBookedSumsTheLotsPerSide(t *testing.T) {
	m := NewFlowMetrics(prometheus.NewRegistry())
	m.Booked(trading.Book{Market: "BTC-USD", Bids: []trading.Level{{Price: 10, Quantity: 3}, {Price: 9, Quantity: 4}},
		Asks: []trading.Level{{Price: 11, Quantity: 5}}}, 3)
	assert.Equal(t, 3.0, testutil.ToFloat64(m.OpenOrders.WithLabelValues("BTC-USD")))
	assert.Equal(t, 7.0, testutil.ToFloat64(m.BookDepth.WithLabelValues("BTC-USD", "buy")))
	assert.Equal(t, 5.0, testutil.ToFloat64(m.BookDepth.WithLabelValues("BTC-USD", "sell")))
	m.Booked(trading.Book{Market: "BTC-USD"}, 0) // emptied
	assert.Equal(t, 0.0, testutil.ToFloat64(m.BookDepth.WithLabelValues("BTC-USD", "buy")))
}
