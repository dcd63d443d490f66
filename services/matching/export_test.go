package matching

import "fmt"

// CheckInvariants verifies the book's internal structure: each side's levels strictly ordered
// from worst to best, each level's quantity and count equal to its orders', consistent links,
// every order indexed by id and the book not crossed.
func (b *Book) CheckInvariants() error {
	seen := 0
	for _, s := range []*bookSide{&b.bids, &b.asks} {
		i := 0
		var prevKey int64
		if err := s.checkWindow(); err != nil {
			return err
		}
		var best *level
		for l := range s.worstFirst {
			best = l
			if s.get(l.price) != l {
				return fmt.Errorf("%v: level %d not found by price", s.side, l.price)
			}
			if i > 0 && prevKey >= s.key(l.price) {
				return fmt.Errorf("%v levels out of order at %d", s.side, i)
			}
			prevKey = s.key(l.price)
			i++
			var qty int64
			n := 0
			var prev int32
			for oi := l.head; oi != 0; oi = b.ords[oi].next {
				o := &b.ords[oi]
				switch {
				case o.prev != prev:
					return fmt.Errorf("order %s: broken prev link", o.id)
				case o.price != l.price || o.side != s.side:
					return fmt.Errorf("order %s: wrong level", o.id)
				case o.qty <= 0:
					return fmt.Errorf("order %s: open qty %d", o.id, o.qty)
				case func() bool { i, _ := b.orders.get(o.id, uint32(b.orders.hash(o.id)), b.ords); return i != oi }() || o.hash != uint32(b.orders.hash(o.id)):
					return fmt.Errorf("order %s: not indexed", o.id)
				}
				qty += o.qty
				n++
				prev = oi
			}
			if l.tail != prev || l.qty != qty || l.count != n || n == 0 {
				return fmt.Errorf("level %d: qty %d/%d count %d/%d", l.price, l.qty, qty, l.count, n)
			}
			seen += n
		}
		if i != s.count {
			return fmt.Errorf("%v: %d levels, count %d", s.side, i, s.count)
		}
		if s.best() != best {
			return fmt.Errorf("%v: best level %v, the levels' best %v", s.side, s.best(), best)
		}
	}
	if seen != b.orders.n {
		return fmt.Errorf("%d orders in levels, %d indexed", seen, b.orders.n)
	}
	if bid, ok := b.BestBid(); ok {
		if ask, ok := b.BestAsk(); ok && bid.Price >= ask.Price {
			return fmt.Errorf("crossed book: bid %d >= ask %d", bid.Price, ask.Price)
		}
	}
	return nil
}

// QueueIDs returns the ids resting at price on side s in queue order.
func (b *Book) QueueIDs(s Side, price int64) []string {
	l := b.sideOf(s).get(price)
	if l == nil {
		return nil
	}
	var ids []string
	for oi := l.head; oi != 0; oi = b.ords[oi].next {
		ids = append(ids, b.ords[oi].id)
	}
	return ids
}

var windowScans int

// checkWindow verifies a side's two tiers: the window's slots, bitsets, count and best slot,
// the fallback's chunks and index, and that every level is in the tier its price belongs to.
func (s *bookSide) checkWindow() error {
	for _, c := range s.far.chunks {
		if c.n == 0 {
			return fmt.Errorf("%v: empty chunk", s.side)
		}
		for j := 0; j < c.n; j++ {
			if c.keys[j] != s.key(c.lvls[j].price) {
				return fmt.Errorf("%v: chunk key %d for level %d", s.side, c.keys[j], c.lvls[j].price)
			}
			if s.slot(c.lvls[j].price) >= 0 {
				return fmt.Errorf("%v: level %d in the fallback lies inside the window", s.side, c.lvls[j].price)
			}
		}
	}
	if s.far.index.n != s.far.count {
		return fmt.Errorf("%v: %d fallback levels indexed, count %d", s.side, s.far.index.n, s.far.count)
	}
	n, best := 0, -1
	for i := s.worst(); i >= 0; i = s.better(i) {
		l := &s.win[i]
		if l.count == 0 || l.price != s.base+int64(i) {
			return fmt.Errorf("%v: window slot %d has its bit but holds %v", s.side, i, l)
		}
		n++
		best = i
	}
	if n != s.winN || best != s.winBest || n+s.far.count != s.count {
		return fmt.Errorf("%v: window %d levels (counted %d), best slot %d (found %d), fallback %d, count %d", s.side, s.winN, n, s.winBest, best, s.far.count, s.count)
	}
	// The full scan of the window's slots and summary bits is costly: every 256th check.
	if windowScans++; windowScans%256 != 0 {
		return nil
	}
	n, best = 0, -1
	for i := range s.win {
		l := &s.win[i]
		set := s.l0[i>>6]&(1<<(i&63)) != 0
		switch {
		case set != (l.count != 0):
			return fmt.Errorf("%v: window slot %d bit %v, level of %d orders", s.side, i, set, l.count)
		case !set && (l.qty != 0 || l.head != 0 || l.tail != 0):
			return fmt.Errorf("%v: empty window slot %d holds quantity %d or orders %d – %d", s.side, i, l.qty, l.head, l.tail)
		case set && l.price != s.base+int64(i):
			return fmt.Errorf("%v: window slot %d holds level %d", s.side, i, l.price)
		case set:
			n++
			if best < 0 || (s.side == Buy) == (i > best) {
				best = i
			}
		}
	}
	for i, w := range s.l0 {
		if (w != 0) != (s.l1[i>>6]&(1<<(i&63)) != 0) {
			return fmt.Errorf("%v: summary bit of word %d wrong", s.side, i)
		}
	}
	for i, w := range s.l1 {
		if (w != 0) != (s.l2&(1<<i) != 0) {
			return fmt.Errorf("%v: top bit of word %d wrong", s.side, i)
		}
	}
	if n != s.winN || best != s.winBest || n+s.far.count != s.count {
		return fmt.Errorf("%v: window %d levels (counted %d), best slot %d (found %d), fallback %d, count %d", s.side, n, s.winN, best, s.winBest, s.far.count, s.count)
	}
	return nil
}

// Recentres is how often the sides' tick windows moved.
func (b *Book) Recentres() int { return b.bids.recentres + b.asks.recentres }
