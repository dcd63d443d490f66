package risk_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/trading"
)

type monitorStore struct{ positions map[string][]trading.Position }

func (m monitorStore) Market(context.Context, string) (trading.MarketDef, error) { return mkt, nil }
func (m monitorStore) Assets(context.Context) ([]trading.Asset, error) {
	return []trading.Asset{btc, usd}, nil
}
func (m monitorStore) Positions(_ context.Context, a string) ([]trading.Position, error) {
	return m.positions[a], nil
}

type alerts struct{ got []trading.Alert }

func (a *alerts) PublishAlerts(_ context.Context, as []trading.Alert) error {
	a.got = append(a.got, as...)
	return nil
}

func TestMonitorAlertsOnExposure(t *testing.T) {
	st := monitorStore{positions: map[string][]trading.Position{
		"whale":  {{Account: "whale", Market: "BTC-USD", Base: 300_000_000}}, // 3 BTC
		"minnow": {{Account: "minnow", Market: "BTC-USD", Base: -1_000_000}}, // -0.01 BTC
	}}
	pub := &alerts{}
	m := &risk.Monitor{Store: st, Publisher: pub, Limits: risk.Limits{MaxExposure: 100_000_000_000}} // 100,000 USD
	s := trading.Settlement{ID: "BTC-USD:7", Market: "BTC-USD", Trades: []trading.Trade{
		{ID: "BTC-USD:7:1", Market: "BTC-USD", Price: 40_000_00, Quantity: 1, MakerAccount: "minnow", TakerAccount: "whale"},
	}}
	require.NoError(t, m.Handle(context.Background(), []trading.Settlement{s, s}))
	// 3 BTC at 40,000 = 120,000 USD: over the limit; 0.01 BTC is not. A repeated settlement
	// raises the same alert id once per batch.
	require.Len(t, pub.got, 1, "alerts")
	require.Equal(t, "whale", pub.got[0].Account, "alert account")
	require.Equal(t, int64(120_000_000_000), pub.got[0].Value, "alert value")
	require.Equal(t, "exposure_limit:BTC-USD:7:whale", pub.got[0].ID, "alert id")
}
