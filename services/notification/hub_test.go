package notification_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/notification"
)

// sink is a Sink with a bounded queue, like a connection's.
type sink struct {
	mu        sync.Mutex
	frames    [][]byte
	max       int
	overflows int
}

func (s *sink) Offer(f []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && len(s.frames) >= s.max {
		return false
	}
	s.frames = append(s.frames, f)
	return true
}

func (s *sink) Overflow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.overflows++
}

type frame struct {
	Type   string          `json:"type"`
	Stream string          `json:"stream"`
	Src    string          `json:"src"`
	Seq    uint64          `json:"seq"`
	Prev   uint64          `json:"prev"`
	Data   json.RawMessage `json:"data"`
}

func (s *sink) seqs(t *testing.T) []uint64 {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for _, f := range s.frames {
		var m frame
		require.NoError(t, json.Unmarshal(f, &m), "%s", f)
		if m.Type == "event" {
			out = append(out, m.Seq)
		}
	}
	return out
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for q := from; q <= to; q++ {
		out = append(out, q)
	}
	return out
}

// gaps counts the event frames of s whose prev is after the last seq seen from their source
// (a client's gap check), starting from last.
func (s *sink) gaps(t *testing.T, last map[string]uint64) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	last, n := maps.Clone(last), 0
	for _, f := range s.frames {
		var m frame
		require.NoError(t, json.Unmarshal(f, &m), "%s", f)
		if m.Type != "event" {
			continue
		}
		if m.Prev > last[m.Src] {
			n++
		}
		last[m.Src] = m.Seq
	}
	return n
}

// at is the position of the record at offset of trades/0.
func at(offset int64) notification.Pos {
	return notification.Pos{Src: "trades/0", Seq: notification.Seq(offset, 0)}
}

// offsets lists the offsets (of trades/0) of the event frames s got.
func (s *sink) offsets(t *testing.T) []uint64 {
	t.Helper()
	var out []uint64
	for _, q := range s.seqs(t) {
		out = append(out, q>>20-1)
	}
	return out
}

func started(o notification.HubOptions, first map[string]int64) *notification.Hub {
	h := notification.NewHub(o)
	h.Start(first)
	return h
}

