package matching

import (
	"math"
	"unsafe"
)

// order is a resting order, an entry of the book's slab (Book.ords) named by its index there;
// index 0 is no order. Orders of one level form a doubly linked FIFO list of indices, so
// linking and unlinking store no pointers (no write-barrier checks), and the order fits in 64
// bytes, one cache line. It names its level by price: a level in the tick window lives in the
// window's slot, and moves when the window does.
type order struct {
	id       string
	account  string
	qty      int64 // open lots
	price    int64 // ticks, its level's
	prev     int32
	next     int32  // also the free list link
	hash     uint32 // low 32 bits of the id's hash, its tag in the book's orderIndex
	side     Side
	stp      STP
	postOnly bool
}

// level is the FIFO queue of orders at one price: 32 bytes, two to a cache line. A level of the
// tick window is stored in the window's slot (an empty slot is a zero level but for its price);
// one outside the window is allocated from the book's pool of spare levels.
type level struct {
	price int64
	qty   int64
	count int
	head  int32 // order indices, 0 when the level is empty
	tail  int32
}

// Book is the order book of one market. It is not safe for concurrent use: one goroutine owns
// it and feeds it commands.
type Book struct {
	market Market
	bids   bookSide
	asks   bookSide
	orders orderIndex
	seq    uint64
	out    []Event // the events of the command being applied (nil between commands)

	// qtySpan and priceSpan are the market's MaxQty-MinQty and MaxPrice-MinPrice, so that
	// plainLimit checks each range with one subtraction and one comparison.
	qtySpan, priceSpan uint64

	// ords is the order slab: entry 0 is never used, so that index 0 means no order. It grows
	// (allocating and copying) only when every entry is taken; Reserve sizes it.
	ords       []order
	freeOrders int32     // linked through next
	spare      levelPool // levels for the sides' fallbacks
}

// NewBook returns an empty book for market m, or an error when m is invalid.
func NewBook(m Market) (*Book, error) {
	m, err := m.normalize()
	if err != nil {
		return nil, err
	}
	b := &Book{
		market:    m,
		qtySpan:   uint64(m.MaxQty - m.MinQty),
		priceSpan: uint64(m.MaxPrice - m.MinPrice),
		bids:      newBookSide(Buy),
		asks:      newBookSide(Sell),
		orders:    newOrderIndex(),
	}
	b.orders.init(512)
	return b, nil
}

// Market returns the book's market, with its defaults filled in. Callers must not modify it.
func (b *Book) Market() *Market { return &b.market }

// LastSeq is the Seq of the last command applied (or of the snapshot restored).
func (b *Book) LastSeq() uint64 { return b.seq }

// Len is the number of resting orders.
func (b *Book) Len() int { return b.orders.n }

// Reserve preallocates room for n resting orders and levels, so that a book that never holds
// more than n orders allocates nothing while it runs.
func (b *Book) Reserve(n int) {
	if n <= 0 {
		return
	}
	b.growOrders(n)
	b.spare.reserve(n)
	if 2*n > len(b.orders.slots) {
		b.orders.init(n)
	}
	b.bids.reserve(n, &b.spare)
	b.asks.reserve(n, &b.spare)
}

// growOrders adds n orders to the slab and its free list. Orders are named by index, so the
// slab may move.
func (b *Book) growOrders(n int) {
	old := len(b.ords)
	if old == 0 {
		old = 1 // entry 0, no order
	}
	if old+n-1 > math.MaxInt32 {
		panic("matching: more than 2^31 resting orders")
	}
	ords := make([]order, old+n)
	copy(ords, b.ords)
	for i := old + n - 1; i >= old; i-- {
		ords[i].next = b.freeOrders
		b.freeOrders = int32(i)
	}
	b.ords = ords
}

// at returns order i of the slab without a bounds check: i comes from a level's queue or the
// order's own links, which name only entries of the slab (CheckInvariants verifies them).
func (b *Book) at(i int32) *order {
	return (*order)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b.ords)), uintptr(i)*unsafe.Sizeof(order{})))
}

// freeOrder clears order i (so that the slab keeps no strings alive) and puts it on the free
// list.
func (b *Book) freeOrder(i int32) {
	b.ords[i] = order{next: b.freeOrders}
	b.freeOrders = i
}

