// Package surveillance detects market abuse in the order and trade flow of the venue: wash
// trades (including round trips that net to no change of position), spoofing, layering,
// order-to-trade ratios as MiFID II RTS 9 Art. 3 defines them, and quote stuffing.
//
// Detectors is fed Events in time order by one goroutine (Observe) and returns Alerts, each
// naming the orders and trades that make it, the window they span, a score in [0, 1] (or, for
// ratios, how far over the limit) and a sentence a compliance officer can read. Every threshold
// is a field of Config; Default documents the defaults. State is kept only as long as a window
// can still use it, so memory is bounded by the activity inside the longest window, not by the
// length of the flow.
//
// Replayer turns journal commands into Events by running them through the real matching engine
// (services/matching), which is what services/cmd/surveil does offline.
package surveillance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// EventKind is what happened to an order.
type EventKind string

const (
	KindNew    EventKind = "new"    // an accepted new order
	KindCancel EventKind = "cancel" // an order left the book unfilled (Qty: the lots cancelled)
	KindModify EventKind = "modify" // an order's price and/or open quantity changed
	KindTrade  EventKind = "trade"  // a maker and a taker order traded
	KindReject EventKind = "reject" // a command the venue refused; still a message sent
)

// Event is one order or trade event. Prices are in ticks, quantities in lots.
type Event struct {
	TS      time.Time
	Kind    EventKind
	Account string
	Market  string
	OrderID string
	Side    string // "buy" | "sell"
	Price   int64  // ticks
	Qty     int64  // lots (for trade: traded qty; for cancel: remaining cancelled qty)
	// trade only:
	TradeID, MakerOrderID, TakerOrderID, MakerAccount, TakerAccount string
	Aggressor                                                       string // side of the taker
	BestBid, BestAsk                                                int64  // touch just before the event, 0 when unknown (spoofing then uses the last trade price)
	// System marks a cancel the venue made itself (IOC or market residue, self-trade
	// prevention) rather than a cancel message of the trader: it is no message under RTS 9 and
	// no withdrawal of an order for spoofing or layering.
	System bool
}

// Detector names, as they appear in Alert.Detector.
const (
	DetectorWash          = "wash_trade"
	DetectorSpoofing      = "spoofing"
	DetectorLayering      = "layering"
	DetectorOrderToTrade  = "order_to_trade"
	DetectorQuoteStuffing = "quote_stuffing"
)

// Alert is one suspicion, with the evidence that makes it.
type Alert struct {
	Detector        string // wash_trade | spoofing | layering | order_to_trade | quote_stuffing
	Account, Market string
	OrderIDs        []string
	TradeIDs        []string
	From, To        time.Time
	Score           float64
	Reason          string
}

// Units writes a market's prices and quantities for the reasons of alerts (Replayer is one).
// Without it reasons give ticks and lots.
type Units interface {
	Price(market string, ticks int64) string
	Qty(market string, lots int64) string
}

// Links maps an account to its beneficial owner (from KYC): the account itself when unlinked.
type Links interface{ Owner(account string) string }

// LinkMap is a Links backed by a map of account to owner.
type LinkMap map[string]string

// Owner returns the owner of account, or account itself.
func (m LinkMap) Owner(account string) string {
	if o := m[account]; o != "" {
		return o
	}
	return account
}

// LoadLinks reads JSON Lines {"account":…,"owner":…}. Blank lines are skipped; any other bad
// line is an error naming it.
func LoadLinks(r io.Reader) (LinkMap, error) {
	m := LinkMap{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var l struct {
			Account string `json:"account"`
			Owner   string `json:"owner"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("links line %d: %w", n, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("links line %d: trailing data", n)
		}
		if l.Account == "" || l.Owner == "" {
			return nil, fmt.Errorf("links line %d: account and owner are required", n)
		}
		if prev, dup := m[l.Account]; dup && prev != l.Owner {
			return nil, fmt.Errorf("links line %d: account %q already linked to %q", n, l.Account, prev)
		}
		m[l.Account] = l.Owner
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	return m, nil
}