func TestSequencesAndResume(t *testing.T) {
	h := started(notification.HubOptions{PublicRing: 8}, map[string]int64{"trades/0": 100, "trades/1": 0, "alerts/0": 0})
	a := &sink{}
	got := h.Subscribe("book:BTC-USD", a, nil, nil)
	assert.Equal(t, map[string]uint64{"trades/0": notification.Seq(100, 0) - 1, "trades/1": notification.Seq(0, 0) - 1}, got.Seqs,
		"a public stream draws from the trades partitions, each from where the replica started")
	for i := range 20 {
		h.Publish("book:BTC-USD", "book", at(int64(100+i)), []byte(fmt.Sprint(i)))
		h.Advance("trades/0", int64(100+i))
	}
	assert.Equal(t, span(100, 119), a.offsets(t), "every message once, in order, numbered by its record")

	resume := func(offset int64) map[string]uint64 {
		return map[string]uint64{"trades/0": notification.Seq(offset, 0), "trades/1": notification.Seq(0, 0) - 1}
	}
	// A client that saw offset 114 resumes with 115..119, nothing before, nothing twice.
	b := &sink{}
	got = h.Subscribe("book:BTC-USD", b, resume(114), nil)
	assert.False(t, got.Resync, got.Why)
	assert.Equal(t, 5, got.Replayed)
	h.Publish("book:BTC-USD", "book", at(120), []byte("20"))
	assert.Equal(t, span(115, 120), b.offsets(t))

	// Up to date: nothing to replay.
	c := &sink{}
	got = h.Subscribe("book:BTC-USD", c, resume(120), nil)
	assert.False(t, got.Resync)
	assert.Zero(t, got.Replayed)

	// The ring holds 8 (113..120): after 112 is the oldest resumable point, 111 is too old.
	d := &sink{}
	got = h.Subscribe("book:BTC-USD", d, resume(112), nil)
	assert.False(t, got.Resync, got.Why)
	assert.Equal(t, span(113, 120), d.offsets(t))
	for name, r := range map[string]map[string]uint64{
		"too old":        resume(111),
		"source missing": {"trades/0": notification.Seq(118, 0)},
		"unknown source": {"trades/0": notification.Seq(118, 0), "trades/1": 0, "trades/7": 0},
		"private source": {"trades/0": notification.Seq(118, 0), "trades/1": 0, "alerts/0": 0},
	} {
		e := &sink{}
		got = h.Subscribe("book:BTC-USD", e, r, nil)
		assert.True(t, got.Resync, name)
		assert.NotEmpty(t, got.Why, name)
		assert.Equal(t, notification.Seq(120, 0), got.Seqs["trades/0"], "%s: fresh positions", name)
		assert.Empty(t, e.seqs(t), "%s replays nothing", name)
	}
	// A hub that has not started cannot vouch for anything; once started, not for what came
	// before its start, even on a stream a subscription made before.
	h0 := notification.NewHub(notification.HubOptions{})
	got = h0.Subscribe("book:BTC-USD", &sink{}, resume(118), nil)
	assert.True(t, got.Resync)
	h0.Start(map[string]int64{"trades/0": 100, "trades/1": 0})
	got = h0.Subscribe("book:BTC-USD", &sink{}, resume(50), nil)
	assert.True(t, got.Resync)
	got = h0.Subscribe("book:BTC-USD", &sink{}, resume(99), nil)
	assert.True(t, got.Resync, "more of record 99 may follow its first message")
	got = h0.Subscribe("book:BTC-USD", &sink{}, map[string]uint64{"trades/0": notification.Seq(100, 0) - 1, "trades/1": notification.Seq(0, 0) - 1}, nil)
	assert.False(t, got.Resync, "all of 99 seen: 100 is next, where it started")
}

// Two replicas that read the same records number them alike, whenever each started: a client
// moves from one to the other without a gap or a duplicate, even to one that is behind.
func TestResumeOnAnotherReplica(t *testing.T) {
	a := started(notification.HubOptions{}, map[string]int64{"trades/0": 0})
	b := started(notification.HubOptions{}, map[string]int64{"trades/0": 5}) // started later
	publish := func(h *notification.Hub, from, to int64) {
		for o := from; o <= to; o++ {
			h.Publish("trades:BTC-USD", "trades", at(o), []byte(fmt.Sprint(o)))
			h.Publish("trades:BTC-USD", "trades", notification.Pos{Src: "trades/0", Seq: notification.Seq(o, 1)}, []byte(fmt.Sprint(o)))
			h.Advance("trades/0", o)
		}
	}
	onA := &sink{}
	first := a.Subscribe("trades:BTC-USD", onA, nil, nil)
	publish(a, 0, 12)
	publish(b, 5, 9) // b is behind a
	seqs := onA.seqs(t)
	require.Len(t, seqs, 26)
	// The client saw everything up to offset 10's first message.
	last := map[string]uint64{"trades/0": notification.Seq(10, 0)}
	onB := &sink{}
	got := b.Subscribe("trades:BTC-USD", onB, last, nil)
	require.False(t, got.Resync, got.Why)
	publish(b, 10, 13)
	assert.Equal(t, append(seqs[21:], notification.Seq(13, 0), notification.Seq(13, 1)), onB.seqs(t), "b goes on after 10/0, nothing twice")
	assert.Zero(t, onA.gaps(t, first.Seqs), "each message names the one before")
	assert.Zero(t, onB.gaps(t, last))
	assert.Equal(t, 1, onB.gaps(t, map[string]uint64{"trades/0": notification.Seq(9, 1)}), "a client that missed 10/0 sees it")

	// Where b did not read yet (before its start), it says so.
	got = b.Subscribe("trades:BTC-USD", &sink{}, first.Seqs, nil)
	assert.True(t, got.Resync)
	assert.Contains(t, got.Why, "older")
}

