package matchingsvc

import "slices"

// seenChunk is how many remembered ids one chunk of the ring holds.
const seenChunk = 4096

// seenRing is the remembered new-order ids of a partition in arrival order, at most size
// (dedupeWindow) of them, the oldest overwritten first. It is stored in chunks so that a
// snapshot's capture takes the chunks themselves rather than a copy of every id (200,000
// strings): a captured chunk is shared until the partition overwrites one of its ids, and
// only then copied (copy on write). Appending past a chunk's captured length leaves what the
// capture holds intact, so the ring copies nothing until it is full.
type seenRing struct {
	size   int
	chunks [][]string // position i is chunks[i/seenChunk][i%seenChunk]
	owned  []bool     // chunk k is the ring's alone: no capture shares it
	n      int        // ids held
	pos    int        // once full, the position of the oldest id
}

// seenView is a capture of a seenRing: it never changes.
type seenView struct {
	chunks [][]string
	pos    int
}

// add remembers id and returns the id it forgot to make room, if any.
func (r *seenRing) add(id string) (forgot string, full bool) {
	if r.n < r.size {
		k := r.n / seenChunk
		if k == len(r.chunks) {
			r.chunks = append(r.chunks, make([]string, 0, min(seenChunk, r.size-r.n)))
			r.owned = append(r.owned, true)
		}
		r.chunks[k] = append(r.chunks[k], id) // within its capacity: never moves
		r.n++
		return "", false
	}
	k, j := r.pos/seenChunk, r.pos%seenChunk
	if !r.owned[k] {
		r.chunks[k], r.owned[k] = slices.Clone(r.chunks[k]), true
	}
	forgot, r.chunks[k][j] = r.chunks[k][j], id
	r.pos = (r.pos + 1) % r.size
	return forgot, true
}

// capture returns the ring as it is; what the ring remembers afterwards does not change it.
func (r *seenRing) capture() seenView {
	for k := range r.owned {
		r.owned[k] = false
	}
	return seenView{chunks: slices.Clone(r.chunks), pos: r.pos}
}

// ids returns the captured ids oldest first (on the snapshot worker, not the partition's
// goroutine).
func (v seenView) ids() []string {
	n := 0
	for _, c := range v.chunks {
		n += len(c)
	}
	out := make([]string, 0, n)
	for _, c := range v.chunks {
		out = append(out, c...)
	}
	// Full, the oldest id is at pos: rotate it to the front.
	return append(out[v.pos:], out[:v.pos]...)
}
