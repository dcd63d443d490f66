package compliance

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cantondex/platform/services/trading"
)

// Once is an event's audit records, appended at most once per event ID.
type Once struct {
	ID      string
	Records []Record
}

// EventLog appends records idempotently by event id (the consumer's redeliveries and the
// relay's republished orders change nothing).
type EventLog interface {
	// AppendOnce appends the records of the events not handled before, in one transaction,
	// and returns how many events were new.
	AppendOnce(ctx context.Context, events []Once) (int, error)
}

// FlowEvent is one order or trade event as the surveillance detectors see it (the fields of
// services/compliance/surveillance.Event: the lead's adapter copies them across).
type FlowEvent struct {
	TS           time.Time `json:"ts"`
	Kind         string    `json:"kind"` // new, cancel, modify, trade, reject
	Account      string    `json:"account,omitempty"`
	Market       string    `json:"market"`
	OrderID      string    `json:"order_id,omitempty"`
	Side         string    `json:"side,omitempty"`
	Price        int64     `json:"price,omitempty"` // minor units of the quote per base unit, as the order carries it
	Qty          int64     `json:"quantity,omitempty"`
	TradeID      string    `json:"trade_id,omitempty"`
	MakerOrderID string    `json:"maker_order_id,omitempty"`
	TakerOrderID string    `json:"taker_order_id,omitempty"`
	MakerAccount string    `json:"maker_account,omitempty"`
	TakerAccount string    `json:"taker_account,omitempty"`
	Aggressor    string    `json:"aggressor,omitempty"`
}

// Alert is a surveillance alert (services/compliance/surveillance.Alert's fields).
type Alert struct {
	Detector string    `json:"detector"`
	Account  string    `json:"account"`
	Market   string    `json:"market"`
	OrderIDs []string  `json:"order_ids"`
	TradeIDs []string  `json:"trade_ids"`
	From     time.Time `json:"from_ts"`
	To       time.Time `json:"to_ts"`
	Score    float64   `json:"score"`
	Reason   string    `json:"reason"`
}

// Surveillance runs the detectors over the flow (one goroutine; not safe for concurrent use).
type Surveillance interface {
	Observe(ev FlowEvent) []Alert
	Flush(now time.Time) []Alert
}

// Event is what the service publishes on compliance-events (keyed by account): an alert
// raised, with the audit entry that records it.
type Event struct {
	ID    string `json:"id"` // deterministic: the alert's detector, account and first order or trade
	Kind  string `json:"kind"`
	Alert Alert  `json:"alert"`
}

// Publisher publishes compliance events.
type Publisher interface {
	PublishComplianceEvents(ctx context.Context, es []Event) error
}

// Monitor records the order flow in the audit trail and runs surveillance on it: the
// compliance-service's consumer. Its methods serialise (the consumer group calls them per
// partition, the detectors run on one goroutine at a time).
type Monitor struct {
	mu           sync.Mutex
	Log          EventLog
	Surveillance Surveillance // nil: no detectors
	Publisher    Publisher    // nil: alerts only audited
	Cases        *Cases       // nil: alerts open no case
	// Links, when set, names the accounts linked by KYC to those of an alert in its case.
	Links interface{ Linked(account string) []string }
	// EvidenceWindow is how long the flow events are kept for the cases of the alerts that
	// name them (DefaultEvidenceWindow when zero), at most MaxEvidenceEvents of them.
	EvidenceWindow time.Duration

	recent evidenceBuffer
	// late: per order key, the recent cases whose evidence lacks the order's events (the
	// orders topic can be consumed behind the trades topic); lateEvents: those arrived since,
	// to append to their cases.
	late       map[string][]string
	lateEvents []lateEvent
}

type lateEvent struct {
	caseID string
	ev     FlowEvent
}

// maxLate bounds the order keys awaited for evidence.
const maxLate = 100_000

// DefaultEvidenceWindow covers the detectors' default windows (the longest, the wash trades'
// round trips, is 10 minutes).
const DefaultEvidenceWindow = 30 * time.Minute

