package surveillance

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// otrCounts is one account's activity in one market during a session, counted as RTS 9
// (Commission Delegated Regulation (EU) 2017/566) counts it:
//
//   - Art. 1(a): an "order" is every input message (submission, modification, cancellation);
//     the Annex counts each submission, each modification and each cancellation of a limit
//     order as one. Cancels the venue makes itself (IOC residue, self-trade prevention) are no
//     input messages and are not counted; rejected messages were sent and are.
//   - Art. 1(b): a "transaction" is a totally or partially executed order: each execution
//     (trade) of one of the account's orders counts as one.
//   - Art. 1(c): volume is in the instrument's units, here lots. The volume of a message is the
//     quantity it carries: the order's quantity for a submission, the new quantity for a
//     modification, the cancelled quantity for a cancellation.
//   - Art. 3(1): number ratio = (number of orders / number of transactions) − 1 and volume
//     ratio = (volume of orders / volume of transactions) − 1, at the end of every session.
//     With no transaction at all the ratios are undefined; they are computed as if there were
//     one transaction of the account's average message volume, so both equal the message
//     count − 1, and the alert says so.
type otrCounts struct {
	messages, msgVolume int64
	trades, tradeVolume int64
	firstTS, lastTS     time.Time
	sample              []string // the first order ids, for the alert
}

type acctMarket struct{ account, market string }

type otrState struct {
	length, offset time.Duration
	session        int64 // index of the current session
	started        bool
	counts         map[acctMarket]*otrCounts
}

func (s *otrState) init(cfg Config) {
	s.length, s.offset = cfg.SessionLength, cfg.SessionOffset
	s.counts = map[acctMarket]*otrCounts{}
}

func (s *otrState) index(ts time.Time) int64 {
	ns := ts.UnixNano() - int64(s.offset)
	n := ns / int64(s.length)
	if ns < 0 && ns%int64(s.length) != 0 {
		n--
	}
	return n
}

// roll closes the current session when ts belongs to a later one.
func (s *otrState) roll(d *Detectors, ts time.Time) {
	i := s.index(ts)
	if !s.started {
		s.session, s.started = i, true
		return
	}
	if i > s.session {
		s.close(d)
		s.session = i
	}
}

func (s *otrState) get(d *Detectors, account, market string, ts time.Time) *otrCounts {
	k := acctMarket{account, market}
	c := s.counts[k]
	if c == nil {
		c = &otrCounts{firstTS: ts}
		s.counts[k] = c
	}
	c.lastTS = ts
	return c
}

// message counts one input message.
func (d *Detectors) message(ev *Event) {
	if ev.Account == "" {
		return
	}
	c := d.otr.get(d, ev.Account, ev.Market, ev.TS)
	c.messages++
	c.msgVolume += max(ev.Qty, 0)
	if len(c.sample) < d.cfg.MaxIDsPerAlert && ev.OrderID != "" && (len(c.sample) == 0 || c.sample[len(c.sample)-1] != ev.OrderID) {
		c.sample = append(c.sample, ev.OrderID)
	}
	d.stuffMessage(ev)
}

// trade counts one transaction for each side.
func (s *otrState) trade(ev *Event) {
	for _, acct := range [2]string{ev.MakerAccount, ev.TakerAccount} {
		if acct == "" {
			continue
		}
		k := acctMarket{acct, ev.Market}
		c := s.counts[k]
		if c == nil {
			c = &otrCounts{firstTS: ev.TS}
			s.counts[k] = c
		}
		c.lastTS = ev.TS
		c.trades++
		c.tradeVolume += ev.Qty
	}
}

// close ends the session: an alert per account and market over either maximum, in account
// and market order, and the counters start again.
func (s *otrState) close(d *Detectors) {
	if len(s.counts) == 0 {
		return
	}
	keys := make([]acctMarket, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b acctMarket) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.market, b.market))
	})
	start := time.Unix(0, s.session*int64(s.length)+int64(s.offset)).UTC()
	for _, k := range keys {
		c := s.counts[k]
		if c.messages < int64(d.cfg.OTRMinMessages) {
			continue
		}
		trades, tradeVolume := float64(c.trades), float64(c.tradeVolume)
		if c.trades == 0 {
			trades, tradeVolume = 1, max(float64(c.msgVolume)/float64(c.messages), 1)
		}
		number := float64(c.messages)/trades - 1
		volume := float64(c.msgVolume)/tradeVolume - 1
		overN, overV := number > d.cfg.OTRMaxNumberRatio, volume > d.cfg.OTRMaxVolumeRatio
		if !overN && !overV {
			continue
		}
		// Score: the larger of ratio / maximum (above 1 by definition).
		score := 0.0
		if d.cfg.OTRMaxNumberRatio > 0 {
			score = number / d.cfg.OTRMaxNumberRatio
		}
		if d.cfg.OTRMaxVolumeRatio > 0 {
			score = max(score, volume/d.cfg.OTRMaxVolumeRatio)
		}
		note := ""
		if c.trades == 0 {
			note = " (no transactions: computed as if one of the average message volume)"
		}
		d.emit(Alert{
			Detector: DetectorOrderToTrade, Account: k.account, Market: k.market,
			OrderIDs: slices.Clone(c.sample), From: c.firstTS, To: c.lastTS, Score: round3(score),
			Reason: fmt.Sprintf("RTS 9 Art. 3 ratios for the session from %s: number (%d messages / %d transactions) − 1 = %.1f (max %.1f), "+
				"volume (%s / %s) − 1 = %.1f (max %.1f)%s",
				start.Format(time.RFC3339), c.messages, c.trades, number, d.cfg.OTRMaxNumberRatio,
				d.qtyText(k.market, c.msgVolume), d.qtyText(k.market, c.tradeVolume), volume, d.cfg.OTRMaxVolumeRatio, note),
		})
	}
	clear(s.counts)
}
