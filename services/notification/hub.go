// Package notification is the push side of the platform: WebSocket streams of each trader's
// own events (order updates, fills, balances after settlement, risk alerts) and public market
// data (trades, ticker, book diffs a client can rebuild the exact book from).
//
// A Hub holds the streams of one replica. Every message of a stream has a position in the
// event log that every replica derives the same way: its source, the Kafka partition of the
// record it came from ("trades/3"), and its seq there, Seq(offset, k) for the k-th message
// the record yields. A client keeps, per source, the last seq it saw (the subscription's
// answer gives the starting point of every source); a resume with those positions, on any
// replica, replays exactly the messages after them, or is answered with an explicit resync
// when the replica does not hold them all (it started later, or they left its ring).
//
// A Feed turns the engine's executions, the settlements and the risk alerts into stream
// messages; the Server is the WebSocket endpoint (authentication, subscriptions, limits).
package notification

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Ring sizes, the linger of a private stream nobody watches and the bytes the private streams
// of one replica may hold: the retention window.
const (
	DefaultPublicRing    = 4096
	DefaultPrivateRing   = 1024
	DefaultLinger        = 5 * time.Minute
	DefaultPrivateBudget = 64 << 20
)

// entryOverhead is what an entry holds besides its frame, roughly (for the budget).
const entryOverhead = 128

// indexBits is how many low bits of a seq number the message within its record.
const indexBits = 20

// MaxPerRecord is how many messages one record may yield (the k of Seq).
const MaxPerRecord = 1 << indexBits

// Seq is the seq of the k-th message (k < MaxPerRecord) the record at offset yields:
// (offset+1)·2^20 + k. Within a source, seqs increase in log order; none is below 2^20, so
// "the seq before the first record" is a seq too.
func Seq(offset int64, k int) uint64 { return uint64(offset+1)<<indexBits | uint64(k) }

// Source names a Kafka partition as messages carry it: "<topic>/<partition>".
func Source(topic string, partition int32) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10)
}

// Pos is a message's position: its source and its seq there; Time, when set, is the log
// time of its record (the Kafka timestamp: when the engine or the settlement coordinator
// produced it, in milliseconds), sent as ts.
type Pos struct {
	Src  string
	Seq  uint64
	Time time.Time
}

// Sink is where a stream delivers: one connection's bounded send queue. Offer must not
// block; false means the queue is full and the subscriber is dropped from every stream.
type Sink interface {
	Offer(frame []byte) bool
	// Overflow is called (once per stream) when Offer returned false, with the stream lock
	// held: it must not block either.
	Overflow()
}

// Hub holds the streams of one replica. It is safe for concurrent use.
type Hub struct {
	publicRing  int
	privateRing int
	linger      time.Duration
	budget      int64
	now         func() time.Time
	// publicTopics are the topics public streams draw from (private streams draw from all).
	publicTopics []string

	// sources is set once by Start: the partitions the replica reads and from where.
	sources atomic.Pointer[map[string]*source]

	mu      sync.Mutex
	streams map[string]*stream

	// held is the bytes the private streams' rings hold; over budget, the unwatched ones
	// idle longest are forgotten (evicting: one pass at a time).
	held     atomic.Int64
	evicting sync.Mutex
}

// source is one partition the replica reads.
type source struct {
	start uint64        // Seq(first offset read, 0): the replica holds nothing before
	next  atomic.Uint64 // Seq(offset after the last record handled, 0)
	// lost is the seq after the newest message of a swept stream: a stream created again
	// cannot vouch for anything before it.
	lost atomic.Uint64
}

// HubOptions size a hub; zero values take the defaults.
type HubOptions struct {
	PublicRing, PrivateRing int
	Linger                  time.Duration
	// PrivateBudget bounds the bytes the private streams hold (default 64 MiB): the
	// unwatched streams idle longest are forgotten first when it is exceeded.
	PrivateBudget int64
	Now           func() time.Time // default time.Now
	// PublicTopics are the topics public streams draw from; default "trades".
	PublicTopics []string
}

