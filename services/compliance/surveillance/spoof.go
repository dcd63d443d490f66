package surveillance

import (
	"fmt"
	"math"
)

const maxOppTrades = 16

// spoofCandidate marks a new order as large and near the touch, and updates the market's
// average order size.
func (d *Detectors) spoofCandidate(o *order, ev *Event) {
	avg, seen := d.avgSize[o.market]
	if !seen {
		avg = float64(o.qty)
	}
	d.avgSize[o.market] = avg + d.cfg.AvgSizeWeight*(float64(o.qty)-avg)
	d.markLarge(o, ev, avg)
}

// spoofModified looks again at an order whose size or price changed: an order grown large
// near the touch becomes a candidate from then on.
func (d *Detectors) spoofModified(o *order, ev *Event) {
	if o.large {
		return
	}
	if avg, seen := d.avgSize[o.market]; seen {
		d.markLarge(o, ev, avg)
	}
}

func (d *Detectors) markLarge(o *order, ev *Event, avg float64) {
	threshold := math.Max(float64(d.cfg.SpoofMinQty), d.cfg.SpoofSizeMultiple*avg)
	if float64(o.qty) < threshold {
		return
	}
	bid, ask := ev.BestBid, ev.BestAsk
	if bid == 0 && ask == 0 {
		// No touch on the event (a feed without book data): the last trade price stands in
		// for both sides, a tick away.
		if p := d.lastPrice[o.market]; p > 0 {
			bid, ask = p-1, p+1
		}
	}
	if !nearTouch(o.buy, o.price, bid, ask, d.cfg.SpoofNearTouchTicks) {
		return
	}
	o.large = true
	o.sizeRatio = float64(o.qty) / math.Max(avg, 1)
}

// nearTouch: a buy at most n ticks below the best bid (or, with no bids, below the best ask),
// a sell at most n ticks above the best ask (or the best bid). Unknown touch: not near.
func nearTouch(buy bool, price, bid, ask, n int64) bool {
	if price <= 0 {
		return false
	}
	if buy {
		switch {
		case bid > 0:
			return price >= bid-n
		case ask > 0:
			return price >= ask-1-n
		}
		return false
	}
	switch {
	case ask > 0:
		return price <= ask+n
	case bid > 0:
		return price <= bid+1+n
	}
	return false
}

// spoofOnTrade records a trade of the owner on side buy against its live large orders on the
// other side placed within SpoofTradeWindow before it.
func (d *Detectors) spoofOnTrade(st *ownerState, buy bool, ref tradeRef) {
	for _, o := range st.recent {
		if !o.large || o.done || o.buy == buy || ref.ts.Sub(o.ts) > d.cfg.SpoofTradeWindow {
			continue
		}
		if n := len(o.opp); n < maxOppTrades && (n == 0 || o.opp[n-1].id != ref.id) {
			o.opp = append(o.opp, ref)
		}
	}
}

// spoofOnCancel alerts when a large order with an opposite own trade is cancelled mostly
// unfilled within SpoofCancelWindow of that trade.
//
// Score: the unfilled fraction at the cancel times how large the order was, 1 − exp(−r/m)
// for r = size / average and m = SpoofSizeMultiple (so an order exactly at the threshold
// scores about 0.63 of its unfilled fraction).
func (d *Detectors) spoofOnCancel(o *order, ev *Event) {
	if !o.large || len(o.opp) == 0 {
		return
	}
	last := o.opp[len(o.opp)-1]
	if ev.TS.Sub(last.ts) > d.cfg.SpoofCancelWindow {
		return
	}
	cancelled := float64(ev.Qty) / float64(o.qty)
	if cancelled < d.cfg.SpoofMinCancelledFraction {
		return
	}
	ids := []string{o.id}
	var tids []string
	var oppQty int64
	for _, t := range o.opp {
		if t.orderID != "" && !contains(ids, t.orderID) {
			ids = append(ids, t.orderID)
		}
		tids = append(tids, t.id)
		oppQty += t.qty
	}
	m := math.Max(d.cfg.SpoofSizeMultiple, 1)
	score := cancelled * (1 - math.Exp(-o.sizeRatio/m))
	d.emit(Alert{
		Detector: DetectorSpoofing, Account: o.account, Market: o.market,
		OrderIDs: d.capIDs(ids), TradeIDs: d.capIDs(tids), From: o.ts, To: ev.TS, Score: round3(score),
		Reason: fmt.Sprintf("%s order %s of %s at %s (%.1f× the average order, within %d ticks of the touch) "+
			"was followed %s later by %d own %s trade(s) of %s on the other side, then cancelled %s after the last of them with %s (%.0f%%) unfilled",
			sideName(o.buy), o.id, d.qtyText(o.market, o.qty), d.priceText(o.market, o.price), o.sizeRatio, d.cfg.SpoofNearTouchTicks,
			o.opp[0].ts.Sub(o.ts), len(o.opp), sideName(!o.buy), d.qtyText(o.market, oppQty), ev.TS.Sub(last.ts), d.qtyText(o.market, ev.Qty), 100*cancelled),
	})
	o.opp = nil
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
