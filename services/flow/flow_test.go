package flow_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// A binary cannot consume or produce a topic its catalog entry does not list.
func TestCatalogRefusesUnlistedTopics(t *testing.T) {
	broker, err := kafka.StartEmbedded("")
	require.NoError(t, err)
	defer broker.Close()
	require.NoError(t, kafka.EnsureTopics(context.Background(), broker.Cluster(), topics.All()))

	k := flow.NewKafka(catalog.MustLookup(catalog.RiskManagement), broker.Cluster(), "", nil, nil)
	nop := func(context.Context, []kafka.Message) error { return nil }
	_, err = k.Group(catalog.RiskManagement, []string{topics.Orders}, 10, nop)
	assert.ErrorContains(t, err, "risk-management may not consume orders")
	_, err = k.Group("someone-else", []string{topics.Settlements}, 10, nop)
	assert.Error(t, err, "a group the entry does not name")

	p, err := k.Producer()
	require.NoError(t, err)
	defer p.Close()
	assert.ErrorContains(t, p.PublishExecutions(context.Background(), []trading.Execution{{ID: "x", Market: "m", Seq: 1}}), "may not produce trades")
	assert.ErrorContains(t, p.Require(topics.Orders), "may not produce orders")
	require.NoError(t, p.PublishAlerts(context.Background(), []trading.Alert{{Account: "a"}}))
	_, err = flow.RiskGroup(k, nil)
	require.NoError(t, err)
	consume, produce := k.Registered()
	assert.Equal(t, []catalog.Consume{{Topic: topics.Settlements, Group: catalog.RiskManagement}}, consume)
	assert.Equal(t, []string{topics.Alerts}, produce)

	// The gateway's entry produces nothing but orders and consumes nothing.
	gw := flow.NewKafka(catalog.MustLookup(catalog.APIGateway), broker.Cluster(), "", nil, nil)
	_, err = flow.SettlementGroup(gw, nil)
	assert.Error(t, err)
}

type settlements struct{ ids []string }

func (s *settlements) PublishSettlements(_ context.Context, ss []trading.Settlement) error {
	for _, x := range ss {
		s.ids = append(s.ids, x.ID)
	}
	return nil
}

func execMsg(t *testing.T, off int64, v any) kafka.Message {
	b, ok := v.([]byte)
	if !ok {
		var err error
		b, err = json.Marshal(v)
		require.NoError(t, err)
	}
	return kafka.Message{Topic: topics.Trades, Partition: 3, Offset: off, Value: b}
}

// Settlement never skips an execution it cannot read: it settles what precedes it, stops the
// partition there, fails readiness and reports the offset; once the partition moves on
// (an operator moved the group past it), readiness and the metric clear.
func TestPoisonExecutionStopsThePartition(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := flow.NewMetrics(reg)
	k := flow.NewKafka(catalog.MustLookup(catalog.SettlementCoordinator), kafka.Cluster{}, "", m, nil)
	pub := &settlements{}
	store := memory.New()
	g, err := flow.SettlementGroup(k, &settlement.Service{Store: store, Publisher: pub})
	require.NoError(t, err)

	batch := []kafka.Message{
		execMsg(t, 10, trading.Execution{ID: "BTC-USD:1", Market: "BTC-USD", Seq: 1}),
		execMsg(t, 11, []byte(`{"id":`)),
		execMsg(t, 12, trading.Execution{ID: "BTC-USD:3", Market: "BTC-USD", Seq: 3}),
	}
	for range 2 { // the group retries the same batch: it stops there every time
		err = g.Handle(ctx, batch)
		p := kafka.AsPoison(err)
		require.NotNil(t, p, "err %v", err)
		assert.Equal(t, int64(11), p.Offset)
	}
	progress := func() uint64 {
		p, err := store.Progress(ctx, []string{"BTC-USD"})
		require.NoError(t, err)
		return p["BTC-USD"]
	}
	assert.Equal(t, uint64(1), progress(), "the execution before the poison is settled, the one after it is not")
	assert.NotContains(t, pub.ids, "BTC-USD:3")
	ready := k.Ready(ctx)
	require.Error(t, ready)
	assert.Contains(t, ready.Error(), "settlement-coordinator/trades/3")
	assert.Contains(t, ready.Error(), "@11")
	assert.Equal(t, 11.0, testutil.ToFloat64(m.Poison.WithLabelValues(catalog.SettlementCoordinator, topics.Trades, "3")))

	// An execution without its identity is as unreadable as broken JSON.
	err = g.Handle(ctx, []kafka.Message{execMsg(t, 11, trading.Execution{Market: "BTC-USD"})})
	assert.NotNil(t, kafka.AsPoison(err))

	require.NoError(t, g.Handle(ctx, []kafka.Message{batch[2]}))
	assert.NoError(t, k.Ready(ctx))
	assert.Equal(t, uint64(3), progress())
	assert.Contains(t, pub.ids, "BTC-USD:3")
	assert.False(t, strings.Contains(gather(t, reg), "cantondex_consumer_poison_offset{"), "the poison series is removed")
}

func gather(t *testing.T, reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var b strings.Builder
	for _, mf := range mfs {
		for range mf.GetMetric() {
			b.WriteString(mf.GetName() + "{\n")
		}
	}
	return b.String()
}
