package matching_test

import (
	. "github.com/cantondex/platform/services/matching"
)

// refBook is a deliberately simple order book: one unsorted slice of resting orders, scanned in
// full for every decision. It states the matching rules as plainly as possible so the real
// engine can be checked against it.
type refBook struct {
	m      Market
	orders []*refOrder
	clock  int
}

type refOrder struct {
	id, account string
	side        Side
	price, qty  int64
	stp         STP
	post        bool
	time        int // arrival; lower is earlier in the queue
}

func newRefBook(b *Book) *refBook { return &refBook{m: *b.Market()} }

func (r *refBook) find(id string) int {
	for i, o := range r.orders {
		if o.id == id {
			return i
		}
	}
	return -1
}

func (r *refBook) remove(id string) {
	i := r.find(id)
	r.orders = append(r.orders[:i], r.orders[i+1:]...)
}

// better reports whether o has priority over p (same side): better price, then earlier.
func better(o, p *refOrder) bool {
	if o.price != p.price {
		if o.side == Buy {
			return o.price > p.price
		}
		return o.price < p.price
	}
	return o.time < p.time
}

// bestAgainst returns the resting order a taker on side s with limit (market: any) meets first.
func (r *refBook) bestAgainst(s Side, market bool, limit int64) *refOrder {
	var best *refOrder
	for _, o := range r.orders {
		if o.side == s {
			continue
		}
		if !market && ((s == Buy && o.price > limit) || (s == Sell && o.price < limit)) {
			continue
		}
		if best == nil || better(o, best) {
			best = o
		}
	}
	return best
}

func (r *refBook) clone() *refBook {
	c := &refBook{m: r.m, clock: r.clock}
	for _, o := range r.orders {
		cp := *o
		c.orders = append(c.orders, &cp)
	}
	return c
}

func (r *refBook) apply(c Command) []Event {
	switch c.Op {
	case OpNew:
		return r.place(c)
	case OpCancel:
		i := r.find(c.ID)
		if i < 0 {
			return []Event{rej(c, ReasonUnknownOrder)}
		}
		o := r.orders[i]
		r.remove(c.ID)
		return []Event{{Type: EvCancelled, Seq: c.Seq, ID: o.id, Account: o.account, Side: o.side, Price: o.price, Qty: o.qty, Reason: ReasonUserCancel}}
	case OpModify:
		return r.modify(c)
	}
	return []Event{rej(c, ReasonMalformed)}
}

func rej(c Command, reason Reason) Event {
	return Event{Type: EvRejected, Seq: c.Seq, ID: c.ID, Side: c.Side, Price: c.Price, Qty: c.Qty, Reason: reason}
}

func (r *refBook) place(c Command) []Event {
	m := r.m
	switch {
	case c.ID == "" || c.Account == "" || (c.Side != Buy && c.Side != Sell) ||
		(c.Type != Limit && c.Type != MarketOrder) || c.TIF > FOK || c.STP > STPCancelBoth ||
		(c.Type == MarketOrder && c.PostOnly):
		return []Event{rej(c, ReasonMalformed)}
	case c.Qty <= 0:
		return []Event{rej(c, ReasonInvalidQuantity)}
	case c.Qty < m.MinQty || c.Qty > m.MaxQty:
		return []Event{rej(c, ReasonQtyOutOfRange)}
	case c.Type == Limit && c.Price <= 0:
		return []Event{rej(c, ReasonInvalidPrice)}
	case c.Type == Limit && (c.Price < m.MinPrice || c.Price > m.MaxPrice):
		return []Event{rej(c, ReasonPriceOutOfRange)}
	case r.find(c.ID) >= 0:
		return []Event{rej(c, ReasonDuplicateID)}
	}
	market := c.Type == MarketOrder
	price := c.Price
	if market {
		price = 0
	}
	switch {
	case market && r.bestAgainst(c.Side, true, 0) == nil:
		return []Event{rej(c, ReasonNoLiquidity)}
	case c.PostOnly && r.bestAgainst(c.Side, false, price) != nil:
		return []Event{rej(c, ReasonPostOnlyWouldTake)}
	case c.TIF == FOK:
		// Try it on a copy: FOK is fillable exactly when the trial fills it.
		trial := r.clone()
		left, stopped, _ := trial.match(c.ID, c.Account, c.Side, market, price, c.Qty, c.STP, c.Seq)
		if left > 0 || stopped {
			return []Event{rej(c, ReasonFOKUnfillable)}
		}
	}
	evs := []Event{{Type: EvAccepted, Seq: c.Seq, ID: c.ID, Account: c.Account, Side: c.Side, Price: price, Qty: c.Qty, Remaining: c.Qty}}
	left, stopped, tr := r.match(c.ID, c.Account, c.Side, market, price, c.Qty, c.STP, c.Seq)
	evs = append(evs, tr...)
	cancel := func(reason Reason) {
		evs = append(evs, Event{Type: EvCancelled, Seq: c.Seq, ID: c.ID, Account: c.Account, Side: c.Side, Price: price, Qty: left, Reason: reason})
	}
	switch {
	case left == 0:
	case stopped:
		cancel(ReasonSelfTrade)
	case market || c.TIF != GTC:
		cancel(ReasonUnfilled)
	default:
		r.clock++
		r.orders = append(r.orders, &refOrder{id: c.ID, account: c.Account, side: c.Side, price: price, qty: left, stp: c.STP, post: c.PostOnly, time: r.clock})
	}
	return evs
}