func (b *Book) sideOf(s Side) *bookSide {
	if s == Buy {
		return &b.bids
	}
	return &b.asks
}

// Apply executes one command and appends the events it causes to out, which it returns. Pass
// the previous result resliced to zero length to reuse its memory.
func (b *Book) Apply(c Command, out []Event) []Event {
	b.seq = c.Seq
	b.out = out
	switch c.Op {
	case OpNew:
		b.place(&c)
	case OpCancel:
		b.cancel(&c)
	case OpModify:
		b.modify(&c)
	default:
		b.reject(&c, ReasonMalformed)
	}
	out = b.out
	b.out = nil // the caller's memory is not the book's to keep
	return out
}

// validateNew returns the reason a new order, whose id's tag is h, must be rejected, or "".
func (b *Book) validateNew(c *Command, h uint32) Reason {
	m := &b.market
	switch {
	case c.ID == "" || c.Account == "",
		c.Side != Buy && c.Side != Sell,
		c.Type != Limit && c.Type != MarketOrder,
		c.TIF > FOK, c.STP > STPCancelBoth,
		c.Type == MarketOrder && c.PostOnly:
		return ReasonMalformed
	case c.Qty <= 0:
		return ReasonInvalidQuantity
	case c.Qty < m.MinQty || c.Qty > m.MaxQty:
		return ReasonQtyOutOfRange
	}
	if c.Type == Limit {
		if c.Price <= 0 {
			return ReasonInvalidPrice
		}
		if c.Price < m.MinPrice || c.Price > m.MaxPrice {
			return ReasonPriceOutOfRange
		}
	}
	if b.orders.has(c.ID, h, b.ords) {
		return ReasonDuplicateID
	}
	return ""
}

// plainLimit reports whether c is a limit order that validateNew would accept, leaving out
// only the duplicate-id check. A value below its minimum wraps round to a large unsigned
// difference, so each range is one comparison.
func (b *Book) plainLimit(c *Command) bool {
	m := &b.market
	return c.Type == Limit && c.ID != "" && c.Account != "" && c.Side-Buy <= Sell-Buy && c.TIF <= FOK && c.STP <= STPCancelBoth &&
		uint64(c.Qty-m.MinQty) <= b.qtySpan && uint64(c.Price-m.MinPrice) <= b.priceSpan
}

// crosses reports whether a taker on side s with limit price p (limit orders) may trade with
// a resting level at lp.
func crosses(s Side, market bool, p, lp int64) bool {
	if market {
		return true
	}
	if s == Buy {
		return p >= lp
	}
	return p <= lp
}

func (b *Book) place(c *Command) {
	h := uint32(b.orders.hash(c.ID))
	// A well-formed limit order inside the market's limits whose id is new, the common case,
	// is recognised inline; validateNew works out the reason for anything else.
	if !b.plainLimit(c) || b.orders.homeTaken(h) && b.orders.has(c.ID, h, b.ords) {
		if r := b.validateNew(c, h); r != "" {
			b.reject(c, r)
			return
		}
	}
	isMarket := c.Type == MarketOrder
	price := c.Price
	if isMarket {
		price = 0
	}
	opp := b.sideOf(c.Side.Opposite())
	best := opp.best()
	switch {
	case isMarket && best == nil:
		b.reject(c, ReasonNoLiquidity)
		return
	case c.PostOnly && best != nil && crosses(c.Side, false, price, best.price):
		b.reject(c, ReasonPostOnlyWouldTake)
		return
	case c.TIF == FOK && !b.fillable(c.Side, isMarket, price, c.Qty, c.Account, c.STP):
		b.reject(c, ReasonFOKUnfillable)
		return
	}
	// The accepted event, written here: every new order that passes validation has one.
	e := b.event()
	e.Type, e.Seq, e.ID, e.Account, e.Side = EvAccepted, c.Seq, c.ID, c.Account, c.Side
	e.Price, e.Qty, e.Remaining, e.Reason = price, c.Qty, c.Qty, ""
	e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = "", "", "", "", 0
	if best == nil || !crosses(c.Side, isMarket, price, best.price) {
		// Nothing to trade with (a market order always crosses a side that has a level).
		if c.TIF != GTC {
			b.commandEvent(EvCancelled, c, price, c.Qty, 0, ReasonUnfilled)
			return
		}
		b.rest(c.ID, h, c.Account, c.Side, price, c.Qty, c.STP, c.PostOnly)
		return
	}
	// Field by field: a composite literal would be built in a temporary and copied.
	var t taker
	t.id, t.account, t.side, t.market, t.price, t.qty, t.stp = c.ID, c.Account, c.Side, isMarket, price, c.Qty, c.STP
	b.match(&t, c.Seq)
	switch {
	case t.qty == 0:
	case t.stopped:
		b.commandEvent(EvCancelled, c, price, t.qty, 0, ReasonSelfTrade)
	case isMarket || c.TIF != GTC:
		b.commandEvent(EvCancelled, c, price, t.qty, 0, ReasonUnfilled)
	default:
		b.rest(c.ID, h, c.Account, c.Side, price, t.qty, c.STP, c.PostOnly)
	}
}

