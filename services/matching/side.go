package matching

// chunkCap is the number of levels one chunk holds. Inserting or removing a level moves at most
// this many entries, however deep the book.
const chunkCap = 64

// chunk is a sorted run of levels with their keys stored inline, so searching touches one or
// two cache lines per step and never dereferences a level.
type chunk struct {
	n    int
	keys [chunkCap]int64
	lvls [chunkCap]*level
}

// sortedLevels holds price levels in a two-tier sorted array: chunks ordered from worst to
// best, each sorted from worst to best, so the best level is the last entry of the last chunk.
// key orders them: the price for bids, minus the price for asks, so that on both sides a higher
// key is a better price. A bookSide keeps here the levels outside its tick window.
type sortedLevels struct {
	side   Side
	chunks []*chunk
	spare  []*chunk // emptied chunks for reuse
	count  int      // levels
	index  levelIndex
}

func keyOf(side Side, price int64) int64 {
	if side == Buy {
		return price
	}
	return -price
}

func (s *sortedLevels) key(price int64) int64 { return keyOf(s.side, price) }

// best returns the best level, or nil.
func (s *sortedLevels) best() *level {
	if n := len(s.chunks); n > 0 {
		c := s.chunks[n-1]
		return c.lvls[c.n-1]
	}
	return nil
}

// locate returns the index of the chunk that holds or should receive key k (-1 when there are
// no chunks): the first chunk whose last key is >= k, or the last chunk. Activity concentrates
// at the top of the book, so the best chunk is tried first.
func (s *sortedLevels) locate(k int64) int {
	n := len(s.chunks)
	if n == 0 {
		return -1
	}
	if s.chunks[n-1].keys[0] <= k {
		return n - 1
	}
	lo, hi := 0, n-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		c := s.chunks[mid]
		if c.keys[c.n-1] < k {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// index returns the first position in c whose key is >= k.
func (c *chunk) index(k int64) int {
	lo, hi := 0, c.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if c.keys[mid] < k {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// get returns the level at price, or nil.
func (s *sortedLevels) get(price int64) *level { return s.index.get(price) }

func (s *sortedLevels) newChunk() *chunk {
	if n := len(s.spare); n > 0 {
		c := s.spare[n-1]
		s.spare = s.spare[:n-1]
		return c
	}
	return new(chunk)
}

// insert adds level l, whose price must not be present yet.
func (s *sortedLevels) insert(l *level) {
	k := s.key(l.price)
	s.count++
	s.index.put(l)
	ci := s.locate(k)
	if ci < 0 {
		c := s.newChunk()
		c.keys[0], c.lvls[0], c.n = k, l, 1
		s.chunks = append(s.chunks, c)
		return
	}
	c := s.chunks[ci]
	if c.n == chunkCap {
		// Split: the upper half moves to a new chunk right after c.
		nc := s.newChunk()
		half := chunkCap / 2
		nc.n = copy(nc.keys[:], c.keys[half:])
		copy(nc.lvls[:], c.lvls[half:])
		clear(c.lvls[half:])
		c.n = half
		s.chunks = append(s.chunks, nil)
		copy(s.chunks[ci+2:], s.chunks[ci+1:])
		s.chunks[ci+1] = nc
		if k > c.keys[c.n-1] {
			c = nc
		}
	}
	i := c.index(k)
	copy(c.keys[i+1:c.n+1], c.keys[i:c.n])
	copy(c.lvls[i+1:c.n+1], c.lvls[i:c.n])
	c.keys[i], c.lvls[i] = k, l
	c.n++
}

// remove drops the level at price, which must be present.
func (s *sortedLevels) remove(price int64) {
	k := s.key(price)
	ci := s.locate(k)
	c := s.chunks[ci]
	i := c.index(k)
	if i >= c.n || c.keys[i] != k {
		panic("matching: level missing from its side")
	}
	s.count--
	s.index.del(price)
	copy(c.keys[i:c.n-1], c.keys[i+1:c.n])
	copy(c.lvls[i:c.n-1], c.lvls[i+1:c.n])
	c.n--
	c.lvls[c.n] = nil
	if c.n == 0 {
		copy(s.chunks[ci:], s.chunks[ci+1:])
		s.chunks[len(s.chunks)-1] = nil
		s.chunks = s.chunks[:len(s.chunks)-1]
		s.spare = append(s.spare, c)
	}
}

// reserve makes room for n levels without allocating later.
func (s *sortedLevels) reserve(n int) {
	chunks := n/(chunkCap/2) + 2
	if cap(s.chunks) < chunks {
		cs := make([]*chunk, len(s.chunks), chunks)
		copy(cs, s.chunks)
		s.chunks = cs
	}
	if cap(s.spare) < chunks {
		sp := make([]*chunk, len(s.spare), chunks)
		copy(sp, s.spare)
		s.spare = sp
	}
	if 2*n > len(s.index.slots) {
		s.index.init(n)
	}
	for len(s.spare)+len(s.chunks) < chunks {
		s.spare = append(s.spare, new(chunk))
	}
}
