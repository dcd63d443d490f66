package surveillance

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// layer is a ladder of own orders on one side followed by an own opposite-side trade, waiting
// to see whether the ladder is withdrawn.
type layer struct {
	account   string
	market    string
	buy       bool // side of the ladder
	orders    []*order
	trades    []tradeRef
	from      time.Time // first ladder order placed
	deadline  time.Time // last trade + LayerCancelWindow
	cancelled []string
	cancelTS  []time.Time
	alerted   bool
}

// layerOnTrade looks, at an own trade on side buy, for a ladder on the other side: live orders
// placed within LayerPlaceWindow before the trade, not already in a ladder, at distinct prices
// forming a run of at least LayerMinOrders levels with gaps of at most LayerMaxGapTicks.
func (d *Detectors) layerOnTrade(st *ownerState, buy bool, ref tradeRef, ev *Event) {
	var cands []*order
	for _, o := range st.recent {
		if o.done || o.buy == buy || ref.ts.Sub(o.ts) > d.cfg.LayerPlaceWindow {
			continue
		}
		if o.layer != nil {
			// A further trade while a ladder waits extends its window.
			if !o.layer.alerted && !ref.ts.After(o.layer.deadline) {
				if n := len(o.layer.trades); n == 0 || o.layer.trades[n-1].id != ref.id {
					o.layer.trades = append(o.layer.trades, ref)
				}
				o.layer.deadline = ref.ts.Add(d.cfg.LayerCancelWindow)
			}
			continue
		}
		cands = append(cands, o)
	}
	if len(cands) < d.cfg.LayerMinOrders {
		return
	}
	// Best run of successive levels: sort by price, one order per price (the earliest).
	slices.SortStableFunc(cands, func(a, b *order) int { return cmpInt64(a.price, b.price) })
	var best, run []*order
	for _, o := range cands {
		if len(run) > 0 {
			prev := run[len(run)-1]
			if o.price == prev.price {
				continue
			}
			if o.price-prev.price > d.cfg.LayerMaxGapTicks {
				if len(run) > len(best) {
					best = run
				}
				run = nil
			}
		}
		run = append(run, o)
	}
	if len(run) > len(best) {
		best = run
	}
	if len(best) < d.cfg.LayerMinOrders {
		return
	}
	l := &layer{
		account: best[0].account, market: ev.Market, buy: !buy,
		orders: best, trades: []tradeRef{ref}, from: best[0].ts,
		deadline: ref.ts.Add(d.cfg.LayerCancelWindow),
	}
	for _, o := range best {
		o.layer = l
		if o.ts.Before(l.from) {
			l.from = o.ts
		}
	}
}

// layerOnCancel counts a withdrawn ladder order; when LayerMinOrders of them are withdrawn
// mostly unfilled within the window, the ladder is an alert.
//
// Score: the share of the ladder's levels withdrawn at the time of the alert (1 when all are).
func (d *Detectors) layerOnCancel(o *order, ev *Event) {
	l := o.layer
	if l == nil || l.alerted || ev.TS.After(l.deadline) {
		return
	}
	if float64(ev.Qty) < d.cfg.LayerMinCancelledFraction*float64(o.qty) {
		return
	}
	l.cancelled = append(l.cancelled, o.id)
	l.cancelTS = append(l.cancelTS, ev.TS)
	// The last LayerMinOrders withdrawals must fall within LayerCancelSpread.
	n := len(l.cancelTS)
	if n < d.cfg.LayerMinOrders || ev.TS.Sub(l.cancelTS[n-d.cfg.LayerMinOrders]) > d.cfg.LayerCancelSpread {
		return
	}
	l.alerted = true
	ids := make([]string, 0, len(l.orders)+len(l.trades))
	var prices []string
	for _, lo := range l.orders {
		ids = append(ids, lo.id)
		if d.units != nil {
			prices = append(prices, d.units.Price(l.market, lo.price))
		} else {
			prices = append(prices, strconv.FormatInt(lo.price, 10))
		}
	}
	levels := strings.Join(prices, ", ")
	if d.units == nil {
		levels += " ticks"
	}
	var tids []string
	var tqty int64
	for _, t := range l.trades {
		if t.orderID != "" && !contains(ids, t.orderID) {
			ids = append(ids, t.orderID)
		}
		tids = append(tids, t.id)
		tqty += t.qty
	}
	score := math.Min(1, float64(len(l.cancelled))/float64(len(l.orders)))
	d.emit(Alert{
		Detector: DetectorLayering, Account: l.account, Market: l.market,
		OrderIDs: d.capIDs(ids), TradeIDs: d.capIDs(tids), From: l.from, To: ev.TS, Score: round3(score),
		Reason: fmt.Sprintf("%d %s orders on successive levels %s placed from %s, then %d own %s trade(s) of %s on the other side, "+
			"then %d of the %d levels cancelled mostly unfilled within %s of the trade and %s of each other",
			len(l.orders), sideName(l.buy), levels, l.from.Format(time.RFC3339Nano),
			len(l.trades), sideName(!l.buy), d.qtyText(l.market, tqty), len(l.cancelled), len(l.orders), ev.TS.Sub(l.trades[len(l.trades)-1].ts), ev.TS.Sub(l.cancelTS[0])),
	})
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
