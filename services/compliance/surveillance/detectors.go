package surveillance

import (
	"slices"
	"strconv"
	"time"
)

// withDefaults replaces settings that cannot work (zero or negative durations and counts,
// fractions outside [0, 1]) by their defaults, so that New never builds a detector that divides
// by zero or grows without bound. Callers loading settings should Validate them first and
// refuse bad ones; this is the safety net.
func (c Config) withDefaults() Config {
	d := Default()
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	dur(&c.WashWindow, d.WashWindow)
	dur(&c.SpoofTradeWindow, d.SpoofTradeWindow)
	dur(&c.SpoofCancelWindow, d.SpoofCancelWindow)
	dur(&c.LayerPlaceWindow, d.LayerPlaceWindow)
	dur(&c.LayerCancelWindow, d.LayerCancelWindow)
	dur(&c.LayerCancelSpread, d.LayerCancelSpread)
	dur(&c.WashMatchWindow, d.WashMatchWindow)
	dur(&c.SessionLength, d.SessionLength)
	dur(&c.StuffWindow, d.StuffWindow)
	dur(&c.OrderTTL, d.OrderTTL)
	if c.SessionOffset < 0 || c.SessionOffset >= c.SessionLength {
		c.SessionOffset = 0
	}
	frac := func(v *float64, def float64) {
		if *v <= 0 || *v > 1 {
			*v = def
		}
	}
	frac(&c.SpoofMinCancelledFraction, d.SpoofMinCancelledFraction)
	frac(&c.LayerMinCancelledFraction, d.LayerMinCancelledFraction)
	frac(&c.AvgSizeWeight, d.AvgSizeWeight)
	if c.WashMaxPairTrades < 2 {
		c.WashMaxPairTrades = d.WashMaxPairTrades
	}
	if c.LayerMinOrders < 2 {
		c.LayerMinOrders = d.LayerMinOrders
	}
	if c.StuffMaxMessages < 1 {
		c.StuffMaxMessages = d.StuffMaxMessages
	}
	if c.MaxIDsPerAlert < 1 {
		c.MaxIDsPerAlert = d.MaxIDsPerAlert
	}
	if c.SpoofMinQty < 1 {
		c.SpoofMinQty = d.SpoofMinQty
	}
	if c.LayerMaxGapTicks < 1 {
		c.LayerMaxGapTicks = d.LayerMaxGapTicks
	}
	if c.WashMaxPriceTicks < 0 {
		c.WashMaxPriceTicks = d.WashMaxPriceTicks
	}
	if c.SpoofNearTouchTicks < 0 {
		c.SpoofNearTouchTicks = d.SpoofNearTouchTicks
	}
	if c.SpoofSizeMultiple < 0 {
		c.SpoofSizeMultiple = d.SpoofSizeMultiple
	}
	if c.OTRMaxNumberRatio < 0 {
		c.OTRMaxNumberRatio = d.OTRMaxNumberRatio
	}
	if c.OTRMaxVolumeRatio < 0 {
		c.OTRMaxVolumeRatio = d.OTRMaxVolumeRatio
	}
	if c.OTRMinMessages < 0 {
		c.OTRMinMessages = d.OTRMinMessages
	}
	return c
}

// order is what the detectors remember of a live order.
type order struct {
	id, account, owner, market string
	buy                        bool
	price                      int64
	qty                        int64 // as placed, or as last modified
	remaining                  int64
	ts                         time.Time
	done                       bool // filled or cancelled

	// spoofing
	large     bool
	sizeRatio float64    // qty / average order size at entry
	opp       []tradeRef // own opposite-side trades while it was live, capped

	// layering
	layer *layer
}

// tradeRef is one trade seen from one side of it.
type tradeRef struct {
	id      string
	orderID string // the own order that traded
	ts      time.Time
	qty     int64
}

// ownerMarket keys the per-owner state of one market.
type ownerMarket struct{ owner, market string }

// ownerState is one beneficial owner's recent orders in one market, oldest first. Orders older
// than the longest placement window are pruned, so its size is bounded by the owner's order
// rate times that window.
type ownerState struct {
	recent []*order
	last   time.Time
}