// MaxEvidenceEvents bounds the events kept for evidence, and MaxCaseEvents those one case
// carries (the first ones, with events_truncated set beyond).
const (
	MaxEvidenceEvents = 200_000
	MaxCaseEvents     = 1000
)

// AlertEvidence is a surveillance case's evidence: the alert, the order and trade events that
// make it as the monitor observed them (the orders and trades it names), and the accounts
// linked by KYC to the accounts in them.
type AlertEvidence struct {
	Alert
	Events          []FlowEvent         `json:"events"`
	EventsTruncated bool                `json:"events_truncated,omitempty"`
	LinkedAccounts  map[string][]string `json:"linked_accounts,omitempty"`
}

// observe keeps e for evidence and runs the detectors on it.
func (m *Monitor) observe(e FlowEvent) []Alert {
	w := m.EvidenceWindow
	if w <= 0 {
		w = DefaultEvidenceWindow
	}
	m.recent.add(e, w)
	if ids, ok := m.late["o:"+e.OrderID]; ok && e.Kind != "trade" {
		for _, id := range ids {
			m.lateEvents = append(m.lateEvents, lateEvent{id, e})
		}
		delete(m.late, "o:"+e.OrderID)
	}
	return m.Surveillance.Observe(e)
}

// awaitLate notes the orders of a case's alert whose placement the evidence lacks.
func (m *Monitor) awaitLate(caseID string, ev AlertEvidence) {
	placed := map[string]bool{}
	for _, e := range ev.Events {
		if e.Kind == "new" {
			placed[e.OrderID] = true
		}
	}
	for _, id := range ev.OrderIDs {
		if placed[id] {
			continue
		}
		if m.late == nil || len(m.late) >= maxLate {
			m.late = map[string][]string{} // bounded: the oldest waits are given up
		}
		m.late["o:"+id] = append(m.late["o:"+id], caseID)
	}
}

// addLate appends the late events to their cases, each audited (case.evidence).
func (m *Monitor) addLate(ctx context.Context) error {
	for len(m.lateEvents) > 0 {
		id := m.lateEvents[0].caseID
		var evs []FlowEvent
		rest := m.lateEvents[:0:0]
		for _, le := range m.lateEvents {
			if le.caseID == id {
				evs = append(evs, le.ev)
			} else {
				rest = append(rest, le)
			}
		}
		b, err := json.Marshal(evs)
		if err != nil {
			return err
		}
		orders := make([]string, len(evs))
		for i, e := range evs {
			orders[i] = e.OrderID
		}
		if err := m.Cases.store.AddCaseEvents(ctx, id, b, Record{Actor: "surveillance", Kind: "case.evidence", Subject: id,
			Payload: map[string]any{"events_added": len(evs), "order_ids": orders}}); err != nil && trading.ErrorCode(err) != trading.ENOTFOUND {
			return fmt.Errorf("case evidence: %w", err)
		}
		m.lateEvents = rest
	}
	return nil
}

// evidence gathers what an alert's case shows.
func (m *Monitor) evidence(a Alert) AlertEvidence {
	keys := make([]string, 0, len(a.OrderIDs)+len(a.TradeIDs))
	for _, id := range a.OrderIDs {
		keys = append(keys, "o:"+id)
	}
	for _, id := range a.TradeIDs {
		keys = append(keys, "t:"+id)
	}
	ev := AlertEvidence{Alert: a, Events: m.recent.events(keys)}
	if len(ev.Events) > MaxCaseEvents {
		ev.Events, ev.EventsTruncated = ev.Events[:MaxCaseEvents], true
	}
	if ev.Events == nil {
		ev.Events = []FlowEvent{}
	}
	if m.Links != nil {
		accounts := map[string]bool{a.Account: true}
		for _, e := range ev.Events {
			accounts[e.Account], accounts[e.MakerAccount], accounts[e.TakerAccount] = true, true, true
		}
		for acc := range accounts {
			if acc == "" {
				continue
			}
			if l := m.Links.Linked(acc); len(l) > 0 {
				if ev.LinkedAccounts == nil {
					ev.LinkedAccounts = map[string][]string{}
				}
				ev.LinkedAccounts[acc] = l
			}
		}
	}
	return ev
}