// fillable reports whether a FOK taker would fill qty completely, taking its self-trade
// prevention into account.
func (b *Book) fillable(s Side, isMarket bool, price, qty int64, account string, stp STP) bool {
	opp := b.sideOf(s.Opposite())
	// Level totals first: most unfillable FOK orders are found without visiting orders.
	var total int64
	for l := range opp.bestFirst {
		if total >= qty || !crosses(s, isMarket, price, l.price) {
			break
		}
		total += l.qty
	}
	if total < qty {
		return false
	}
	total = 0
	for l := range opp.bestFirst {
		if !crosses(s, isMarket, price, l.price) {
			return false
		}
		for i := l.head; i != 0; {
			o := &b.ords[i]
			i = o.next
			if o.account == account {
				if stp == STPCancelOldest {
					continue
				}
				return false
			}
			if total += o.qty; total >= qty {
				return true
			}
		}
	}
	return false
}

// taker is an order while it matches.
type taker struct {
	id      string
	account string
	side    Side
	market  bool
	price   int64
	qty     int64
	stp     STP
	stopped bool // cancelled by self-trade prevention
}

// match trades t against the opposite side until it is filled, stops crossing or is stopped
// by self-trade prevention.
func (b *Book) match(t *taker, seq uint64) {
	opp := b.sideOf(t.side.Opposite())
	for t.qty > 0 {
		l := opp.best()
		if l == nil {
			return
		}
		if !crosses(t.side, t.market, t.price, l.price) {
			return
		}
		for oi := l.head; oi != 0 && t.qty > 0; {
			o := b.at(oi)
			next := o.next
			if sameAccount(o.account, t.account) {
				if t.stp != STPCancelNewest {
					b.orderEvent(EvCancelled, seq, o, l.price, o.qty, 0, ReasonSelfTrade)
					b.unlink(oi)
				}
				if t.stp != STPCancelOldest {
					t.stopped = true
					break
				}
				oi = next
				continue
			}
			q := min(o.qty, t.qty)
			o.qty -= q
			l.qty -= q
			t.qty -= q
			// The trade event, written here rather than in a helper: this is the one per-trade
			// call the loop would otherwise make for every maker it fills.
			e := b.event()
			e.Type, e.Seq, e.ID, e.Account, e.Side = EvTrade, seq, "", "", t.side
			e.Price, e.Qty, e.Remaining, e.Reason = l.price, q, t.qty, ""
			e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = o.id, t.id, o.account, t.account, o.qty
			if o.qty == 0 {
				// unlink, knowing o is the head of l (each order before it in this pass has left
				// the level) and its quantity, now zero, is already off the level's total.
				l.head = next
				if next != 0 {
					b.at(next).prev = 0
				} else {
					l.tail = 0
				}
				if l.count--; l.count == 0 {
					opp.remove(l, &b.spare)
				}
				b.orders.del(o.hash, oi)
				b.freeOrder(oi)
			}
			oi = next
		}
		if t.stopped {
			return
		}
		// unlink has dropped the level if it emptied; otherwise t is filled and the loop ends.
	}
}