func TestHeadFrameComesFirst(t *testing.T) {
	h := started(notification.HubOptions{}, map[string]int64{"trades/0": 0})
	h.Publish("trades:BTC-USD", "trades", at(0), []byte(`{}`))
	h.Publish("trades:BTC-USD", "trades", at(1), []byte(`{}`))
	s := &sink{}
	h.Subscribe("trades:BTC-USD", s, map[string]uint64{"trades/0": notification.Seq(0, 0) - 1}, func(o notification.Subscribed) []byte {
		return []byte(fmt.Sprintf(`{"type":"subscribed","replayed":%d}`, o.Replayed))
	})
	require.Len(t, s.frames, 3)
	assert.JSONEq(t, `{"type":"subscribed","replayed":2}`, string(s.frames[0]))
}

// Private streams are kept on every replica, watched or not, so a client can resume on any;
// a message built later (balances) is built at its first delivery; a stream nobody watched or
// fed for the linger is forgotten, and a resume before that is then refused.
func TestPrivateStreams(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	src := map[string]int64{"trades/0": 0, "settlements/0": 0}
	h := started(notification.HubOptions{Linger: time.Minute, Now: func() time.Time { return now }}, src)
	h.Publish("account:alice", "orders", at(0), []byte(`{"n":0}`))
	assert.False(t, h.Watched("account:alice"))
	rendered := 0
	h.PublishLater("account:alice", "balances", notification.Pos{Src: "settlements/0", Seq: notification.Seq(0, 0)}, func() ([]byte, error) {
		rendered++
		return []byte(`{"n":1}`), nil
	})
	assert.Zero(t, rendered, "not built while nobody watches")
	s := &sink{}
	from := map[string]uint64{"trades/0": notification.Seq(0, 0) - 1, "settlements/0": notification.Seq(0, 0) - 1}
	got := h.Subscribe("account:alice", s, from, nil)
	require.False(t, got.Resync, got.Why)
	assert.Equal(t, 2, got.Replayed)
	assert.Equal(t, 1, rendered)
	assert.True(t, h.Watched("account:alice"))
	h.PublishLater("account:alice", "balances", notification.Pos{Src: "settlements/0", Seq: notification.Seq(1, 0)}, func() ([]byte, error) {
		rendered++
		return []byte(`{"n":2}`), nil
	})
	assert.Equal(t, 2, rendered, "built at once for a watcher")
	require.Len(t, s.frames, 3)
	assert.Contains(t, string(s.frames[2]), `"src":"settlements/0"`)
	h.Unsubscribe("account:alice", s)

	now = now.Add(59 * time.Second)
	assert.Zero(t, h.Sweep())
	now = now.Add(time.Second)
	assert.Equal(t, 1, h.Sweep())
	assert.False(t, h.Watched("account:alice"))
	got = h.Subscribe("account:alice", &sink{}, from, nil)
	assert.True(t, got.Resync, "what was swept cannot be replayed")
}

func TestFullQueueDropsOnlyThatSubscriber(t *testing.T) {
	h := started(notification.HubOptions{}, map[string]int64{"trades/0": 0})
	slow, fast := &sink{max: 3}, &sink{}
	h.Subscribe("book:X-Y", slow, nil, nil)
	h.Subscribe("book:X-Y", fast, nil, nil)
	for i := range 10 {
		h.Publish("book:X-Y", "book", at(int64(i)), []byte(`{}`))
	}
	assert.Equal(t, 1, slow.overflows, "told once")
	assert.Equal(t, span(0, 2), slow.offsets(t))
	assert.Equal(t, span(0, 9), fast.offsets(t), "the others get everything")
}