// evidenceBuffer keeps the recent flow events by order and trade id, oldest dropped first.
type evidenceBuffer struct {
	seq   int64
	byKey map[string][]seqEvent
	fifo  []fifoItem
	head  int
}

type seqEvent struct {
	seq int64
	ev  FlowEvent
}

type fifoItem struct {
	key string
	seq int64
	ts  time.Time
}

func (b *evidenceBuffer) add(e FlowEvent, window time.Duration) {
	if b.byKey == nil {
		b.byKey = map[string][]seqEvent{}
	}
	b.seq++
	keys := []string{"o:" + e.OrderID}
	if e.Kind == "trade" {
		keys = []string{"t:" + e.TradeID, "o:" + e.MakerOrderID, "o:" + e.TakerOrderID}
	}
	for _, k := range keys {
		if len(k) == 2 {
			continue
		}
		b.byKey[k] = append(b.byKey[k], seqEvent{b.seq, e})
		b.fifo = append(b.fifo, fifoItem{k, b.seq, e.TS})
	}
	cutoff := e.TS.Add(-window)
	for b.head < len(b.fifo) && (len(b.fifo)-b.head > MaxEvidenceEvents || b.fifo[b.head].ts.Before(cutoff)) {
		it := b.fifo[b.head]
		b.fifo[b.head] = fifoItem{}
		b.head++
		if evs := b.byKey[it.key]; len(evs) > 0 && evs[0].seq == it.seq {
			if len(evs) == 1 {
				delete(b.byKey, it.key)
			} else {
				b.byKey[it.key] = evs[1:]
			}
		}
	}
	if b.head > len(b.fifo)/2 && b.head > 1024 {
		b.fifo = append(b.fifo[:0], b.fifo[b.head:]...)
		b.head = 0
	}
}

// events returns the events under keys, each once, in the order observed.
func (b *evidenceBuffer) events(keys []string) []FlowEvent {
	seen := map[int64]bool{}
	var got []seqEvent
	for _, k := range keys {
		for _, se := range b.byKey[k] {
			if !seen[se.seq] {
				seen[se.seq] = true
				got = append(got, se)
			}
		}
	}
	slices.SortFunc(got, func(x, y seqEvent) int { return cmp.Compare(x.seq, y.seq) })
	out := make([]FlowEvent, len(got))
	for i, se := range got {
		out[i] = se.ev
	}
	return out
}

// alertID is deterministic, so a redelivered batch raises the same ids.
func alertID(a Alert) string {
	first := ""
	switch {
	case len(a.OrderIDs) > 0:
		first = a.OrderIDs[0]
	case len(a.TradeIDs) > 0:
		first = a.TradeIDs[0]
	}
	return fmt.Sprintf("alert:%s:%s:%s:%d", a.Detector, a.Account, first, a.From.UnixNano())
}

// HandleCommands audits order commands (ids "order:<op>:<order id>") and observes them.
func (m *Monitor) HandleCommands(ctx context.Context, cmds []trading.OrderCommand) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	events := make([]Once, 0, len(cmds))
	var alerts []Alert
	for _, c := range cmds {
		payload, err := json.Marshal(c)
		if err != nil {
			return err
		}
		events = append(events, Once{ID: "order:" + string(c.Op) + ":" + c.OrderID, Records: []Record{{
			Actor: c.Account, Kind: "order." + string(c.Op), Subject: c.OrderID, Payload: json.RawMessage(payload)}}})
		if m.Surveillance != nil {
			kind := "new"
			if c.Op != trading.OpNew {
				kind = "cancel"
			}
			alerts = append(alerts, m.observe(FlowEvent{TS: c.AcceptedAt, Kind: kind, Account: c.Account, Market: c.Market,
				OrderID: c.OrderID, Side: string(c.Side), Price: c.Price, Qty: c.Quantity})...)
		}
	}
	return m.record(ctx, events, alerts)
}

