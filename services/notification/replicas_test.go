package notification_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/notification"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// replica starts a notification service on cluster and waits until it reads every partition.
func (e *env) replica(cluster kafka.Cluster) *notification.Service {
	e.t.Helper()
	entry, ok := catalog.Lookup(catalog.NotificationService)
	require.True(e.t, ok)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := notification.NewService(flow.NewKafka(entry, cluster, "", nil, log), e.venue, e.auth,
		notification.Config{Addr: "127.0.0.1:0"}, prometheus.NewRegistry(), log)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	runs := svc.Runs()
	for _, run := range runs {
		go func() {
			_ = run(ctx)
			done <- struct{}{}
		}()
	}
	e.t.Cleanup(func() {
		cancel()
		for range runs {
			<-done
		}
	})
	// Started: a fresh subscription has a position for each trades partition.
	require.Eventually(e.t, func() bool {
		s := &sink{}
		defer svc.Hub.Unsubscribe("book:BTC-USD", s)
		return len(svc.Hub.Subscribe("book:BTC-USD", s, nil, nil).Seqs) == 12
	}, 10*time.Second, 10*time.Millisecond)
	return svc
}

func (e *env) connectTo(url, token string) *client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { ws.CloseNow() })
	c := &client{t: e.t, ws: ws}
	require.Equal(e.t, "welcome", c.next().Type)
	return c
}

// Two replicas read the same broker: a client subscribed on one that disconnects and
// resumes on the other with its last positions gets exactly what it missed, public and
// private streams alike, and then the live messages.
func TestResumeOnAnotherReplicaOverKafka(t *testing.T) {
	e := newEnv(t, notification.ServerConfig{})
	alice, at := e.user("alice")
	bob, _ := e.user("bob")
	broker, err := kafka.StartEmbedded("")
	require.NoError(t, err)
	t.Cleanup(broker.Close)
	cluster := broker.Cluster()
	ctx := context.Background()
	require.NoError(t, kafka.EnsureTopics(ctx, cluster, topics.All()))
	producer, err := kafka.NewProducer(cluster, "test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = producer.Close() })
	publish := func(from, to uint64) {
		t.Helper()
		for q := from; q <= to; q++ {
			x := execution(q, bob, alice)
			require.NoError(t, producer.PublishExecutions(ctx, []trading.Execution{x}))
			require.NoError(t, producer.PublishSettlements(ctx, []trading.Settlement{{ID: x.ID, Market: x.Market, Seq: q,
				Trades: []trading.Trade{*x.Events[1].Trade}}}))
		}
	}
	a := e.replica(cluster)
	publish(1, 3) // before b exists: only a has them
	require.Eventually(t, func() bool {
		s := &sink{}
		defer a.Hub.Unsubscribe("book:BTC-USD", s)
		for _, q := range a.Hub.Subscribe("book:BTC-USD", s, nil, nil).Seqs {
			if q >= notification.Seq(2, 0) {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "a handled the first three")
	b := e.replica(cluster)

	streams := []string{notification.AccountStream(alice), notification.TradesStream("BTC-USD"), notification.BookStream("BTC-USD")}
	// A witness watches everything on a without interruption.
	witness := e.connectTo(a.URL(), at)
	mover := e.connectTo(a.URL(), at)
	last := map[string]map[string]uint64{}
	for i, s := range streams {
		require.Equal(t, "subscribed", witness.subscribe(int64(i+1), s, nil).Type)
		r := mover.subscribe(int64(i+1), s, nil)
		require.Equal(t, "subscribed", r.Type)
		last[s] = r.Seqs
	}
	require.Len(t, last[streams[0]], 12+6+3, "a private stream draws from every partition")
	// Per execution: alice's acceptance, order update and fill, then her balances; one trade;
	// one book diff.
	perExec := map[string]int{streams[0]: 4, streams[1]: 1, streams[2]: 1}
	got := map[string][]msg{}
	read := func(c *client, n int, into map[string][]msg) {
		t.Helper()
		for range n {
			m := c.next()
			require.Equal(t, "event", m.Type, "%+v", m)
			// The record's log time: when the producer sent it, before the client got it.
			require.Positive(t, m.TS, "%+v", m)
			require.LessOrEqual(t, m.TS, time.Now().UnixMilli())
			// Within a stream, a source's messages keep the log's order; the interleaving
			// of sources is each replica's own.
			k := m.Stream + " " + m.Src
			into[k] = append(into[k], m)
		}
	}
	publish(4, 8)
	read(mover, 5*6, got)
	for _, ms := range got {
		for _, m := range ms {
			last[m.Stream][m.Src] = m.Seq
		}
	}
	mover.ws.CloseNow()
	publish(9, 15) // missed while away
	mover = e.connectTo(b.URL(), at)
	for i, s := range streams {
		mover.send(map[string]any{"op": "subscribe", "id": i + 1, "stream": s, "resume": seqsOf(last[s])})
	}
	publish(16, 16)
	// b may still be catching up: what it has is replayed, the rest comes live (nothing it
	// replayed or the client had comes twice).
	for replies, events := 0, 0; replies < 3 || events < 8*6; {
		m := mover.next()
		if m.Type == "event" {
			k := m.Stream + " " + m.Src
			got[k] = append(got[k], m)
			events++
			continue
		}
		require.Equal(t, "subscribed", m.Type, "%+v", m)
		assert.LessOrEqual(t, m.Replayed, 7*perExec[m.Stream])
		replies++
	}
	want := map[string][]msg{}
	read(witness, 13*6, want)
	require.Len(t, got, 4, "alice's stream from a trades and a settlements partition, trades, book")
	for k := range want {
		var w, g []uint64
		for _, m := range want[k] {
			w = append(w, m.Seq)
		}
		for _, m := range got[k] {
			g = append(g, m.Seq)
		}
		require.Equal(t, w, g, "%s: no gap, no duplicate", k)
		for i := range want[k] {
			if want[k][i].Channel != notification.ChannelBalances {
				assert.JSONEq(t, string(want[k][i].Data), string(got[k][i].Data), "%s %d", k, i)
			}
		}
	}

	// A position from before b started (a's first subscription saw offset 0 of the market's
	// partition) is answered with resync on b.
	late := e.connectTo(b.URL(), at)
	early := map[string]uint64{}
	for src := range last[streams[1]] {
		early[src] = notification.Seq(0, 0) - 1
	}
	r := late.subscribe(1, streams[1], seqsOf(early))
	assert.Equal(t, "resync", r.Type)
}