// Detectors runs every detector over one flow of events. It is owned by one goroutine and not
// safe for concurrent use.
type Detectors struct {
	cfg   Config
	links Links
	units Units

	orders    map[string]*order
	owners    map[ownerMarket]*ownerState
	avgSize   map[string]float64 // market -> EWMA of new order sizes
	lastPrice map[string]int64   // market -> last trade price
	recentW   time.Duration      // how long an order stays in ownerState.recent

	pairs map[pairKey]*pairState // wash round trips
	otr   otrState
	stuff map[string]*stuffState
	// stuffFree holds rings of forgotten accounts for reuse.
	stuffFree []*stuffState

	now       time.Time
	nextSweep time.Time
	nextTTL   time.Time
	out       []Alert
}

// New returns detectors with cfg (settings that cannot work fall back to their defaults; see
// Config.Validate) and links (nil: every account is its own owner).
func New(cfg Config, links Links) *Detectors {
	cfg = cfg.withDefaults()
	if links == nil {
		links = LinkMap(nil)
	}
	d := &Detectors{
		cfg:       cfg,
		links:     links,
		orders:    map[string]*order{},
		owners:    map[ownerMarket]*ownerState{},
		avgSize:   map[string]float64{},
		lastPrice: map[string]int64{},
		pairs:     map[pairKey]*pairState{},
		stuff:     map[string]*stuffState{},
		recentW:   max(cfg.LayerPlaceWindow, cfg.SpoofTradeWindow),
	}
	d.otr.init(cfg)
	return d
}

// SetUnits makes alert reasons give prices and quantities in u's units.
func (d *Detectors) SetUnits(u Units) { d.units = u }

func (d *Detectors) priceText(market string, ticks int64) string {
	if d.units != nil {
		return d.units.Price(market, ticks)
	}
	return strconv.FormatInt(ticks, 10) + " ticks"
}

func (d *Detectors) qtyText(market string, lots int64) string {
	if d.units != nil {
		return d.units.Qty(market, lots)
	}
	return strconv.FormatInt(lots, 10) + " lots"
}

// Observe feeds one event (events must come in time order; an event earlier than the last is
// taken as happening at the last one's time) and returns the alerts it completes. The returned
// slice is valid until the next call.
func (d *Detectors) Observe(ev Event) []Alert {
	d.out = d.out[:0]
	if ev.TS.Before(d.now) {
		ev.TS = d.now
	}
	d.now = ev.TS
	if d.nextSweep.IsZero() {
		d.nextSweep = ev.TS.Add(d.cfg.StuffWindow)
		d.nextTTL = ev.TS.Add(d.cfg.OrderTTL / 4)
	}
	d.otr.roll(d, ev.TS)
	if !ev.TS.Before(d.nextSweep) {
		d.sweep(ev.TS)
	}
	switch ev.Kind {
	case KindNew:
		d.onNew(&ev)
		d.message(&ev)
	case KindModify:
		d.onModify(&ev)
		d.message(&ev)
	case KindCancel:
		d.onCancel(&ev)
		if !ev.System {
			d.message(&ev)
		}
	case KindReject:
		d.message(&ev)
	case KindTrade:
		d.onTrade(&ev)
	}
	return d.out
}

// Flush ends the session at now: it closes open quote-stuffing bursts and the ratios of the
// session and returns their alerts, then drops state older than its windows.
func (d *Detectors) Flush(now time.Time) []Alert {
	d.out = d.out[:0]
	if now.Before(d.now) {
		now = d.now
	}
	d.now = now
	d.closeBursts(now, true)
	d.otr.close(d)
	d.sweep(now)
	return d.out
}

func (d *Detectors) emit(a Alert) { d.out = append(d.out, a) }

// sweep expires state whose windows have passed. It runs about once per StuffWindow of event
// time; alerts it completes (ended bursts) come out in account order.
func (d *Detectors) sweep(now time.Time) {
	d.nextSweep = now.Add(d.cfg.StuffWindow)
	d.closeBursts(now, false)
	for k, p := range d.pairs {
		if now.Sub(p.last) > d.cfg.WashWindow {
			delete(d.pairs, k)
		}
	}
	for k, o := range d.owners {
		d.prune(o, now)
		if len(o.recent) == 0 && now.Sub(o.last) > d.recentW {
			delete(d.owners, k)
		}
	}
	if !now.Before(d.nextTTL) {
		d.nextTTL = now.Add(d.cfg.OrderTTL / 4)
		for id, o := range d.orders {
			if now.Sub(o.ts) > d.cfg.OrderTTL {
				o.done = true
				delete(d.orders, id)
			}
		}
	}
}

