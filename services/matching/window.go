package matching

import (
	"math/bits"
	"unsafe"
)

// The tick window of a side is winMin ticks wide when the side first holds a level (so an idle
// or short-lived book costs a few kilobytes) and doubles, up to winMax = 32,768 ticks, each time
// the levels outgrow it; Reserve gives it the full width at once. It is centred on the side's
// best price when it is placed, so a dense ladder and a sparse book whose mid wanders over
// thousands of ticks both stay inside it.
const (
	winMin = 1 << 10
	winMax = 1 << 15
)

// bookSide holds one side's price levels. Prices inside a window of size ticks sit in a
// direct-mapped array of levels (a level per tick, stored in the array itself: an empty slot is
// a zero level but for its price) with a three-level bitset over it, so finding, adding and
// removing a level is a few word operations and touches no other memory, and the next best
// level after the best empties is two or three bit scans away, however sparse the book. Levels
// outside the window go to a sorted fallback (sortedLevels). When most levels have drifted out
// of the window (a crash, a long trend) it is re-centred on the best price and every level
// moves to where it now belongs (orders name their level by price, so they stay).
type bookSide struct {
	side Side

	base    int64    // price of window slot 0 (set when the side gets its first level)
	size    int      // window width in ticks: a power of two in [winMin, winMax]
	win     []level  // size slots, allocated with the first level
	l0      []uint64 // bit per slot
	l1      [winMax >> 12]uint64
	l2      uint64
	winN    int    // levels in the window
	winBest int    // slot of the best level in the window; -1 when it is empty
	bestLvl *level // the best level of the side (window slot or fallback), nil when it has none

	far   sortedLevels
	count int // levels

	recentres int // how often the window moved (for tests)
	// nextRecentre is the fallback's size at which the window may move again: half as many
	// fallback levels again as after the last move, so re-centring costs O(1) amortized.
	nextRecentre int
}

func newBookSide(s Side) bookSide {
	return bookSide{side: s, winBest: -1, far: sortedLevels{side: s}, nextRecentre: 16}
}

func (s *bookSide) key(price int64) int64 { return keyOf(s.side, price) }

// slot returns the window slot of price, or -1 when it lies outside the window. Only a side
// that holds a level has its window placed; an empty side's slots are all empty.
func (s *bookSide) slot(price int64) int {
	if d := uint64(price - s.base); d < uint64(len(s.win)) {
		return int(d)
	}
	return -1
}

// best returns the best level, or nil, in O(1): it is kept up to date by insert and remove, as
// every new order and every match step asks for it.
func (s *bookSide) best() *level { return s.bestLvl }

// findBest finds the best level from the window's best slot and the fallback's best level.
func (s *bookSide) findBest() *level {
	var w *level
	if s.winBest >= 0 {
		w = &s.win[s.winBest]
	}
	if s.far.count == 0 {
		return w
	}
	f := s.far.best()
	if w == nil || s.key(f.price) > s.key(w.price) {
		return f
	}
	return w
}

// get returns the level at price, or nil.
func (s *bookSide) get(price int64) *level {
	if i := s.slot(price); i >= 0 {
		if l := &s.win[i]; l.count > 0 {
			return l
		}
		return nil
	}
	if s.far.count == 0 {
		return nil
	}
	return s.far.get(price)
}

// windowLevel returns the window slot of price, or nil when price lies outside the window. With
// farLevel it finds a resting order's level: the window's slot inline, the fallback's level out
// of line (one function with both would be too large to inline into cancels and modifications).
func (s *bookSide) windowLevel(price int64) *level {
	if d := uint64(price - s.base); d < uint64(len(s.win)) {
		return &s.win[d]
	}
	return nil
}

// farLevel returns the fallback's level at price, which must be present.
//
//go:noinline
func (s *bookSide) farLevel(price int64) *level { return s.far.get(price) }

// insert adds an empty level at price, which must not be present yet, and returns it. A level
// outside the window comes from pool.
func (s *bookSide) insert(price int64, pool *levelPool) *level {
	if s.count == 0 {
		// An empty side places its window around its first level for free.
		if s.win == nil {
			s.allocWindow(winMin)
		}
		s.base = price - int64(s.size/2)
	}
	s.count++
	i := s.slot(price)
	var l *level
	if i >= 0 {
		l = &s.win[i]
	} else {
		l = pool.get()
	}
	l.price = price
	if s.bestLvl == nil || s.key(price) > s.key(s.bestLvl.price) {
		s.bestLvl = l
	}
	if i >= 0 {
		s.put(i)
		return l
	}
	s.far.insert(l)
	if s.far.count >= s.nextRecentre && s.far.count > s.winN {
		s.recentre(min(2*s.size, winMax), pool)
		// The new level (still empty) moved with the others.
		if l := s.windowLevel(price); l != nil {
			return l
		}
		return s.far.get(price)
	}
	return l
}

