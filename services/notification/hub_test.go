package notification_test

import (
	"encoding/json"
	"fmt"
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
	Seq    uint64          `json:"seq"`
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

func TestSequencesAndResume(t *testing.T) {
	h := notification.NewHub(notification.HubOptions{PublicRing: 8, Epoch: "e1"})
	a := &sink{}
	got := h.Subscribe("book:BTC-USD", a, notification.Resume{}, nil)
	assert.Equal(t, uint64(0), got.Seq)
	for i := range 20 {
		assert.Equal(t, uint64(i+1), h.Publish("book:BTC-USD", "book", []byte(fmt.Sprint(i))))
	}
	assert.Equal(t, span(1, 20), a.seqs(t), "every message once, in order, numbered by one")

	// A client that saw 15 resumes with 16..20, nothing before, nothing twice.
	b := &sink{}
	got = h.Subscribe("book:BTC-USD", b, notification.Resume{Epoch: "e1", Seq: 15}, nil)
	assert.False(t, got.Resync)
	assert.Equal(t, 5, got.Replayed)
	h.Publish("book:BTC-USD", "book", []byte("21"))
	assert.Equal(t, span(16, 21), b.seqs(t))

	// Up to date: nothing to replay.
	c := &sink{}
	got = h.Subscribe("book:BTC-USD", c, notification.Resume{Epoch: "e1", Seq: 21}, nil)
	assert.False(t, got.Resync)
	assert.Zero(t, got.Replayed)

	// The ring holds 8 (14..21): 13 is the oldest resumable point, 12 is too old.
	d := &sink{}
	got = h.Subscribe("book:BTC-USD", d, notification.Resume{Epoch: "e1", Seq: 13}, nil)
	assert.False(t, got.Resync)
	assert.Equal(t, span(14, 21), d.seqs(t))
	for _, r := range []notification.Resume{{Epoch: "e1", Seq: 12}, {Epoch: "other", Seq: 20}, {Epoch: "e1", Seq: 99}} {
		e := &sink{}
		got = h.Subscribe("book:BTC-USD", e, r, nil)
		assert.True(t, got.Resync, "resume %+v", r)
		assert.Equal(t, uint64(21), got.Seq)
		assert.Empty(t, e.seqs(t), "resume %+v replays nothing", r)
	}
}

func TestHeadFrameComesFirst(t *testing.T) {
	h := notification.NewHub(notification.HubOptions{Epoch: "e"})
	h.Publish("trades:BTC-USD", "trades", []byte(`{}`))
	h.Publish("trades:BTC-USD", "trades", []byte(`{}`))
	s := &sink{}
	h.Subscribe("trades:BTC-USD", s, notification.Resume{Epoch: "e", Seq: 0}, func(o notification.Subscribed) []byte {
		return []byte(fmt.Sprintf(`{"type":"subscribed","seq":%d}`, o.Seq))
	})
	require.Len(t, s.frames, 3)
	assert.JSONEq(t, `{"type":"subscribed","seq":2}`, string(s.frames[0]))
}

func TestPrivateStreamsExistOnlyWhileWatched(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h := notification.NewHub(notification.HubOptions{Linger: time.Minute, Now: func() time.Time { return now }})
	assert.Zero(t, h.Publish("account:alice", "orders", []byte(`{}`)), "nobody watches alice: dropped")
	assert.False(t, h.Watched("account:alice"))
	s := &sink{}
	h.Subscribe("account:alice", s, notification.Resume{}, nil)
	assert.True(t, h.Watched("account:alice"))
	assert.Equal(t, uint64(1), h.Publish("account:alice", "orders", []byte(`{}`)))
	h.Unsubscribe("account:alice", s)
	// Still kept for a resume within the linger.
	assert.Equal(t, uint64(2), h.Publish("account:alice", "orders", []byte(`{}`)))
	now = now.Add(59 * time.Second)
	assert.Zero(t, h.Sweep())
	now = now.Add(time.Second)
	assert.Equal(t, 1, h.Sweep())
	assert.False(t, h.Watched("account:alice"))
	assert.True(t, h.Watched("book:BTC-USD"), "public streams always exist")
}

func TestFullQueueDropsOnlyThatSubscriber(t *testing.T) {
	h := notification.NewHub(notification.HubOptions{})
	slow, fast := &sink{max: 3}, &sink{}
	h.Subscribe("book:X-Y", slow, notification.Resume{}, nil)
	h.Subscribe("book:X-Y", fast, notification.Resume{}, nil)
	for range 10 {
		h.Publish("book:X-Y", "book", []byte(`{}`))
	}
	assert.Equal(t, 1, slow.overflows, "told once")
	assert.Equal(t, span(1, 3), slow.seqs(t))
	assert.Equal(t, span(1, 10), fast.seqs(t), "the others get everything")
}

// Publishers on many streams and subscribers joining and resuming at once: every subscriber
// sees a gapless run of each stream from where it joined (run with -race).
func TestConcurrentPublishAndSubscribe(t *testing.T) {
	h := notification.NewHub(notification.HubOptions{PublicRing: 1 << 16})
	streams := []string{"book:A-B", "book:C-D", "trades:A-B"}
	var wg sync.WaitGroup
	for _, name := range streams {
		wg.Go(func() {
			for i := range 2000 {
				h.Publish(name, "x", []byte(fmt.Sprint(i)))
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
			name := streams[i%len(streams)]
			s := &sink{}
			got := h.Subscribe(name, s, notification.Resume{}, nil)
			if i%2 == 0 && got.Seq > 5 {
				// Leave and resume from a point a little back.
				h.Unsubscribe(name, s)
				s2 := &sink{}
				got2 := h.Subscribe(name, s2, notification.Resume{Epoch: h.Epoch(), Seq: got.Seq - 5}, nil)
				require.False(t, got2.Resync)
				mu.Lock()
				subs = append(subs, sub{name, s2, got.Seq - 4})
				mu.Unlock()
				return
			}
			mu.Lock()
			subs = append(subs, sub{name, s, got.Seq + 1})
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, sb := range subs {
		got := sb.s.seqs(t)
		if sb.from > 2000 {
			assert.Empty(t, got)
			continue
		}
		assert.Equal(t, span(sb.from, 2000), got, "subscriber of %s from %d", sb.name, sb.from)
	}
}
