package matching

// levelIndex maps a price to its level in O(1): open addressing with linear probing over slots
// that hold the price inline (a probe never dereferences a level), Fibonacci hashing, and
// backward-shift deletion, so there are no tombstones and a book that churns through prices
// never rehashes. It grows (allocating) only when the book holds more levels than ever before.
type levelIndex struct {
	slots []levelSlot // power-of-two length
	shift uint        // 64 - log2(len(slots))
	n     int
}

type levelSlot struct {
	price int64
	lvl   *level // nil: empty
}

func (x *levelIndex) home(price int64) int {
	return int((uint64(price) * 0x9E3779B97F4A7C15) >> x.shift)
}

// init sizes the index for n levels at most 50% full.
func (x *levelIndex) init(n int) {
	size := halfFull(n)
	old := x.slots
	x.slots = make([]levelSlot, size)
	x.shift = 64
	for s := size; s > 1; s >>= 1 {
		x.shift--
	}
	x.n = 0
	for _, s := range old {
		if s.lvl != nil {
			x.put(s.lvl)
		}
	}
}

func (x *levelIndex) get(price int64) *level {
	if x.slots == nil {
		return nil
	}
	mask := len(x.slots) - 1
	for i := x.home(price); ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.lvl == nil || s.price == price {
			return s.lvl
		}
	}
}

// put adds l, whose price must not be present.
func (x *levelIndex) put(l *level) {
	if 2*(x.n+1) > len(x.slots) {
		x.init(2 * (x.n + 1))
	}
	mask := len(x.slots) - 1
	i := x.home(l.price)
	for x.slots[i].lvl != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = levelSlot{price: l.price, lvl: l}
	x.n++
}

// del removes price, which must be present, shifting later entries of its probe run back.
func (x *levelIndex) del(price int64) {
	mask := len(x.slots) - 1
	i := x.home(price)
	for x.slots[i].price != price || x.slots[i].lvl == nil {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.slots[j].lvl != nil; j = (j + 1) & mask {
		// The entry at j may move back to the hole at i unless its home lies cyclically in (i, j].
		if h := x.home(x.slots[j].price); (j-h)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = levelSlot{}
	x.n--
}

// halfFull is the power-of-two table size (at least 16) that holds n entries at most 50% full.
func halfFull(n int) int {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	return size
}