// NewHub returns an empty hub. It serves no resume until Start names its sources.
func NewHub(o HubOptions) *Hub {
	if o.PublicRing <= 0 {
		o.PublicRing = DefaultPublicRing
	}
	if o.PrivateRing <= 0 {
		o.PrivateRing = DefaultPrivateRing
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
	}
	if o.PrivateBudget <= 0 {
		o.PrivateBudget = DefaultPrivateBudget
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PublicTopics == nil {
		o.PublicTopics = []string{"trades"}
	}
	return &Hub{publicRing: o.PublicRing, privateRing: o.PrivateRing, linger: o.Linger, budget: o.PrivateBudget, now: o.Now,
		publicTopics: o.PublicTopics, streams: map[string]*stream{}}
}

// Start tells the hub the partitions it reads, each with the first offset read (the replica
// has every record of the partition from there on). Call it once, before the first Publish.
func (h *Hub) Start(first map[string]int64) {
	m := make(map[string]*source, len(first))
	for src, off := range first {
		s := &source{start: Seq(off, 0)}
		s.next.Store(s.start)
		m[src] = s
	}
	h.sources.Store(&m)
}

// Advance records that the record at offset of src is handled: every message it yields is
// published.
func (h *Hub) Advance(src string, offset int64) {
	if s := h.source(src); s != nil {
		s.next.Store(Seq(offset+1, 0))
	}
}

func (h *Hub) source(src string) *source {
	m := h.sources.Load()
	if m == nil {
		return nil
	}
	return (*m)[src]
}

type entry struct {
	src       string
	seq, prev uint64
	ts        time.Time
	channel   string
	frame     []byte
	// render builds the data when it is first needed (a balances message of an account
	// nobody watched when it was published: its balances are read when it is delivered).
	render func() ([]byte, error)
}

// build makes e's frame from its data, rendering it first if needed.
func (s *stream) build(e *entry, data []byte) error {
	if err := e.build(s.name, data); err != nil {
		return err
	}
	s.account(int64(len(e.frame)))
	return nil
}

func (e *entry) build(name string, data []byte) error {
	if data == nil {
		var err error
		if data, err = e.render(); err != nil {
			return err
		}
	}
	e.frame, e.render = EventFrame(name, e.channel, Pos{e.src, e.seq, e.ts}, e.prev, data), nil
	return nil
}

type stream struct {
	name string
	size int
	mu   sync.Mutex
	ring []entry
	head int // index of the oldest entry when full
	// floor[src]: every message of the stream from src at or after it is in the ring.
	floor map[string]uint64
	// last[src]: the seq of the stream's newest message from src.
	last map[string]uint64
	// subs are the subscribers, each with the positions below which it must not get a live
	// message (it had them before it resumed here; nil for a fresh subscription).
	subs map[Sink]map[string]uint64
	idle time.Time // when the stream was last published to or left, while nobody watches
	// bytes is what the ring holds, counted in held too (a private stream; nil otherwise).
	bytes int64
	held  *atomic.Int64
	gone  bool // forgotten (Sweep, evict): whoever holds it takes the hub's stream again
}

func (s *stream) account(delta int64) {
	if s.held != nil {
		s.bytes += delta
		s.held.Add(delta)
	}
}

func (s *stream) push(e entry) {
	s.account(entryOverhead + int64(len(e.frame)))
	if len(s.ring) < s.size {
		s.ring = append(s.ring, e)
		return
	}
	old := s.ring[s.head]
	s.account(-entryOverhead - int64(len(old.frame)))
	s.floor[old.src] = max(s.floor[old.src], old.seq+1)
	s.ring[s.head] = e
	s.head = (s.head + 1) % len(s.ring)
}

// each calls f on the ring's entries, oldest first, until it returns false.
func (s *stream) each(f func(e *entry) bool) {
	for i := range s.ring {
		if !f(&s.ring[(s.head+i)%len(s.ring)]) {
			return
		}
	}
}

// Private reports whether a stream name is an account's.
func Private(name string) bool { return strings.HasPrefix(name, "account:") && len(name) > 8 }

// drawsFrom reports whether stream name has messages from src.
func (h *Hub) drawsFrom(name, src string) bool {
	if Private(name) {
		return true
	}
	for _, t := range h.publicTopics {
		if strings.HasPrefix(src, t+"/") {
			return true
		}
	}
	return false
}

func (h *Hub) stream(name string, create bool) *stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.streams[name]
	if s == nil && create {
		n, held := h.publicRing, (*atomic.Int64)(nil)
		if Private(name) {
			n, held = h.privateRing, &h.held
		}
		s = &stream{name: name, size: n, floor: map[string]uint64{}, last: map[string]uint64{},
			subs: map[Sink]map[string]uint64{}, idle: h.now(), held: held}
		if m := h.sources.Load(); m != nil {
			for src, so := range *m {
				if h.drawsFrom(name, src) {
					s.floor[src] = max(so.start, so.lost.Load())
				}
			}
		}
		h.streams[name] = s
	}
	return s
}

// Watched reports whether someone watches a stream now.
func (h *Hub) Watched(name string) bool {
	s := h.stream(name, false)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs) > 0
}

