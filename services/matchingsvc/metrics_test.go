package matchingsvc_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/trading"
)

// samples is how many observations each histogram of reg holds, by name.
func samples(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] += m.GetHistogram().GetSampleCount()
		}
	}
	return out
}

// The service times every command it applies and every batch on the partition's goroutine.
func TestMetricsTimeCommandsAndBatches(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	_, err := store.CreateMarket(ctx, trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001"})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	s := newService(store, &recorder{})
	s.Metrics = matchingsvc.NewMetrics(reg)
	_, err = s.Assigned(ctx, "orders", 0)
	require.NoError(t, err)
	msgs := commands(t, 250)
	for i := 0; i < len(msgs); i += 50 {
		require.NoError(t, s.Handle(ctx, msgs[i:i+50]))
	}
	require.NoError(t, s.Handle(ctx, msgs[:50]), "a batch the partition applied before")
	got := samples(t, reg)
	assert.Equal(t, uint64(250), got["cantondex_engine_command_duration_seconds"], "one sample per command applied, none for those skipped")
	assert.Equal(t, uint64(6), got["cantondex_engine_batch_duration_seconds"], "one sample per batch")
}