// sameAccount is a == b with the last bytes compared first: nearly every maker a taker meets
// belongs to another account, and account names tend to share a prefix and differ at the end,
// so most comparisons end there without the call into the runtime's memequal.
func sameAccount(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || a[len(a)-1] == b[len(a)-1]) && a == b
}

// rest puts an order (id's tag h) at the back of its price level.
func (b *Book) rest(id string, h uint32, account string, s Side, price, qty int64, stp STP, postOnly bool) {
	if b.freeOrders == 0 {
		b.growOrders(max(256, len(b.ords)))
	}
	oi := b.freeOrders
	o := b.at(oi)
	b.freeOrders = o.next
	// A free order is zero but for next, which enqueue sets with the other links: the fields are
	// stored in place (a composite literal would be built in a temporary and copied).
	o.id, o.account, o.qty, o.side, o.stp, o.postOnly, o.hash = id, account, qty, s, stp, postOnly, h
	b.orders.makeRoom()
	b.orders.put(h, oi)
	b.enqueue(oi, o, price)
}

// enqueue appends order oi (o, the slab's entry) to the tail of the level at price, creating the
// level if needed.
func (b *Book) enqueue(oi int32, o *order, price int64) {
	bs := b.sideOf(o.side)
	var l *level
	if win := bs.win; uint64(price-bs.base) < uint64(len(win)) && bs.count > 0 {
		// A window slot of a side that already holds a level (so its window is placed and it
		// has a best level): the slot is the level.
		i := int(price - bs.base)
		l = &win[i]
		if bs.occupied(i) == 0 {
			// A new level, written whole (field by field: a composite literal is built in a
			// temporary and copied) from the slot's bit rather than read first: in a sparse
			// book the slot is seldom in the cache, and stores do not wait for it.
			l.price, l.qty, l.count, l.head, l.tail = price, o.qty, 1, oi, oi
			o.price, o.prev, o.next = price, 0, 0
			bs.count++
			if bs.key(price) > bs.key(bs.bestLvl.price) {
				bs.bestLvl = l
			}
			bs.put(i)
			return
		}
	} else {
		if bs.far.count > 0 {
			l = bs.far.get(price)
		}
		if l == nil {
			l = bs.insert(price, &b.spare)
		}
	}
	o.price = price
	o.prev = l.tail
	o.next = 0
	if l.tail != 0 {
		b.at(l.tail).next = oi
	} else {
		l.head = oi
	}
	l.tail = oi
	l.qty += o.qty
	l.count++
}

// pop takes order oi (o, the slab's entry) out of its level l's queue and totals; the level may
// be left empty.
func (b *Book) pop(oi int32, o *order, l *level) {
	if o.prev != 0 {
		b.at(o.prev).next = o.next
	} else {
		l.head = o.next
	}
	if o.next != 0 {
		b.at(o.next).prev = o.prev
	} else {
		l.tail = o.prev
	}
	l.qty -= o.qty
	l.count--
}

// unlink removes order oi from the book entirely and recycles it.
func (b *Book) unlink(oi int32) {
	o := b.at(oi)
	bs := b.sideOf(o.side)
	l := bs.windowLevel(o.price)
	if l == nil {
		l = bs.farLevel(o.price)
	}
	b.pop(oi, o, l)
	if l.count == 0 {
		bs.remove(l, &b.spare)
	}
	b.orders.del(o.hash, oi)
	b.freeOrder(oi)
}

func (b *Book) cancel(c *Command) {
	oi, o := b.orders.get(c.ID, uint32(b.orders.hash(c.ID)), b.ords)
	if oi == 0 {
		b.reject(c, ReasonUnknownOrder)
		return
	}
	e := b.event() // written here, as place writes its accepted event
	e.Type, e.Seq, e.ID, e.Account, e.Side = EvCancelled, c.Seq, o.id, o.account, o.side
	e.Price, e.Qty, e.Remaining, e.Reason = o.price, o.qty, 0, ReasonUserCancel
	e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = "", "", "", "", 0
	b.unlink(oi)
}