// Publish appends one message at p to a stream (created on first publish): channel names its
// kind, data is its JSON. Messages of one source must come in seq order.
func (h *Hub) Publish(name, channel string, p Pos, data []byte) {
	h.publish(name, entry{src: p.Src, seq: p.Seq, ts: p.Time, channel: channel}, data)
}

// PublishLater appends a message whose data is built when it is first delivered; data may
// read the state of the moment (it is called with the stream locked).
func (h *Hub) PublishLater(name, channel string, p Pos, data func() ([]byte, error)) {
	h.publish(name, entry{src: p.Src, seq: p.Seq, ts: p.Time, channel: channel, render: data}, nil)
}

// locked returns the stream of name, created if need be, with its lock held: never one
// forgotten meanwhile.
func (h *Hub) locked(name string) *stream {
	for {
		s := h.stream(name, true)
		s.mu.Lock()
		if !s.gone {
			return s
		}
		s.mu.Unlock()
	}
}

func (h *Hub) publish(name string, e entry, data []byte) {
	h.append(name, e, data)
	if h.held.Load() > h.budget {
		h.evict()
	}
}

func (h *Hub) append(name string, e entry, data []byte) {
	s := h.locked(name)
	defer s.mu.Unlock()
	last, ok := s.last[e.src]
	if ok && e.seq <= last {
		return // a record handled twice: its messages are there
	}
	if !ok {
		// Nothing of src since floor: the replica vouches for no message in between.
		last = max(s.floor[e.src], 1) - 1
	}
	e.prev = last
	if data != nil || len(s.subs) > 0 {
		if err := s.build(&e, data); err != nil {
			// Nobody gets a frame that could not be built: its subscribers start over.
			for sub := range s.subs {
				delete(s.subs, sub)
				sub.Overflow()
			}
		}
	}
	s.push(e)
	s.last[e.src] = e.seq
	for sub, from := range s.subs {
		if from != nil && e.seq < from[e.src] {
			continue // it had this one
		}
		if !sub.Offer(e.frame) {
			delete(s.subs, sub)
			sub.Overflow()
		}
	}
	if len(s.subs) == 0 {
		s.idle = h.now()
	}
}

// EventFrame is the wire form of one stream message:
// {"type":"event","stream":...,"channel":...,"src":...,"seq":N,"prev":P,"ts":T,"data":...}
// (ts, the record's log time in Unix milliseconds, only when known).
// prev is the seq of the stream's previous message from src, or a seq before which this
// replica vouches there is none since: a client whose last seq from src is below prev has
// missed messages.
func EventFrame(name, channel string, p Pos, prev uint64, data []byte) []byte {
	b := make([]byte, 0, 96+len(name)+len(channel)+len(p.Src)+len(data))
	b = append(b, `{"type":"event","stream":`...)
	b = strconv.AppendQuote(b, name)
	b = append(b, `,"channel":`...)
	b = strconv.AppendQuote(b, channel)
	b = append(b, `,"src":`...)
	b = strconv.AppendQuote(b, p.Src)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, p.Seq, 10)
	b = append(b, `,"prev":`...)
	b = strconv.AppendUint(b, prev, 10)
	if !p.Time.IsZero() {
		b = append(b, `,"ts":`...)
		b = strconv.AppendInt(b, p.Time.UnixMilli(), 10)
	}
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// Subscribed is the outcome of Subscribe.
type Subscribed struct {
	// Seqs is, per source of the stream, the last seq the subscriber has (what it resumed
	// from, or for a fresh subscription the position it starts at): the positions to resume
	// from if it receives nothing more.
	Seqs map[string]uint64
	// Replayed is how many earlier messages were queued first (a resume).
	Replayed int
	// Resync is true when a resume could not be served (the replica does not hold every
	// message after the positions): the client has missed messages and must refetch state;
	// live messages follow, and Seqs are fresh positions.
	Resync bool
	// Why says why a resume was not served.
	Why string
	// Overflow is true when the replay did not fit the sink's queue (the subscriber was not
	// registered).
	Overflow bool
}

