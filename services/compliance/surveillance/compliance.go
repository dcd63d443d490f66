package surveillance

import (
	"time"

	"github.com/cantondex/platform/services/compliance"
)

// Live is a Detectors behind compliance.Surveillance: the compliance service's monitor feeds
// it the order commands and executions it consumes (under its own lock: Detectors are not safe
// for concurrent use). Events of the two topics can arrive slightly out of time order; an
// earlier event is taken at the latest time seen (Observe).
type Live struct{ D *Detectors }

var _ compliance.Surveillance = Live{}

// Observe converts e and returns the alerts it completes, copied.
func (l Live) Observe(e compliance.FlowEvent) []compliance.Alert {
	return alerts(l.D.Observe(Event{TS: e.TS, Kind: EventKind(e.Kind), Account: e.Account, Market: e.Market, OrderID: e.OrderID,
		Side: e.Side, Price: e.Price, Qty: e.Qty, TradeID: e.TradeID, MakerOrderID: e.MakerOrderID, TakerOrderID: e.TakerOrderID,
		MakerAccount: e.MakerAccount, TakerAccount: e.TakerAccount, Aggressor: e.Aggressor}))
}

// Flush returns the alerts that windows closing at now complete.
func (l Live) Flush(now time.Time) []compliance.Alert { return alerts(l.D.Flush(now)) }

func alerts(as []Alert) []compliance.Alert {
	if len(as) == 0 {
		return nil
	}
	out := make([]compliance.Alert, len(as))
	for i, a := range as {
		out[i] = compliance.Alert{Detector: a.Detector, Account: a.Account, Market: a.Market,
			OrderIDs: append([]string(nil), a.OrderIDs...), TradeIDs: append([]string(nil), a.TradeIDs...),
			From: a.From, To: a.To, Score: a.Score, Reason: a.Reason}
	}
	return out
}
