package matching

import (
	"hash/maphash"
	"math/bits"
)

// orderIndex maps an order id to its resting order: open addressing with linear probing over
// 8-byte slots that hold the low 32 bits of the id's hash (which give the home slot too) next to
// the order's index in the book's slab, so a cache line holds eight slots, a probe compares a
// string only when the tags agree and an absent id (every new order's duplicate check) usually
// costs one cache line. Deletion shifts later entries of the probe run back, so a book that
// churns through millions of ids never fills with tombstones and never rehashes; the index
// grows (allocating) only when the book holds more orders than ever before. The hash seed is
// per book: it decides where ids sit, never what the book outputs.
type orderIndex struct {
	slots []orderSlot // power-of-two length (at most 2^32), at most half full
	n     int
	seed  maphash.Seed // draws the keys
	k0    uint64       // secret keys of the id hash, drawn from seed
	k1    uint64
}

func newOrderIndex() orderIndex {
	seed := maphash.MakeSeed()
	return orderIndex{seed: seed, k0: maphash.String(seed, "k0"), k1: maphash.String(seed, "k1")}
}

// orderSlot is one entry: the low 32 bits of the id's hash and the order's index in the slab
// (0: empty; slab entry 0 is never an order).
type orderSlot struct {
	tag uint32
	ord int32
}

// hash returns the hash of an id, with the construction of the Go runtime's portable string
// hash (wyhash: the bytes are read as words and folded by 128-bit multiplications with secret
// keys). Ids of up to 16 bytes, the common case, are read as two overlapping words; a longer
// id is folded 16 bytes at a time and its last 16 bytes read as the two words. The function
// calls nothing, so the compiler gives it no stack frame: a call into hash/maphash (three
// calls, the AES path) cost several times as much.
func (x *orderIndex) hash(id string) uint64 {
	n := len(id)
	var a, b uint64
	switch {
	case n > 16:
		s := x.k0
		for p := id; len(p) > 16; p = p[16:] { // blocks up to the last 16 bytes, which may overlap
			s = mix(le64(p)^x.k1, le64(p[8:])^s)
		}
		a, b = le64(id[n-16:]), le64(id[n-8:])^s
	case n >= 8:
		a, b = le64(id), le64(id[n-8:])
	case n >= 4:
		a, b = le32(id), le32(id[n-4:])
	case n > 0:
		a = uint64(id[0]) | uint64(id[n>>1])<<8 | uint64(id[n-1])<<16
	}
	return mix(0x1d8e4e27c47d124f^uint64(n), mix(a^x.k1, b^x.k0))
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// le64 and le32 read the first 8 or 4 bytes of s (which must be that long) as a little-endian
// word; the compiler turns each into one load.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// init sizes the index for n orders at most 50% full, keeping its entries.
func (x *orderIndex) init(n int) {
	old := x.slots
	x.slots = make([]orderSlot, halfFull(n))
	x.n = 0
	for _, s := range old {
		if s.ord != 0 {
			x.put(s.tag, s.ord)
		}
	}
}

// get returns the index of the order with id, whose hash's low 32 bits are h, and its entry
// in ords, or 0 and nil.
func (x *orderIndex) get(id string, h uint32, ords []order) (int32, *order) {
	slots := x.slots
	mask := uint32(len(slots) - 1)
	for i := h; ; i++ {
		s := slots[i&mask]
		if s.ord == 0 {
			return 0, nil
		}
		if s.tag == h {
			if o := &ords[s.ord]; o.id == id {
				return s.ord, o
			}
		}
	}
}

// homeTaken reports whether the home slot of hash h holds an entry: when it does not, no id of
// that hash is present, which settles nearly every new order's duplicate check (the index is at
// most half full) without the probe loop.
func (x *orderIndex) homeTaken(h uint32) bool {
	return x.slots[h&uint32(len(x.slots)-1)].ord != 0
}

// has reports whether an order with id (hash h) is present.
func (x *orderIndex) has(id string, h uint32, ords []order) bool {
	i, _ := x.get(id, h, ords)
	return i != 0
}

// makeRoom grows the index, if it is half full, so that it can take one more entry.
func (x *orderIndex) makeRoom() {
	if 2*(x.n+1) > len(x.slots) {
		x.init(2 * (x.n + 1))
	}
}

// put adds order o, whose id (hash h) must not be present, to an index with room for it
// (makeRoom). The two are apart so that put, which runs for every resting order, is inlined.
func (x *orderIndex) put(h uint32, o int32) {
	slots := x.slots
	mask := uint32(len(slots) - 1)
	i := h
	for slots[i&mask].ord != 0 {
		i++
	}
	slots[i&mask] = orderSlot{tag: h, ord: o}
	x.n++
}

// del removes order o (hash h), which must be present, shifting later entries of its run back.
func (x *orderIndex) del(h uint32, o int32) {
	slots := x.slots // a local: the stores below cannot change it
	mask := uint32(len(slots) - 1)
	i := h & mask
	for slots[i].ord != o {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; slots[j].ord != 0; j = (j + 1) & mask {
		// The entry at j may move back to the hole at i unless its home lies cyclically in (i, j].
		if home := slots[j].tag & mask; (j-home)&mask >= (j-i)&mask {
			slots[i] = slots[j]
			i = j
		}
	}
	slots[i] = orderSlot{}
	x.n--
}
