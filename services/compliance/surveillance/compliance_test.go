package surveillance_test

import (
	"context"
	"encoding/json"
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
	require.NoError(t, m.HandleExecutions(ctx, tradeS1B1("a1", "a2", t0.Add(time.Second))))
	cases, err := store.ListCases(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, cases, 1, "one case for the wash trade")
	assert.Equal(t, "surveillance", cases[0].Kind)
	assert.Equal(t, "a2", cases[0].Subject)
	assert.Contains(t, string(cases[0].Evidence), "wash_trade")
	assert.Contains(t, string(cases[0].Evidence), "t1")
}

// tradeS1B1 is the execution of taker b1 (buy, account taker) against maker s1 (sell,
// account maker): 5 lots at 100.
func tradeS1B1(maker, taker string, at time.Time) []trading.Execution {
	return []trading.Execution{{ID: "BTC-USD:2", Market: "BTC-USD", Seq: 2, Command: trading.OpNew,
		OrderID: "b1", ExecutedAt: at, Events: []trading.ExecEvent{{Type: trading.ExecTrade, OrderID: "b1", Account: taker,
			Trade: &trading.Trade{ID: "t1", Market: "BTC-USD", Price: 100, Quantity: 5, MakerOrderID: "s1", TakerOrderID: "b1",
				MakerAccount: maker, TakerAccount: taker, TakerSide: trading.Buy}}}}}
}

func verified(account string, app compliance.Application) compliance.KYC {
	return compliance.KYC{Account: account, Status: compliance.KYCVerified, Application: app}
}

// washFlow is one trade between a1 (maker, selling) and a2 (taker, buying), as the service
// consumes it.
func washFlow(t *testing.T, m *compliance.Monitor, a1, a2 string) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, m.HandleCommands(ctx, []trading.OrderCommand{
		{Op: trading.OpNew, OrderID: "s1", Account: a1, Market: "BTC-USD", Side: trading.Sell, Price: 100, Quantity: 5, AcceptedAt: t0},
		{Op: trading.OpNew, OrderID: "other", Account: "c9", Market: "BTC-USD", Side: trading.Buy, Price: 90, Quantity: 1, AcceptedAt: t0},
		{Op: trading.OpNew, OrderID: "b1", Account: a2, Market: "BTC-USD", Side: trading.Buy, Price: 100, Quantity: 5, AcceptedAt: t0.Add(time.Second)},
	}))
	require.NoError(t, m.HandleExecutions(ctx, tradeS1B1(a1, a2, t0.Add(time.Second))))
}

// The live detector counts accounts linked by KYC as one owner: an entity's beneficial owner
// trading against the entity in their own name is a wash trade; the case's evidence holds the
// order events replayed (both orders and the trade, not the unrelated order) and the linked
// accounts. Without the link the same flow raises nothing.
func TestLiveWashTradeBetweenAccountsLinkedByKYC(t *testing.T) {
	ctx := context.Background()
	owner := compliance.Owner{Name: "Bob Owner", DateOfBirth: "1970-01-01", Nationality: "AT", Share: 60}
	links := &compliance.KYCLinks{}
	links.Build([]compliance.KYC{
		verified("acme", compliance.Application{Type: compliance.Entity, LegalName: "Acme GmbH", Nationality: "DE", BeneficialOwners: []compliance.Owner{owner}}),
		verified("bob", compliance.Application{Type: compliance.Individual, LegalName: "bob  OWNER", DateOfBirth: "1970-01-01", Nationality: "AT"}),
		verified("carol", compliance.Application{Type: compliance.Individual, LegalName: "Carol Other", DateOfBirth: "1970-01-01", Nationality: "AT"}),
	})
	assert.Equal(t, links.Owner("acme"), links.Owner("bob"))
	assert.Equal(t, "carol", links.Owner("carol"))
	assert.Equal(t, []string{"bob"}, links.Linked("acme"))

	store := compliance.NewMemory()
	m := &compliance.Monitor{Log: store, Surveillance: surveillance.Live{D: surveillance.New(surveillance.Default(), links)},
		Cases: compliance.NewCases(store), Links: links}
	washFlow(t, m, "acme", "bob")
	cases, err := store.ListCases(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, cases, 1, "one wash-trade case")
	var ev compliance.AlertEvidence
	require.NoError(t, json.Unmarshal(cases[0].Evidence, &ev))
	assert.Equal(t, surveillance.DetectorWash, ev.Detector)
	var got []string
	for _, e := range ev.Events {
		got = append(got, e.Kind+":"+e.OrderID+e.TradeID)
	}
	assert.Equal(t, []string{"new:s1", "new:b1", "trade:b1t1"}, got, "the orders and the trade that make the alert, in order")
	assert.Equal(t, int64(100), ev.Events[2].Price)
	assert.Equal(t, map[string][]string{"acme": {"bob"}, "bob": {"acme"}}, ev.LinkedAccounts)

	unlinked := compliance.NewMemory()
	m = &compliance.Monitor{Log: unlinked, Surveillance: surveillance.Live{D: surveillance.New(surveillance.Default(), &compliance.KYCLinks{})},
		Cases: compliance.NewCases(unlinked)}
	washFlow(t, m, "acme", "bob")
	cases, err = unlinked.ListCases(ctx, "", 10)
	require.NoError(t, err)
	assert.Empty(t, cases, "different owners without the KYC link")
}

