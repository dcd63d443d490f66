package compliance_test

// The seam to the screening and surveillance packages (CONTRACTS.md), with their types
// stub-copied here only: the adapters below are what the lead moves next to the real
// packages (cmd/compliance-service's Plugins, the gateway's Backend.Screener).

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
)

// --- stub copies of services/compliance/surveillance's contract ---

type survEventKind string

type survEvent struct {
	TS                                                              time.Time
	Kind                                                            survEventKind
	Account, Market, OrderID, Side                                  string
	Price, Qty                                                      int64
	TradeID, MakerOrderID, TakerOrderID, MakerAccount, TakerAccount string
	Aggressor                                                       string
	BestBid, BestAsk                                                int64
}

type survAlert struct {
	Detector, Account, Market string
	OrderIDs, TradeIDs        []string
	From, To                  time.Time
	Score                     float64
	Reason                    string
}

type survDetectors struct{ trades map[string]int }

func (d *survDetectors) Observe(ev survEvent) []survAlert {
	if ev.Kind == "trade" && ev.MakerAccount == ev.TakerAccount {
		return []survAlert{{Detector: "wash_trade", Account: ev.TakerAccount, Market: ev.Market, TradeIDs: []string{ev.TradeID}, From: ev.TS, To: ev.TS, Score: 1, Reason: "same owner"}}
	}
	return nil
}
func (d *survDetectors) Flush(time.Time) []survAlert { return nil }

// --- stub copies of services/compliance/screening's contract ---

type scrQuery struct{ Name, DOB, Country string }
type scrMatch struct {
	EntryID, List, Name, MatchedName string
	Score                            float64
}
type scrIndex struct{}

func (scrIndex) Screen(q scrQuery, minScore float64) []scrMatch {
	if q.Name == "Bad Actor" && minScore <= 0.97 {
		return []scrMatch{{EntryID: "ofac:36", List: "ofac-sdn", Name: "BAD ACTOR", MatchedName: "bad actor", Score: 0.97}}
	}
	return nil
}

// --- the adapters ---

type surveillanceAdapter struct{ d *survDetectors }

func convert(as []survAlert) []compliance.Alert {
	out := make([]compliance.Alert, len(as))
	for i, a := range as {
		out[i] = compliance.Alert{Detector: a.Detector, Account: a.Account, Market: a.Market, OrderIDs: a.OrderIDs, TradeIDs: a.TradeIDs,
			From: a.From, To: a.To, Score: a.Score, Reason: a.Reason}
	}
	return out
}

func (s surveillanceAdapter) Observe(e compliance.FlowEvent) []compliance.Alert {
	return convert(s.d.Observe(survEvent{TS: e.TS, Kind: survEventKind(e.Kind), Account: e.Account, Market: e.Market, OrderID: e.OrderID,
		Side: e.Side, Price: e.Price, Qty: e.Qty, TradeID: e.TradeID, MakerOrderID: e.MakerOrderID, TakerOrderID: e.TakerOrderID,
		MakerAccount: e.MakerAccount, TakerAccount: e.TakerAccount, Aggressor: e.Aggressor}))
}
func (s surveillanceAdapter) Flush(now time.Time) []compliance.Alert { return convert(s.d.Flush(now)) }

type screenerAdapter struct {
	ix       scrIndex
	minScore float64 // the review threshold (a setting)
}

func (s screenerAdapter) ScreenName(name, dob, country string) []compliance.Hit {
	var out []compliance.Hit
	for _, m := range s.ix.Screen(scrQuery{Name: name, DOB: dob, Country: country}, s.minScore) {
		out = append(out, compliance.Hit{EntryID: m.EntryID, List: m.List, Name: m.Name, Score: m.Score})
	}
	return out
}

var (
	_ compliance.Surveillance = surveillanceAdapter{}
	_ compliance.Screener     = screenerAdapter{}
)

func TestContractAdapters(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	svc := compliance.New(store, screenerAdapter{minScore: 0.85}, compliance.DefaultLimits())
	svc.SetCases(compliance.NewCases(store))
	a := alice()
	a.LegalName = "Bad Actor"
	k, err := svc.Submit(ctx, "x", "x", a)
	require.NoError(t, err)
	assert.Equal(t, compliance.KYCUnderReview, k.Status)

	m := &compliance.Monitor{Log: store, Surveillance: surveillanceAdapter{&survDetectors{}}, Cases: compliance.NewCases(store)}
	alerts := m.Surveillance.Observe(compliance.FlowEvent{Kind: "trade", Market: "BTC-USD", TradeID: "t1", MakerAccount: "w", TakerAccount: "w"})
	require.Len(t, alerts, 1)
	assert.Equal(t, "wash_trade", alerts[0].Detector)
	cs, err := store.ListCases(ctx, "", 10)
	require.NoError(t, err)
	assert.Len(t, cs, 1, "the screening case")
}
