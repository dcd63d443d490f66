package surveillance

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// stuffState is one account's last StuffMaxMessages+1 message times (a ring) and its open
// burst, if any. Its size is fixed by the limit, whatever the rate.
type stuffState struct {
	ring  []int64  // unix nanos
	ids   []string // the order id of each message in ring
	next  int      // where the next time goes
	full  bool
	last  time.Time
	burst *burst
}

type burst struct {
	from, to time.Time
	count    int
	ids      []string
	markets  []string
}

// stuffMessage records a message; more than StuffMaxMessages within StuffWindow opens a burst
// (counting the messages in that window), which grows while the rate stays over the limit.
func (d *Detectors) stuffMessage(ev *Event) {
	s := d.stuff[ev.Account]
	if s == nil {
		if n := len(d.stuffFree); n > 0 {
			s, d.stuffFree = d.stuffFree[n-1], d.stuffFree[:n-1]
		} else {
			s = &stuffState{ring: make([]int64, d.cfg.StuffMaxMessages+1), ids: make([]string, d.cfg.StuffMaxMessages+1)}
		}
		d.stuff[ev.Account] = s
	}
	now := ev.TS.UnixNano()
	s.ring[s.next] = now
	s.ids[s.next] = ev.OrderID
	s.next++
	if s.next == len(s.ring) {
		s.next, s.full = 0, true
	}
	s.last = ev.TS
	oldest := s.ring[s.next] // once full: the first of the last StuffMaxMessages+1 messages
	over := s.full && now-oldest < int64(d.cfg.StuffWindow)
	switch {
	case over && s.burst == nil:
		s.burst = &burst{from: time.Unix(0, oldest).UTC(), count: len(s.ring), to: ev.TS}
		for i := range s.ids { // the window's messages, oldest first
			s.burst.addID(s.ids[(s.next+i)%len(s.ids)], d.cfg.MaxIDsPerAlert)
		}
		s.burst.addMarket(ev.Market)
	case s.burst != nil && over:
		s.burst.count++
		s.burst.add(ev, d.cfg.MaxIDsPerAlert)
	case s.burst != nil:
		d.endBurst(ev.Account, s)
	}
}

func (b *burst) add(ev *Event, maxIDs int) {
	b.to = ev.TS
	b.addID(ev.OrderID, maxIDs)
	b.addMarket(ev.Market)
}

// addID lists an order id once in a row (a new and its cancel name one order).
func (b *burst) addID(id string, maxIDs int) {
	if id != "" && len(b.ids) < maxIDs && (len(b.ids) == 0 || b.ids[len(b.ids)-1] != id) {
		b.ids = append(b.ids, id)
	}
}

func (b *burst) addMarket(m string) {
	if !slices.Contains(b.markets, m) && len(b.markets) < 8 {
		b.markets = append(b.markets, m)
	}
}

// closeBursts ends bursts idle for a window (all of them when all is set) and forgets idle
// accounts, in account order.
func (d *Detectors) closeBursts(now time.Time, all bool) {
	var ended []string
	for acct, s := range d.stuff {
		idle := now.Sub(s.last) >= d.cfg.StuffWindow
		if s.burst != nil && (idle || all) {
			ended = append(ended, acct)
		} else if s.burst == nil && idle {
			delete(d.stuff, acct)
			d.recycle(s)
		}
	}
	slices.Sort(ended)
	for _, acct := range ended {
		s := d.stuff[acct]
		d.endBurst(acct, s)
		delete(d.stuff, acct)
		d.recycle(s)
	}
}

// recycle keeps a forgotten account's ring for the next account (up to 256 of them), so
// accounts that come and go do not allocate.
func (d *Detectors) recycle(s *stuffState) {
	if len(d.stuffFree) >= 256 {
		return
	}
	clear(s.ring)
	clear(s.ids)
	*s = stuffState{ring: s.ring, ids: s.ids}
	d.stuffFree = append(d.stuffFree, s)
}

// endBurst emits the burst's alert. Score: the burst's mean rate per StuffWindow over the
// limit (above 1).
func (d *Detectors) endBurst(account string, s *stuffState) {
	b := s.burst
	s.burst = nil
	span := max(b.to.Sub(b.from), d.cfg.StuffWindow)
	rate := float64(b.count) * float64(d.cfg.StuffWindow) / float64(span)
	slices.Sort(b.markets)
	d.emit(Alert{
		Detector: DetectorQuoteStuffing, Account: account, Market: strings.Join(b.markets, ","),
		OrderIDs: b.ids, From: b.from, To: b.to, Score: round3(rate / float64(d.cfg.StuffMaxMessages)),
		Reason: fmt.Sprintf("%d messages in %s (%.0f per %s on average; limit %d per %s)",
			b.count, b.to.Sub(b.from), rate, d.cfg.StuffWindow, d.cfg.StuffMaxMessages, d.cfg.StuffWindow),
	})
}
