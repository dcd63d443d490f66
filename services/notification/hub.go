// Package notification is the push side of the platform: WebSocket streams of each trader's
// own events (order updates, fills, balances after settlement, risk alerts) and public market
// data (trades, ticker, book diffs a client can rebuild the exact book from).
//
// A Hub holds the streams of one replica. Every message of a stream carries a sequence number
// that increases by one per message, assigned by the hub; the last RingSize messages of each
// stream are kept so a client that reconnects with its last sequence resumes with no gap and
// no duplicate. Sequences belong to the hub's epoch (a random id drawn at start): a resume
// naming another epoch (another replica, or this one before a restart), or a sequence older
// than the ring, is answered with an explicit resync message instead of events.
//
// A Feed turns the engine's executions, the settlements and the risk alerts into stream
// messages; the Server is the WebSocket endpoint (authentication, subscriptions, limits).
package notification

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"time"
)

// Ring sizes and the linger of a private stream nobody watches: the retention window.
const (
	DefaultPublicRing  = 4096
	DefaultPrivateRing = 1024
	DefaultLinger      = 5 * time.Minute
)

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
	epoch       string
	publicRing  int
	privateRing int
	linger      time.Duration
	now         func() time.Time

	mu      sync.Mutex
	streams map[string]*stream
}

// HubOptions size a hub; zero values take the defaults.
type HubOptions struct {
	PublicRing, PrivateRing int
	Linger                  time.Duration
	Epoch                   string           // default: 16 random hex digits
	Now                     func() time.Time // default time.Now
}

// NewHub returns an empty hub.
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
	if o.Epoch == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Epoch = hex.EncodeToString(b[:])
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Hub{epoch: o.Epoch, publicRing: o.PublicRing, privateRing: o.PrivateRing, linger: o.Linger, now: o.Now,
		streams: map[string]*stream{}}
}

// Epoch is the id the hub's sequences belong to.
func (h *Hub) Epoch() string { return h.epoch }

type stream struct {
	name string
	mu   sync.Mutex
	seq  uint64 // last assigned
	ring [][]byte
	head int // index of the oldest entry when full
	subs map[Sink]struct{}
	idle time.Time // when the last subscriber left (zero while watched)
}

func (s *stream) oldest() uint64 { return s.seq - uint64(len(s.ring)) + 1 }

// get returns the frame of sequence seq, which must be within the ring.
func (s *stream) get(seq uint64) []byte {
	i := int(seq - s.oldest())
	if len(s.ring) < cap(s.ring) {
		return s.ring[i]
	}
	return s.ring[(s.head+i)%len(s.ring)]
}

func (s *stream) push(frame []byte) {
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, frame)
		return
	}
	s.ring[s.head] = frame
	s.head = (s.head + 1) % len(s.ring)
}

// Private reports whether a stream name is an account's.
func Private(name string) bool { return len(name) > 8 && name[:8] == "account:" }

func (h *Hub) stream(name string, create bool) *stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.streams[name]
	if s == nil && create {
		n := h.publicRing
		if Private(name) {
			n = h.privateRing
		}
		s = &stream{name: name, ring: make([][]byte, 0, n), subs: map[Sink]struct{}{}, idle: h.now()}
		h.streams[name] = s
	}
	return s
}

// Watched reports whether a stream exists: a private stream exists while someone watches it
// and for the linger after; publishing to a private stream nobody watches is a no-op, so its
// data need not be fetched.
func (h *Hub) Watched(name string) bool { return h.stream(name, !Private(name)) != nil }

// Publish appends one message to a stream: channel names its kind, data is its JSON. Public
// streams are created on first publish; a private stream nobody watches drops it. It returns
// the sequence assigned (0 when dropped).
func (h *Hub) Publish(name, channel string, data []byte) uint64 {
	s := h.stream(name, !Private(name))
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	frame := EventFrame(name, channel, s.seq, data)
	s.push(frame)
	for sub := range s.subs {
		if !sub.Offer(frame) {
			delete(s.subs, sub)
			sub.Overflow()
		}
	}
	if len(s.subs) == 0 && s.idle.IsZero() {
		s.idle = h.now()
	}
	return s.seq
}

// EventFrame is the wire form of one stream message:
// {"type":"event","stream":...,"channel":...,"seq":N,"data":...}.
func EventFrame(name, channel string, seq uint64, data []byte) []byte {
	b := make([]byte, 0, 64+len(name)+len(channel)+len(data))
	b = append(b, `{"type":"event","stream":`...)
	b = strconv.AppendQuote(b, name)
	b = append(b, `,"channel":`...)
	b = strconv.AppendQuote(b, channel)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// Resume is what a subscriber asks for: the epoch and last sequence it saw (Seq 0 and Epoch
// "" for a fresh subscription, which starts with the next message).
type Resume struct {
	Epoch string
	Seq   uint64
}

// Subscribed is the outcome of Subscribe.
type Subscribed struct {
	// Seq is the stream's last sequence at the moment of subscription: live messages start at
	// Seq+1. Replayed is how many earlier messages were queued first (a resume).
	Seq      uint64
	Replayed int
	// Resync is true when a resume could not be served (other epoch, or older than the ring):
	// the client has missed messages and must refetch state; live messages start at Seq+1.
	Resync bool
	// Overflow is true when the replay did not fit the sink's queue (the subscriber was not
	// registered).
	Overflow bool
}

// Subscribe registers sink on a stream. head, when set, builds the frame queued first (the
// subscription's answer, which can say what follows); then, when r names this epoch and the
// messages after r.Seq are still in the ring, those messages. Answer, replay and registration
// happen under the stream's lock, so nothing is missed or delivered twice between them.
func (h *Hub) Subscribe(name string, sink Sink, r Resume, head func(Subscribed) []byte) Subscribed {
	s := h.stream(name, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Subscribed{Seq: s.seq}
	resume := r.Epoch != "" || r.Seq != 0
	switch {
	case !resume:
	case r.Epoch != h.epoch || r.Seq > s.seq || (r.Seq < s.seq && r.Seq+1 < s.oldest()):
		out.Resync = true
	default:
		out.Replayed = int(s.seq - r.Seq)
	}
	if head != nil && !sink.Offer(head(out)) {
		out.Overflow = true
		return out
	}
	for q := s.seq - uint64(out.Replayed) + 1; q <= s.seq; q++ {
		if !sink.Offer(s.get(q)) {
			out.Overflow = true
			return out
		}
	}
	s.subs[sink] = struct{}{}
	s.idle = time.Time{}
	return out
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
	if len(s.subs) == 0 && s.idle.IsZero() {
		s.idle = h.now()
	}
}

// Sweep forgets private streams nobody has watched for the linger; call it periodically.
// It returns how many it removed.
func (h *Hub) Sweep() int {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for name, s := range h.streams {
		if !Private(name) {
			continue
		}
		s.mu.Lock()
		gone := len(s.subs) == 0 && !s.idle.IsZero() && now.Sub(s.idle) >= h.linger
		s.mu.Unlock()
		if gone {
			delete(h.streams, name)
			n++
		}
	}
	return n
}

// Streams is how many streams the hub holds.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}