// Subscribe registers sink on a stream. resume, when not nil, is the last seq the subscriber
// saw per source; the messages after them are queued first when the replica holds them all.
// head, when set, builds the frame queued before anything (the subscription's answer).
// Answer, replay and registration happen under the stream's lock, so nothing is missed or
// delivered twice between them.
func (h *Hub) Subscribe(name string, sink Sink, resume map[string]uint64, head func(Subscribed) []byte) Subscribed {
	s := h.locked(name)
	defer s.mu.Unlock()
	var out Subscribed
	var replay []*entry
	if resume != nil {
		var err error
		if replay, err = h.replay(s, resume); err != nil {
			out.Resync, out.Why = true, err.Error()
		} else {
			out.Seqs, out.Replayed = resume, len(replay)
		}
	}
	if out.Seqs == nil {
		out.Seqs = h.position(s)
	}
	if head != nil && !sink.Offer(head(out)) {
		out.Overflow = true
		return out
	}
	for _, e := range replay {
		if !sink.Offer(e.frame) {
			out.Overflow = true
			return out
		}
	}
	var from map[string]uint64
	if !out.Resync && resume != nil {
		from = make(map[string]uint64, len(resume))
		for src, q := range resume {
			from[src] = q + 1
		}
	}
	s.subs[sink] = from
	return out
}

// position is where a fresh subscriber of s starts, per source: after the stream's newest
// message and after the last record the replica handled.
func (h *Hub) position(s *stream) map[string]uint64 {
	out := map[string]uint64{}
	if m := h.sources.Load(); m != nil {
		for src, so := range *m {
			if h.drawsFrom(s.name, src) {
				out[src] = max(so.next.Load()-1, s.last[src])
			}
		}
	}
	return out
}

// replay returns the entries after the positions of resume, every frame built, or why the
// replica cannot vouch for them all.
func (h *Hub) replay(s *stream, resume map[string]uint64) ([]*entry, error) {
	m := h.sources.Load()
	if m == nil {
		return nil, fmt.Errorf("this replica is starting")
	}
	for src := range *m {
		if !h.drawsFrom(s.name, src) {
			continue
		}
		q, ok := resume[src]
		switch {
		case !ok:
			return nil, fmt.Errorf("no position for %s", src)
		case q+1 < max(s.floor[src], (*m)[src].start):
			return nil, fmt.Errorf("%s: seq %d is older than this replica holds", src, q)
		}
	}
	for src := range resume {
		if (*m)[src] == nil || !h.drawsFrom(s.name, src) {
			return nil, fmt.Errorf("unknown source %s", src)
		}
	}
	var out []*entry
	var err error
	s.each(func(e *entry) bool {
		if e.seq <= resume[e.src] {
			return true
		}
		if e.frame == nil {
			if err = s.build(e, nil); err != nil {
				err = fmt.Errorf("a message could not be rebuilt")
				return false
			}
		}
		out = append(out, e)
		return true
	})
	return out, err
}

// Unsubscribe removes sink from a stream.
func (h *Hub) Unsubscribe(name string, sink Sink) {
	s := h.stream(name, false)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, sink)
	if len(s.subs) == 0 {
		s.idle = h.now()
	}
}

// Sweep forgets private streams nobody has watched or published to for the linger; call it
// periodically. It returns how many it removed.
func (h *Hub) Sweep() int {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for name, s := range h.streams {
		if Private(name) && h.forget(s, func(s *stream) bool { return now.Sub(s.idle) >= h.linger }) {
			n++
		}
	}
	return n
}

// evict forgets the unwatched private streams idle longest until the private streams hold
// at most 7/8 of the budget (room before the next pass). A stream forgotten is answered
// with resync, as one swept.
func (h *Hub) evict() {
	if !h.evicting.TryLock() {
		return // a pass is on
	}
	defer h.evicting.Unlock()
	type cand struct {
		s    *stream
		idle time.Time
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var cands []cand
	for name, s := range h.streams {
		if !Private(name) {
			continue
		}
		s.mu.Lock()
		if len(s.subs) == 0 {
			cands = append(cands, cand{s, s.idle})
		}
		s.mu.Unlock()
	}
	slices.SortFunc(cands, func(a, b cand) int { return a.idle.Compare(b.idle) })
	for _, c := range cands {
		if h.held.Load() <= h.budget/8*7 {
			return
		}
		h.forget(c.s, func(*stream) bool { return true })
	}
}

// forget removes private stream s, under h.mu, when nobody watches it and gone says so: a
// stream created again cannot vouch for anything up to its newest message (the sources'
// lost). It reports whether s went.
func (h *Hub) forget(s *stream, gone func(*stream) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.subs) > 0 || !gone(s) {
		return false
	}
	for src, q := range s.last {
		if so := h.source(src); so != nil {
			for {
				old := so.lost.Load()
				if old > q || so.lost.CompareAndSwap(old, q+1) {
					break
				}
			}
		}
	}
	s.account(-s.bytes)
	s.gone = true
	delete(h.streams, s.name)
	return true
}

// PrivateBytes is roughly what the private streams' rings hold.
func (h *Hub) PrivateBytes() int64 { return h.held.Load() }

// Streams is how many streams the hub holds.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}