func (s *bookSide) allocWindow(size int) {
	s.size = size
	s.win = make([]level, size)
	s.l0 = make([]uint64, size>>6)
}

// occupied returns the bit of window slot i, which must be inside the window (i < len(s.win)
// = 64 len(s.l0)), without a bounds check.
func (s *bookSide) occupied(i int) uint64 {
	return *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s.l0)), uintptr(i>>6)*8)) & (1 << (i & 63))
}

// put marks window slot i, whose level is set, as holding a level.
func (s *bookSide) put(i int) {
	s.l0[i>>6] |= 1 << (i & 63)
	s.l1[i>>12] |= 1 << ((i >> 6) & 63)
	s.l2 |= 1 << (i >> 12)
	s.winN++
	if s.winBest < 0 || (s.side == Buy) == (i > s.winBest) {
		s.winBest = i
	}
}

// remove drops empty level l, which must be in the side: a fallback level goes back to pool,
// a window level is its slot, already zero but for its price, so only its bit is cleared. The
// common case, a window level, is handled here in one call: the next best slot is looked for in
// l's own bitset word before the full scan, and the best level is the window's when the
// fallback is empty.
func (s *bookSide) remove(l *level, pool *levelPool) {
	s.count--
	i := s.slot(l.price)
	if i < 0 {
		s.far.remove(l.price)
		pool.put(l)
		if s.bestLvl == l {
			s.bestLvl = s.findBest()
		}
		return
	}
	word := s.l0[i>>6] &^ (1 << (i & 63))
	s.l0[i>>6] = word
	if word == 0 {
		if s.l1[i>>12] &^= 1 << ((i >> 6) & 63); s.l1[i>>12] == 0 {
			s.l2 &^= 1 << (i >> 12)
		}
	}
	s.winN--
	if i != s.winBest {
		return
	}
	switch {
	case s.side == Buy && word&(1<<(i&63)-1) != 0:
		s.winBest = i&^63 | (63 - bits.LeadingZeros64(word&(1<<(i&63)-1)))
	case s.side == Sell && word&(^uint64(0)<<(i&63+1)) != 0:
		s.winBest = i&^63 | bits.TrailingZeros64(word&(^uint64(0)<<(i&63+1)))
	default:
		s.winBest = s.worse(i)
	}
	if s.far.count > 0 {
		s.bestLvl = s.findBest()
	} else if s.winBest >= 0 {
		s.bestLvl = &s.win[s.winBest]
	} else {
		s.bestLvl = nil
	}
}

// below returns the highest occupied slot < i, or -1.
func (s *bookSide) below(i int) int {
	if i <= 0 {
		return -1
	}
	q := i - 1
	if w := s.l0[q>>6] & (^uint64(0) >> (63 - q&63)); w != 0 {
		return q&^63 | (63 - bits.LeadingZeros64(w))
	}
	if q>>6 == 0 {
		return -1
	}
	j := q>>6 - 1 // l0 word
	if w := s.l1[j>>6] & (^uint64(0) >> (63 - j&63)); w != 0 {
		k := j&^63 | (63 - bits.LeadingZeros64(w))
		return k<<6 | (63 - bits.LeadingZeros64(s.l0[k]))
	}
	if j>>6 == 0 {
		return -1
	}
	m := j>>6 - 1 // l1 word
	w := s.l2 & (^uint64(0) >> (63 - m&63))
	if w == 0 {
		return -1
	}
	k1 := 63 - bits.LeadingZeros64(w)
	k0 := k1<<6 | (63 - bits.LeadingZeros64(s.l1[k1]))
	return k0<<6 | (63 - bits.LeadingZeros64(s.l0[k0]))
}

// above returns the lowest occupied slot > i, or -1 (i may be -1).
func (s *bookSide) above(i int) int {
	q := i + 1
	if q >= s.size {
		return -1
	}
	if w := s.l0[q>>6] & (^uint64(0) << (q & 63)); w != 0 {
		return q&^63 | bits.TrailingZeros64(w)
	}
	j := q>>6 + 1 // l0 word
	if j >= s.size>>6 {
		return -1
	}
	if w := s.l1[j>>6] & (^uint64(0) << (j & 63)); w != 0 {
		k := j&^63 | bits.TrailingZeros64(w)
		return k<<6 | bits.TrailingZeros64(s.l0[k])
	}
	m := j>>6 + 1 // l1 word
	if m >= (s.size+4095)>>12 {
		return -1
	}
	w := s.l2 & (^uint64(0) << m)
	if w == 0 {
		return -1
	}
	k1 := bits.TrailingZeros64(w)
	k0 := k1<<6 | bits.TrailingZeros64(s.l1[k1])
	return k0<<6 | bits.TrailingZeros64(s.l0[k0])
}

// worse and better step from window slot i to the next occupied slot in price priority.
func (s *bookSide) worse(i int) int {
	if s.side == Buy {
		return s.below(i)
	}
	return s.above(i)
}

