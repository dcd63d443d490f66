package matchingsvc

import (
	"sync"
	"sync/atomic"

	"github.com/cantondex/platform/services/matching"
)

// A partition's snapshots are encoded from a replica of its books, not from the books the
// partition's goroutine owns (a journal-based snapshot): after each batch the goroutine hands
// the replica the commands it applied, in order, and when a snapshot is due, the rest of the
// capture (offset, update ids, remembered ids: cheap to take). The replica, on a goroutine of
// Run's, applies the same commands to its own books, so that on reaching a capture its books
// are the partition's at that offset, and encodes them there. The partition's goroutine never
// walks its books to snapshot them, whatever their size.
//
// The replica is seeded from the first snapshot the partition captures itself (with Run
// running), and dropped, falling back to such a capture and a new seed at the next
// snapshot, if it ever lags too far behind: the partition never waits for it.
//
// The price is that every command is matched twice: BenchmarkHandle measures about 0.5 µs of
// CPU per command more (a tenth of the service's), against a pause of milliseconds per
// snapshot on the partition's goroutine for a book of 14,000 orders.

// A replica may lag its partition by replicaQueue hand-overs holding replicaLag commands in
// all (about 25 MB).
const (
	replicaQueue = 1024
	replicaLag   = 200_000
)

// journalEntry is one change a partition made to its books: a book created (def set) or a
// command applied.
type journalEntry struct {
	market string
	def    *matching.Market
	cmd    matching.Command
}

// handover is what a partition passes its replica: the changes of a batch, or a capture
// whose books the replica fills.
type handover struct {
	applied []journalEntry
	snap    *capture
}

type replica struct {
	part   int32
	in     chan handover
	queued atomic.Int64        // commands handed over and not yet applied
	free   chan []journalEntry // journals applied, for the partition to reuse
	done   chan struct{}
	stop   func()
	books  map[string]*matching.Book
	events []matching.Event
	// snapped is each book's encoding in the last capture, reused while its last sequence
	// stays the same.
	snapped map[string]bookBytes
}

// startReplica starts the replica of partition p from the books of capture seed (which the
// snapshot worker may be reading: the replica only reads it). It returns nil when Run is not
// running or stopping.
func (s *Service) startReplica(p int32, seed map[string][]byte) *replica {
	off := s.offloaded()
	if off == nil {
		return nil
	}
	done := make(chan struct{})
	r := &replica{part: p, in: make(chan handover, replicaQueue), free: make(chan []journalEntry, replicaQueue), done: done, stop: sync.OnceFunc(func() { close(done) })}
	off.mu.Lock()
	defer off.mu.Unlock()
	if off.closed {
		return nil
	}
	off.replicas.Go(func() { r.run(off, s, seed) })
	return r
}

func (r *replica) run(off *offload, s *Service, seed map[string][]byte) {
	defer r.stop() // the partition captures its books itself from now on
	r.books = make(map[string]*matching.Book, len(seed))
	r.snapped = make(map[string]bookBytes, len(seed))
	for sym, data := range seed {
		b, err := matching.RestoreBytes(data)
		if err != nil { // cannot happen: the partition encoded it
			s.log().Error("seed the snapshot replica", "partition", r.part, "market", sym, "err", err)
			r.stop()
			return
		}
		r.books[sym] = b
		r.snapped[sym] = bookBytes{seq: b.LastSeq(), data: data}
	}
	for {
		select {
		case h := <-r.in:
			r.apply(off, h)
		case <-r.done:
			return
		case <-off.ctx.Done():
			// Run is stopping: what was handed over still becomes the last capture.
			for {
				select {
				case h := <-r.in:
					r.apply(off, h)
				default:
					return
				}
			}
		}
	}
}

func (r *replica) apply(off *offload, h handover) {
	defer r.queued.Add(-int64(len(h.applied)))
	for _, e := range h.applied {
		if e.def != nil {
			b, err := matching.NewBook(*e.def)
			if err != nil { // cannot happen: the partition created it from the same market
				r.stop()
				return
			}
			r.books[e.market] = b
			continue
		}
		r.events = r.books[e.market].Apply(e.cmd, r.events[:0])
	}
	if h.applied != nil {
		clear(h.applied) // the ids and accounts go with the books, not with a spare journal
		select {
		case r.free <- h.applied[:0]:
		default:
		}
	}
	if h.snap == nil {
		return
	}
	c := *h.snap
	c.books = encodeBooks(r.books, r.snapped)
	select {
	case <-r.done:
		// Dropped meanwhile: the partition captured a later state itself; this one must not
		// replace it in the queue. (A capture that still does is a true state at its offset:
		// a restore from it replays more.)
		return
	default:
	}
	off.fromReplica.Add(1)
	off.snaps.put(r.part, c)
}

// handOver passes the partition's journal, and the capture c when not nil, to its replica. It
// returns false when there is no replica (any more): the caller captures the books itself.
func (part *partition) handOver(c *capture) bool {
	r := part.rep
	if r == nil {
		part.journal = part.journal[:0]
		return false
	}
	if len(part.journal) == 0 && c == nil {
		return true
	}
	select {
	case <-r.done: // it stopped
	default:
		if r.queued.Load()+int64(len(part.journal)) > replicaLag {
			break // it lags: drop it rather than wait
		}
		r.queued.Add(int64(len(part.journal)))
		select {
		case r.in <- handover{applied: part.journal, snap: c}:
			select {
			case part.journal = <-r.free:
			default:
				part.journal = make([]journalEntry, 0, cap(part.journal))
			}
			return true
		default: // it lags: drop it rather than wait
		}
	}
	r.stop()
	part.rep, part.journal = nil, part.journal[:0]
	return false
}

// dropReplica stops the partition's replica, if any.
func (part *partition) dropReplica() {
	if part.rep != nil {
		part.rep.stop()
		part.rep = nil
	}
}