// Publishers on many streams and subscribers joining and resuming at once: every subscriber
// sees a gapless run of each stream from where it joined (run with -race).
func TestConcurrentPublishAndSubscribe(t *testing.T) {
	srcs := map[string]int64{"trades/0": 0, "trades/1": 0, "trades/2": 0}
	h := started(notification.HubOptions{PublicRing: 1 << 16}, srcs)
	streams := []string{"book:A-B", "book:C-D", "trades:A-B"}
	var wg sync.WaitGroup
	for i, name := range streams {
		src := fmt.Sprint("trades/", i)
		wg.Go(func() {
			for o := range int64(2000) {
				h.Publish(name, "x", notification.Pos{Src: src, Seq: notification.Seq(o, 0)}, []byte(fmt.Sprint(o)))
				h.Advance(src, o)
			}
		})
	}
	type sub struct {
		name string
		s    *sink
		from uint64
	}
	var mu sync.Mutex
	var subs []sub
	for i := range 30 {
		wg.Go(func() {
			name, src := streams[i%len(streams)], fmt.Sprint("trades/", i%len(streams))
			s := &sink{}
			got := h.Subscribe(name, s, nil, nil)
			next := got.Seqs[src] >> 20 // the offset of the first message it gets
			if i%2 == 0 && next > 5 {
				// Leave and resume from a point a little back.
				h.Unsubscribe(name, s)
				s2 := &sink{}
				back := maps.Clone(got.Seqs)
				back[src] = notification.Seq(int64(next-5), 0)
				got2 := h.Subscribe(name, s2, back, nil)
				require.False(t, got2.Resync, got2.Why)
				mu.Lock()
				subs = append(subs, sub{name, s2, next - 4})
				mu.Unlock()
				return
			}
			mu.Lock()
			subs = append(subs, sub{name, s, next})
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, sb := range subs {
		got := sb.s.offsets(t)
		if sb.from >= 2000 {
			assert.Empty(t, got)
			continue
		}
		assert.Equal(t, span(sb.from, 1999), got, "subscriber of %s from %d", sb.name, sb.from)
	}
}

func TestPrivateBudgetForgetsTheStreamsIdleLongest(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	src := map[string]int64{"trades/0": 0}
	// Messages of 1 KB, a budget of 8 KB: about 6 of them with the entries' overhead.
	h := started(notification.HubOptions{PrivateBudget: 8 << 10, Now: func() time.Time { return now }}, src)
	data := []byte(`{"pad":"` + strings.Repeat("x", 1000) + `"}`)
	watched := &sink{}
	got := h.Subscribe("account:watched", watched, nil, nil)
	require.False(t, got.Resync)
	from := got.Seqs
	h.Publish("account:watched", "orders", at(0), data)
	for i := 1; i <= 10; i++ {
		now = now.Add(time.Second)
		h.Publish(fmt.Sprintf("account:a%d", i), "orders", at(int64(i)), data)
	}
	assert.LessOrEqual(t, h.PrivateBytes(), int64(8<<10), "the private streams stay within the budget")
	assert.Less(t, h.Streams(), 11, "some went")
	assert.True(t, h.Watched("account:watched"))
	// The newest unwatched stream is kept, the oldest went and is answered with resync.
	got = h.Subscribe("account:a10", &sink{}, map[string]uint64{"trades/0": notification.Seq(10, 0) - 1}, nil)
	assert.False(t, got.Resync, got.Why)
	assert.Equal(t, 1, got.Replayed)
	got = h.Subscribe("account:a1", &sink{}, map[string]uint64{"trades/0": notification.Seq(1, 0) - 1}, nil)
	assert.True(t, got.Resync, "a forgotten stream cannot be replayed")
	// The watched one, older than all, is never forgotten: it still resumes from its start.
	got = h.Subscribe("account:watched", &sink{}, from, nil)
	assert.False(t, got.Resync, got.Why)
	assert.Equal(t, 1, got.Replayed)
}