// match trades a taker against the book and returns its unfilled quantity, whether self-trade
// prevention stopped it, and the events.
func (r *refBook) match(id, account string, s Side, market bool, price, qty int64, stp STP, seq uint64) (int64, bool, []Event) {
	var evs []Event
	for qty > 0 {
		o := r.bestAgainst(s, market, price)
		if o == nil {
			break
		}
		if o.account == account {
			if stp == STPCancelOldest || stp == STPCancelBoth {
				evs = append(evs, Event{Type: EvCancelled, Seq: seq, ID: o.id, Account: o.account, Side: o.side, Price: o.price, Qty: o.qty, Reason: ReasonSelfTrade})
				r.remove(o.id)
			}
			if stp == STPCancelOldest {
				continue
			}
			return qty, true, evs
		}
		q := min(qty, o.qty)
		qty -= q
		o.qty -= q
		evs = append(evs, Event{Type: EvTrade, Seq: seq, Side: s, Price: o.price, Qty: q, Remaining: qty,
			MakerID: o.id, TakerID: id, MakerAccount: o.account, TakerAccount: account, MakerRemaining: o.qty})
		if o.qty == 0 {
			r.remove(o.id)
		}
	}
	return qty, false, evs
}

func (r *refBook) modify(c Command) []Event {
	i := r.find(c.ID)
	if i < 0 {
		return []Event{rej(c, ReasonUnknownOrder)}
	}
	o := r.orders[i]
	m := r.m
	price, qty := c.Price, c.Qty
	switch {
	case price < 0:
		return []Event{rej(c, ReasonInvalidPrice)}
	case price != 0 && (price < m.MinPrice || price > m.MaxPrice):
		return []Event{rej(c, ReasonPriceOutOfRange)}
	case qty < 0:
		return []Event{rej(c, ReasonInvalidQuantity)}
	case qty != 0 && (qty < m.MinQty || qty > m.MaxQty):
		return []Event{rej(c, ReasonQtyOutOfRange)}
	}
	if price == 0 {
		price = o.price
	}
	if qty == 0 {
		qty = o.qty
	}
	crossing := r.bestAgainst(o.side, false, price) != nil
	if o.post && crossing {
		return []Event{rej(c, ReasonPostOnlyWouldTake)}
	}
	evs := []Event{{Type: EvModified, Seq: c.Seq, ID: o.id, Account: o.account, Side: o.side, Price: price, Qty: qty, Remaining: qty}}
	if price == o.price && qty <= o.qty {
		o.qty = qty
		return evs
	}
	r.remove(o.id)
	left, stopped, tr := r.match(o.id, o.account, o.side, false, price, qty, o.stp, c.Seq)
	evs = append(evs, tr...)
	switch {
	case stopped:
		evs = append(evs, Event{Type: EvCancelled, Seq: c.Seq, ID: o.id, Account: o.account, Side: o.side, Price: price, Qty: left, Reason: ReasonSelfTrade})
	case left > 0:
		r.clock++
		o.price, o.qty, o.time = price, left, r.clock
		r.orders = append(r.orders, o)
	}
	return evs
}
