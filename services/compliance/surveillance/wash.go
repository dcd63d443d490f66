package surveillance

import (
	"fmt"
	"time"
)

// pairKey is an unordered pair of accounts, lo < hi.
type pairKey struct{ lo, hi string }

// pairTrade is a trade between the accounts of a pair, signed for lo: +qty when lo bought.
type pairTrade struct {
	id, loOrder, hiOrder string
	ts                   time.Time
	price                int64
	net                  int64
}

// pairState is the recent trades of one pair of accounts of different owners, oldest first.
type pairState struct {
	trades []pairTrade
	last   time.Time
}

// washOnTrade alerts on a trade between accounts of one beneficial owner, and on a round trip:
// matched trades (see Config) back and forth between two accounts that, within WashWindow,
// leave both positions unchanged, at prices at most WashMaxPriceTicks apart.
func (d *Detectors) washOnTrade(ev *Event, makerOwner, takerOwner string) {
	if makerOwner == takerOwner {
		how := "the same account"
		if ev.MakerAccount != ev.TakerAccount {
			how = fmt.Sprintf("accounts %s and %s of beneficial owner %s", ev.MakerAccount, ev.TakerAccount, makerOwner)
		}
		d.emit(Alert{
			Detector: DetectorWash, Account: ev.TakerAccount, Market: ev.Market,
			OrderIDs: []string{ev.MakerOrderID, ev.TakerOrderID}, TradeIDs: []string{ev.TradeID},
			From: ev.TS, To: ev.TS, Score: 1,
			Reason: fmt.Sprintf("trade %s of %s at %s: maker order %s and taker order %s belong to %s; no change of beneficial ownership",
				ev.TradeID, d.qtyText(ev.Market, ev.Qty), d.priceText(ev.Market, ev.Price), ev.MakerOrderID, ev.TakerOrderID, how),
		})
		return
	}
	if !d.matched(ev) {
		return
	}
	k := pairKey{ev.MakerAccount, ev.TakerAccount}
	t := pairTrade{id: ev.TradeID, ts: ev.TS, price: ev.Price, loOrder: ev.MakerOrderID, hiOrder: ev.TakerOrderID}
	takerBuys := ev.Aggressor == "buy"
	loBuys := !takerBuys // lo is the maker
	if k.lo > k.hi {
		k.lo, k.hi = k.hi, k.lo
		t.loOrder, t.hiOrder = t.hiOrder, t.loOrder
		loBuys = takerBuys
	}
	t.net = ev.Qty
	if !loBuys {
		t.net = -ev.Qty
	}
	p := d.pairs[k]
	if p == nil {
		p = &pairState{}
		d.pairs[k] = p
	}
	p.last = ev.TS
	// Expire and cap.
	i := 0
	for i < len(p.trades) && (ev.TS.Sub(p.trades[i].ts) > d.cfg.WashWindow || len(p.trades)-i >= d.cfg.WashMaxPairTrades) {
		i++
	}
	if i > 0 {
		n := copy(p.trades, p.trades[i:])
		p.trades = p.trades[:n]
	}
	p.trades = append(p.trades, t)
	// The shortest suffix ending here that nets to zero, within the price band.
	var net int64
	lo, hi := t.price, t.price
	for j := len(p.trades) - 1; j >= 0; j-- {
		pt := p.trades[j]
		net += pt.net
		lo, hi = min(lo, pt.price), max(hi, pt.price)
		if hi-lo > d.cfg.WashMaxPriceTicks {
			return
		}
		if net == 0 && j < len(p.trades)-1 {
			d.roundTrip(k, p.trades[j:], hi-lo, ev)
			p.trades = p.trades[:0]
			return
		}
	}
}

// matched reports whether a trade is a matched trade: the maker order entered at most
// WashMatchWindow before it, and it filled both orders completely.
func (d *Detectors) matched(ev *Event) bool {
	m, t := d.orders[ev.MakerOrderID], d.orders[ev.TakerOrderID]
	return m != nil && t != nil && ev.TS.Sub(m.ts) <= d.cfg.WashMatchWindow &&
		m.remaining == ev.Qty && m.qty == ev.Qty && t.remaining == ev.Qty && t.qty == ev.Qty
}

func (d *Detectors) roundTrip(k pairKey, legs []pairTrade, band int64, ev *Event) {
	ids := make([]string, 0, 2*len(legs))
	tids := make([]string, 0, len(legs))
	var vol int64
	for _, l := range legs {
		for _, id := range [2]string{l.loOrder, l.hiOrder} {
			if !contains(ids, id) {
				ids = append(ids, id)
			}
		}
		tids = append(tids, l.id)
		vol += abs64(l.net)
	}
	span := legs[len(legs)-1].ts.Sub(legs[0].ts)
	// Score: 1 for legs at one price, less as the band widens towards its limit; a little less
	// the more of the window the round trip takes.
	score := 1.0
	if d.cfg.WashMaxPriceTicks > 0 {
		score -= 0.25 * float64(band) / float64(d.cfg.WashMaxPriceTicks)
	}
	score -= 0.25 * float64(span) / float64(d.cfg.WashWindow)
	d.emit(Alert{
		Detector: DetectorWash, Account: ev.TakerAccount, Market: ev.Market,
		OrderIDs: d.capIDs(ids), TradeIDs: d.capIDs(tids), From: legs[0].ts, To: legs[len(legs)-1].ts, Score: round3(score),
		Reason: fmt.Sprintf("round trip: %d matched trades of %s in total between accounts %s and %s within %s, at prices %d ticks apart, "+
			"leave both positions unchanged", len(legs), d.qtyText(ev.Market, vol), k.lo, k.hi, span, band),
	})
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