func (s *bookSide) worst() int {
	if s.winN == 0 {
		return -1
	}
	if s.side == Buy {
		return s.above(-1)
	}
	return s.below(s.size)
}

func (s *bookSide) better(i int) int {
	if s.side == Buy {
		return s.above(i)
	}
	return s.below(i)
}

// recentre moves the window, resized to size ticks, so that it is centred on the best price
// and puts every level where it now belongs (copying it; fallback levels come from and go back
// to pool). It costs a pass over the levels, and happens only when more of them lie outside the
// window than in it and the fallback has grown by half since the last move.
func (s *bookSide) recentre(size int, pool *levelPool) {
	s.recentres++
	levels := pool.scratch[:0]
	for l := range s.worstFirst {
		levels = append(levels, *l)
	}
	pool.scratch = levels
	for _, l := range levels {
		if i := s.slot(l.price); i >= 0 {
			s.win[i] = level{}
			s.l0[i>>6] = 0
		}
	}
	s.l1, s.l2, s.winN, s.winBest = [winMax >> 12]uint64{}, 0, 0, -1
	for s.far.count > 0 {
		l := s.far.best()
		s.far.remove(l.price)
		*l = level{}
		pool.put(l)
	}
	if size != s.size {
		s.allocWindow(size)
	}
	s.base = levels[len(levels)-1].price - int64(s.size/2)
	for _, l := range levels {
		if i := s.slot(l.price); i >= 0 {
			s.win[i] = l
			s.put(i)
		} else {
			fl := pool.get()
			*fl = l
			s.far.insert(fl)
		}
	}
	s.bestLvl = s.findBest()
	s.nextRecentre = s.far.count + s.far.count/2 + 16
}

// bestFirst iterates the levels from best to worst: the window's and the fallback's, merged.
func (s *bookSide) bestFirst(yield func(*level) bool) {
	w := s.winBest
	ci := len(s.far.chunks) - 1
	i := -1
	if ci >= 0 {
		i = s.far.chunks[ci].n - 1
	}
	for {
		var wl, fl *level
		if w >= 0 {
			wl = &s.win[w]
		}
		if ci >= 0 {
			fl = s.far.chunks[ci].lvls[i]
		}
		switch {
		case wl == nil && fl == nil:
			return
		case fl == nil || (wl != nil && s.key(wl.price) > s.key(fl.price)):
			if !yield(wl) {
				return
			}
			w = s.worse(w)
		default:
			if !yield(fl) {
				return
			}
			if i--; i < 0 {
				if ci--; ci >= 0 {
					i = s.far.chunks[ci].n - 1
				}
			}
		}
	}
}

// worstFirst iterates the levels from worst to best.
func (s *bookSide) worstFirst(yield func(*level) bool) {
	w := s.worst()
	ci, i := 0, 0
	for {
		var wl, fl *level
		if w >= 0 {
			wl = &s.win[w]
		}
		if ci < len(s.far.chunks) {
			fl = s.far.chunks[ci].lvls[i]
		}
		switch {
		case wl == nil && fl == nil:
			return
		case fl == nil || (wl != nil && s.key(wl.price) < s.key(fl.price)):
			if !yield(wl) {
				return
			}
			w = s.better(w)
		default:
			if !yield(fl) {
				return
			}
			if i++; i == s.far.chunks[ci].n {
				ci, i = ci+1, 0
			}
		}
	}
}

// reserve makes room for n levels without allocating later (fallback levels come from pool).
func (s *bookSide) reserve(n int, pool *levelPool) {
	switch {
	case s.size == winMax:
	case s.count == 0:
		s.allocWindow(winMax)
	default:
		s.recentre(winMax, pool)
	}
	s.far.reserve(min(n, 4096))
}

// levelPool holds the spare levels of the fallbacks (window levels live in their slots): a
// stack, so taking or returning one is a slice operation. It grows only when the fallbacks hold
// more levels than ever before. It also holds the copies of a side's levels while its window
// moves, one side at a time.
type levelPool struct {
	free    []*level
	scratch []level
}

// get returns a zero level.
func (p *levelPool) get() *level {
	if n := len(p.free); n > 0 {
		l := p.free[n-1]
		p.free = p.free[:n-1]
		return l
	}
	return new(level)
}

// put takes back level l, which must be zero but for its price.
func (p *levelPool) put(l *level) { p.free = append(p.free, l) }

// reserve adds n spare levels and room to copy n levels.
func (p *levelPool) reserve(n int) {
	if cap(p.scratch) < n {
		p.scratch = make([]level, 0, n)
	}
	if cap(p.free) < len(p.free)+n {
		free := make([]*level, len(p.free), len(p.free)+n)
		copy(free, p.free)
		p.free = free
	}
	ls := make([]level, n)
	for i := range ls {
		p.free = append(p.free, &ls[i])
	}
}