// prune drops orders from the front of o.recent that are done or older than the placement
// windows.
func (d *Detectors) prune(o *ownerState, now time.Time) {
	i := 0
	for i < len(o.recent) && (now.Sub(o.recent[i].ts) > d.recentW) {
		i++
	}
	if i > 0 {
		n := copy(o.recent, o.recent[i:])
		clear(o.recent[n:])
		o.recent = o.recent[:n]
	}
	if len(o.recent) > 64 && cap(o.recent) > 4*len(o.recent) {
		o.recent = slices.Clip(o.recent)
	}
}

func (d *Detectors) ownerOf(owner, market string) *ownerState {
	k := ownerMarket{owner, market}
	o := d.owners[k]
	if o == nil {
		o = &ownerState{}
		d.owners[k] = o
	}
	return o
}

func (d *Detectors) onNew(ev *Event) {
	if ev.OrderID == "" || ev.Qty <= 0 {
		return
	}
	if prev := d.orders[ev.OrderID]; prev != nil {
		prev.done = true // an id reused after its order was forgotten
	}
	o := &order{
		id: ev.OrderID, account: ev.Account, owner: d.links.Owner(ev.Account), market: ev.Market,
		buy: ev.Side == "buy", price: ev.Price, qty: ev.Qty, remaining: ev.Qty, ts: ev.TS,
	}
	d.spoofCandidate(o, ev)
	d.orders[o.id] = o
	st := d.ownerOf(o.owner, o.market)
	d.prune(st, ev.TS)
	st.recent = append(st.recent, o)
	st.last = ev.TS
}

func (d *Detectors) onModify(ev *Event) {
	o := d.orders[ev.OrderID]
	if o == nil {
		return
	}
	if ev.Price != 0 {
		o.price = ev.Price
	}
	if ev.Qty > 0 {
		o.qty, o.remaining = ev.Qty, ev.Qty
	}
	wasLarge := o.large
	if d.spoofModified(o, ev); o.large && !wasLarge {
		// Grown large: its windows start now, and it must be in the recent list to meet
		// trades (spoofOnTrade ignores the second entry if it is still there).
		o.ts = ev.TS
		st := d.ownerOf(o.owner, o.market)
		st.recent = append(st.recent, o)
		st.last = ev.TS
	}
}

func (d *Detectors) onCancel(ev *Event) {
	o := d.orders[ev.OrderID]
	if o == nil {
		return
	}
	delete(d.orders, ev.OrderID)
	o.done = true
	if ev.System {
		return
	}
	d.spoofOnCancel(o, ev)
	d.layerOnCancel(o, ev)
}

// onTrade updates both orders and runs the detectors that look at trades.
func (d *Detectors) onTrade(ev *Event) {
	makerOwner := d.links.Owner(ev.MakerAccount)
	takerOwner := d.links.Owner(ev.TakerAccount)
	d.lastPrice[ev.Market] = ev.Price
	d.otr.trade(ev)
	if ev.MakerAccount != "" && ev.TakerAccount != "" {
		d.washOnTrade(ev, makerOwner, takerOwner)
	}
	takerBuy := ev.Aggressor == "buy"
	d.ownTrade(ev, makerOwner, !takerBuy, ev.MakerOrderID)
	d.ownTrade(ev, takerOwner, takerBuy, ev.TakerOrderID)
	for _, id := range [2]string{ev.MakerOrderID, ev.TakerOrderID} {
		if o := d.orders[id]; o != nil {
			o.remaining -= ev.Qty
			if o.remaining <= 0 {
				o.done = true
				delete(d.orders, id)
			}
		}
	}
}

// ownTrade is a trade of owner on side buy (through orderID): spoofing and layering look for
// the owner's live orders on the other side.
func (d *Detectors) ownTrade(ev *Event, owner string, buy bool, orderID string) {
	st := d.owners[ownerMarket{owner, ev.Market}]
	if st == nil {
		return
	}
	d.prune(st, ev.TS)
	ref := tradeRef{id: ev.TradeID, orderID: orderID, ts: ev.TS, qty: ev.Qty}
	d.spoofOnTrade(st, buy, ref)
	d.layerOnTrade(st, buy, ref, ev)
}

// capIDs returns ids cut to the alert limit.
func (d *Detectors) capIDs(ids []string) []string {
	if len(ids) > d.cfg.MaxIDsPerAlert {
		return ids[:d.cfg.MaxIDsPerAlert]
	}
	return ids
}

func sideName(buy bool) string {
	if buy {
		return "buy"
	}
	return "sell"
}
