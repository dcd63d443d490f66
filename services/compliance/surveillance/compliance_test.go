package surveillance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/compliance/surveillance"
	"github.com/cantondex/platform/services/trading"
)

// The compliance service's monitor with the real detectors behind the seam: a trade between
// two accounts of one beneficial owner, as the service consumes it (the order commands, then
// the execution), raises one wash-trade alert, recorded in the trail and opened as a case.
func TestLiveWashTradeOpensACase(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	det := surveillance.New(surveillance.Default(), surveillance.LinkMap{"a1": "X", "a2": "X"})
	m := &compliance.Monitor{Log: store, Surveillance: surveillance.Live{D: det}, Cases: compliance.NewCases(store)}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, m.HandleCommands(ctx, []trading.OrderCommand{
		{Op: trading.OpNew, OrderID: "s1", Account: "a1", Market: "BTC-USD", Side: trading.Sell, Price: 100, Quantity: 5, AcceptedAt: t0},
		{Op: trading.OpNew, OrderID: "b1", Account: "a2", Market: "BTC-USD", Side: trading.Buy, Price: 100, Quantity: 5, AcceptedAt: t0.Add(time.Second)},
	}))
	require.NoError(t, m.HandleExecutions(ctx, []trading.Execution{{ID: "BTC-USD:2", Market: "BTC-USD", Seq: 2, Command: trading.OpNew,
		OrderID: "b1", ExecutedAt: t0.Add(time.Second), Events: []trading.ExecEvent{{Type: trading.ExecTrade, OrderID: "b1", Account: "a2",
			Trade: &trading.Trade{ID: "t1", Market: "BTC-USD", Price: 100, Quantity: 5, MakerOrderID: "s1", TakerOrderID: "b1",
				MakerAccount: "a1", TakerAccount: "a2", TakerSide: trading.Buy}}}}}))
	cases, err := store.ListCases(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, cases, 1, "one case for the wash trade")
	assert.Equal(t, "surveillance", cases[0].Kind)
	assert.Equal(t, "a2", cases[0].Subject)
	assert.Contains(t, string(cases[0].Evidence), "wash_trade")
	assert.Contains(t, string(cases[0].Evidence), "t1")
}