// HandleExecutions audits the engine's executions (ids "exec:<id>") and observes their
// trades, rejections and cancellations.
func (m *Monitor) HandleExecutions(ctx context.Context, xs []trading.Execution) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	events := make([]Once, 0, len(xs))
	var alerts []Alert
	for _, x := range xs {
		var records []Record
		for _, e := range x.Events {
			switch {
			case e.Type == trading.ExecTrade && e.Trade != nil:
				payload, err := json.Marshal(e.Trade)
				if err != nil {
					return err
				}
				records = append(records, Record{Actor: "matching-engine", Kind: "trade", Subject: e.Trade.ID, Payload: json.RawMessage(payload)})
				if m.Surveillance != nil {
					t := e.Trade
					alerts = append(alerts, m.observe(FlowEvent{TS: x.ExecutedAt, Kind: "trade", Market: x.Market,
						Account: t.TakerAccount, OrderID: t.TakerOrderID, Side: string(t.TakerSide), Price: t.Price, Qty: t.Quantity,
						TradeID: t.ID, MakerOrderID: t.MakerOrderID, TakerOrderID: t.TakerOrderID, MakerAccount: t.MakerAccount,
						TakerAccount: t.TakerAccount, Aggressor: string(t.TakerSide)})...)
				}
			case e.Type == trading.ExecRejected:
				records = append(records, Record{Actor: "matching-engine", Kind: "order.rejected", Subject: e.OrderID,
					Payload: map[string]string{"account": e.Account, "reason": e.Reason}})
				if m.Surveillance != nil {
					alerts = append(alerts, m.observe(FlowEvent{TS: x.ExecutedAt, Kind: "reject", Account: e.Account, Market: x.Market, OrderID: e.OrderID})...)
				}
			}
		}
		if len(records) > 0 {
			events = append(events, Once{ID: "exec:" + x.ID, Records: records})
		}
	}
	return m.record(ctx, events, alerts)
}

// Flush closes the detectors' windows (end of session) and records what they raise.
func (m *Monitor) Flush(ctx context.Context, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Surveillance == nil {
		return nil
	}
	return m.record(ctx, nil, m.Surveillance.Flush(now))
}

func (m *Monitor) record(ctx context.Context, events []Once, alerts []Alert) error {
	out := make([]Event, 0, len(alerts))
	for _, a := range alerts {
		ev := Event{ID: alertID(a), Kind: "surveillance.alert", Alert: a}
		subject := a.Account
		events = append(events, Once{ID: ev.ID, Records: []Record{{Actor: "surveillance", Kind: "surveillance.alert", Subject: subject, Payload: a}}})
		out = append(out, ev)
	}
	if len(events) == 0 {
		if m.Cases != nil {
			return m.addLate(ctx)
		}
		return nil
	}
	if _, err := m.Log.AppendOnce(ctx, events); err != nil {
		return fmt.Errorf("audit flow events: %w", err)
	}
	if m.Cases != nil {
		for _, ev := range out {
			evidence := m.evidence(ev.Alert)
			c, created, err := m.Cases.open(ctx, "surveillance", ev.ID, ev.Alert.Account, evidence)
			if err != nil {
				return fmt.Errorf("open case: %w", err)
			}
			if created {
				m.awaitLate(c.ID, evidence)
			}
		}
		if err := m.addLate(ctx); err != nil {
			return err
		}
	}
	if m.Publisher != nil && len(out) > 0 {
		// Published after the audit commit; a crash between them republishes on redelivery
		// (consumers dedupe by id).
		if err := m.Publisher.PublishComplianceEvents(ctx, out); err != nil {
			return fmt.Errorf("publish compliance events: %w", err)
		}
	}
	return nil
}

// AppendOnce implements EventLog.
func (m *Memory) AppendOnce(_ context.Context, events []Once) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	n := 0
	for _, e := range events {
		if m.seen[e.ID] {
			continue
		}
		if _, err := m.appendLocked(e.Records); err != nil {
			return n, err
		}
		m.seen[e.ID] = true
		n++
	}
	return n, nil
}
