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
		for _, c := range s.chunks {
			if c.n == 0 {
				return fmt.Errorf("%v: empty chunk", s.side)
			}
			for j := 0; j < c.n; j++ {
				if c.keys[j] != s.key(c.lvls[j].price) {
					return fmt.Errorf("%v: chunk key %d for level %d", s.side, c.keys[j], c.lvls[j].price)
				}
			}
		}
		if s.index.n != s.count {
			return fmt.Errorf("%v: %d levels indexed, count %d", s.side, s.index.n, s.count)
		}
		for l := range s.worstFirst {
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
			var prev *order
			for o := l.head; o != nil; o = o.next {
				switch {
				case o.prev != prev:
					return fmt.Errorf("order %s: broken prev link", o.id)
				case o.lvl != l || o.price != l.price || o.side != s.side:
					return fmt.Errorf("order %s: wrong level", o.id)
				case o.qty <= 0:
					return fmt.Errorf("order %s: open qty %d", o.id, o.qty)
				case b.orders.get(o.id, b.orders.hash(o.id)) != o || o.hash != b.orders.hash(o.id):
					return fmt.Errorf("order %s: not indexed", o.id)
				}
				qty += o.qty
				n++
				prev = o
			}
			if l.tail != prev || l.qty != qty || l.count != n || n == 0 {
				return fmt.Errorf("level %d: qty %d/%d count %d/%d", l.price, l.qty, qty, l.count, n)
			}
			seen += n
		}
		if i != s.count {
			return fmt.Errorf("%v: %d levels, count %d", s.side, i, s.count)
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
	for o := l.head; o != nil; o = o.next {
		ids = append(ids, o.id)
	}
	return ids
}