func (b *Book) modify(c *Command) {
	oi, o := b.orders.get(c.ID, uint32(b.orders.hash(c.ID)), b.ords)
	if oi == 0 {
		b.reject(c, ReasonUnknownOrder)
		return
	}
	m := &b.market
	oldPrice := o.price
	price, qty := c.Price, c.Qty
	switch {
	case price == 0:
		price = oldPrice
	case price < 0:
		b.reject(c, ReasonInvalidPrice)
		return
	case price < m.MinPrice || price > m.MaxPrice:
		b.reject(c, ReasonPriceOutOfRange)
		return
	}
	switch {
	case qty == 0:
		qty = o.qty
	case qty < 0:
		b.reject(c, ReasonInvalidQuantity)
		return
	case qty < m.MinQty || qty > m.MaxQty:
		b.reject(c, ReasonQtyOutOfRange)
		return
	}
	opp := b.sideOf(o.side.Opposite())
	best := opp.best()
	wouldCross := best != nil && crosses(o.side, false, price, best.price)
	if o.postOnly && wouldCross {
		b.reject(c, ReasonPostOnlyWouldTake)
		return
	}
	e := b.event() // written here, as place writes its accepted event
	e.Type, e.Seq, e.ID, e.Account, e.Side = EvModified, c.Seq, o.id, o.account, o.side
	e.Price, e.Qty, e.Remaining, e.Reason = price, qty, qty, ""
	e.MakerID, e.TakerID, e.MakerAccount, e.TakerAccount, e.MakerRemaining = "", "", "", "", 0
	bs := b.sideOf(o.side)
	l := bs.windowLevel(oldPrice)
	if l == nil {
		l = bs.farLevel(oldPrice)
	}
	if price == oldPrice && qty <= o.qty {
		// A reduction keeps the queue place.
		l.qty -= o.qty - qty
		o.qty = qty
		return
	}
	// Out of its level (dropping the level when it empties): the order's links are set again
	// by enqueue, or cleared when it is recycled.
	b.pop(oi, o, l)
	if l.count == 0 {
		bs.remove(l, &b.spare)
	}
	o.qty = qty
	if wouldCross {
		var t taker
		t.id, t.account, t.side, t.price, t.qty, t.stp = o.id, o.account, o.side, price, qty, o.stp
		b.match(&t, c.Seq)
		if t.qty == 0 || t.stopped {
			if t.stopped {
				b.orderEvent(EvCancelled, c.Seq, o, price, t.qty, 0, ReasonSelfTrade)
			}
			b.orders.del(o.hash, oi)
			b.freeOrder(oi)
			return
		}
		o.qty = t.qty
	}
	b.enqueue(oi, o, price)
}

// BestBid returns the best bid level; ok is false when there are no bids.
func (b *Book) BestBid() (l Level, ok bool) { return b.bids.top() }

// BestAsk returns the best ask level; ok is false when there are no asks.
func (b *Book) BestAsk() (l Level, ok bool) { return b.asks.top() }

func (s *bookSide) top() (Level, bool) {
	l := s.best()
	if l == nil {
		return Level{}, false
	}
	return Level{Price: l.price, Qty: l.qty, Orders: l.count}, true
}

// QtyAt returns the open quantity resting on side s at price.
func (b *Book) QtyAt(s Side, price int64) int64 {
	if l := b.sideOf(s).get(price); l != nil {
		return l.qty
	}
	return 0
}

// Depth appends up to n levels of side s, best first, to dst (n <= 0: all levels).
func (b *Book) Depth(s Side, n int, dst []Level) []Level {
	i := 0
	for l := range b.sideOf(s).bestFirst {
		if n > 0 && i == n {
			break
		}
		dst = append(dst, Level{Price: l.price, Qty: l.qty, Orders: l.count})
		i++
	}
	return dst
}

// Order returns the state of the resting order id.
func (b *Book) Order(id string) (OrderState, bool) {
	_, o := b.orders.get(id, uint32(b.orders.hash(id)), b.ords)
	if o == nil {
		return OrderState{}, false
	}
	return OrderState{ID: o.id, Account: o.account, Side: o.side, Price: o.price, Qty: o.qty, PostOnly: o.postOnly, STP: o.stp}, true
}