// Refresh reads the links from the store: a verification links, a rejected application does
// not.
func TestKYCLinksRefreshFromTheStore(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	svc := compliance.New(store, nil, compliance.DefaultLimits())
	app := compliance.Application{LegalName: "Dana Twin", DateOfBirth: "1981-05-05", Nationality: "NL", Address: "Amsterdam"}
	for _, a := range []string{"d1", "d2", "d3"} {
		_, err := svc.Submit(ctx, a, a, app)
		require.NoError(t, err)
	}
	_, err := svc.Approve(ctx, "off", "d1", compliance.LevelBasic, "ok")
	require.NoError(t, err)
	_, err = svc.Approve(ctx, "off", "d2", compliance.LevelBasic, "ok")
	require.NoError(t, err)
	_, err = svc.Reject(ctx, "off", "d3", "forged")
	require.NoError(t, err)
	links := &compliance.KYCLinks{}
	require.NoError(t, links.Refresh(ctx, store))
	assert.Equal(t, "d1", links.Owner("d2"))
	assert.Equal(t, "d3", links.Owner("d3"))
}

// The orders topic consumed behind the trades topic: the taker's order arrives after the
// trade that raised the alert, and joins the case's evidence then (audited as case.evidence).
func TestLateOrderJoinsTheEvidence(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	det := surveillance.New(surveillance.Default(), surveillance.LinkMap{"a1": "X", "a2": "X"})
	m := &compliance.Monitor{Log: store, Surveillance: surveillance.Live{D: det}, Cases: compliance.NewCases(store)}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, m.HandleCommands(ctx, []trading.OrderCommand{
		{Op: trading.OpNew, OrderID: "s1", Account: "a1", Market: "BTC-USD", Side: trading.Sell, Price: 100, Quantity: 5, AcceptedAt: t0}}))
	require.NoError(t, m.HandleExecutions(ctx, tradeS1B1("a1", "a2", t0.Add(time.Second))))
	kinds := func() []string {
		cases, err := store.ListCases(ctx, "", 10)
		require.NoError(t, err)
		require.Len(t, cases, 1)
		var ev compliance.AlertEvidence
		require.NoError(t, json.Unmarshal(cases[0].Evidence, &ev))
		var out []string
		for _, e := range ev.Events {
			out = append(out, e.Kind+":"+e.OrderID)
		}
		return out
	}
	assert.Equal(t, []string{"new:s1", "trade:b1"}, kinds())
	require.NoError(t, m.HandleCommands(ctx, []trading.OrderCommand{
		{Op: trading.OpNew, OrderID: "b1", Account: "a2", Market: "BTC-USD", Side: trading.Buy, Price: 100, Quantity: 5, AcceptedAt: t0.Add(time.Second)}}))
	assert.Equal(t, []string{"new:s1", "trade:b1", "new:b1"}, kinds())
	var audit []string
	require.NoError(t, store.Entries(ctx, 1, 0, func(e compliance.Entry) error { audit = append(audit, e.Kind); return nil }))
	assert.Contains(t, audit, "case.evidence")
}
