package matching

import "hash/maphash"

// orderIndex maps an order id to its resting order: open addressing with linear probing over
// slots that hold the id's hash next to the order, so a probe compares a string only when the
// hashes agree and an absent id (every new order's duplicate check) usually costs one cache
// line. Deletion shifts later entries of the probe run back, so a book that churns through
// millions of ids never fills with tombstones and never rehashes; the index grows (allocating)
// only when the book holds more orders than ever before. The hash seed is per book: it decides
// where ids sit, never what the book outputs.
type orderIndex struct {
	slots []orderSlot // power-of-two length, at most half full
	n     int
	seed  maphash.Seed
}

type orderSlot struct {
	hash uint64
	o    *order // nil: empty
}

func (x *orderIndex) hash(id string) uint64 { return maphash.String(x.seed, id) }

// init sizes the index for n orders at most 50% full, keeping its entries.
func (x *orderIndex) init(n int) {
	old := x.slots
	x.slots = make([]orderSlot, halfFull(n))
	x.n = 0
	for _, s := range old {
		if s.o != nil {
			x.put(s.hash, s.o)
		}
	}
}

// get returns the order with id, whose hash is h, or nil.
func (x *orderIndex) get(id string, h uint64) *order {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.o == nil || (s.hash == h && s.o.id == id) {
			return s.o
		}
	}
}

// put adds o, whose id (hash h) must not be present.
func (x *orderIndex) put(h uint64, o *order) {
	if 2*(x.n+1) > len(x.slots) {
		x.init(2 * (x.n + 1))
	}
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i].o != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = orderSlot{hash: h, o: o}
	x.n++
}

// del removes o (hash h), which must be present, shifting later entries of its run back.
func (x *orderIndex) del(h uint64, o *order) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i].o != o {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.slots[j].o != nil; j = (j + 1) & mask {
		// The entry at j may move back to the hole at i unless its home lies cyclically in (i, j].
		if home := x.slots[j].hash & mask; (j-home)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = orderSlot{}
	x.n--
}
