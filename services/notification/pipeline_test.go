package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
	"github.com/cantondex/platform/services/trading/tradingtest"
)

// frames is a Sink keeping what it is offered.
type frames struct {
	mu  sync.Mutex
	got []map[string]any
}

func (s *frames) Offer(b []byte) bool {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, m)
	return true
}

func (s *frames) Overflow() {}

// channels lists the channel and seq of each event frame.
func (s *frames) channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.got {
		if m["type"] == "event" {
			out = append(out, fmt.Sprintf("%s %.0f prev %.0f", m["channel"], m["seq"], m["prev"]))
		}
	}
	return out
}

// gated is a venue whose balances of one account are read only when the gate opens.
type gated struct {
	*tradingtest.Venue
	account string
	gate    chan struct{}
	waiting chan struct{}
}

func (g *gated) Balances(ctx context.Context, account string) ([]trading.Balance, error) {
	if account == g.account {
		g.waiting <- struct{}{}
		<-g.gate
	}
	return g.Venue.Balances(ctx, account)
}

// pipelined runs a feed with a pipeline of n shards over a hub reading sources, whose
// balances of account wait for release (called at the test's end too).
func pipelined(t *testing.T, venue *tradingtest.Venue, account string, n int, sources map[string]int64) (context.Context, *gated, *Hub, *Feed, func()) {
	g := &gated{Venue: venue, account: account, gate: make(chan struct{}), waiting: make(chan struct{}, 4)}
	hub := NewHub(HubOptions{})
	hub.Start(sources)
	feed := &Feed{Hub: hub, Markets: venue, Balances: g, Assets: venue}
	feed.Pipeline(n)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- feed.Run(ctx) }()
	var open sync.Once
	release := func() { open.Do(func() { close(g.gate) }) }
	t.Cleanup(func() {
		release()
		cancel()
		require.NoError(t, <-ran)
	})
	return ctx, g, hub, feed, release
}

func TestPipelineReadsBalancesOffTheFeedInStreamOrder(t *testing.T) {
	venue := tradingtest.NewVenue(nil)
	_, err := venue.CreateMarket(context.Background(), tradingtest.DemoMarket())
	require.NoError(t, err)
	const shards = 2
	alice, bob := "alice", ""
	for i := 0; bob == ""; i++ {
		if b := fmt.Sprint("bob", i); shardOf(b, shards) != shardOf(alice, shards) {
			bob = b
		}
	}
	ctx, g, hub, feed, release := pipelined(t, venue, alice, shards, map[string]int64{"settlements/0": 0})

	var sa, sb frames
	hub.Subscribe(AccountStream(alice), &sa, nil, nil)
	hub.Subscribe(AccountStream(bob), &sb, nil, nil)
	// Two settlements of alice (taker) with bob (maker): each yields the taker's fill (k 0),
	// the maker's (1), the maker's balances (2), the taker's (3).
	var msgs []kafka.Message
	for off := range int64(2) {
		id := fmt.Sprint("BTC-USD:", off+1)
		s := trading.Settlement{ID: id, Market: "BTC-USD", Seq: uint64(off + 1), Trades: []trading.Trade{{
			ID: id + ":1", Market: "BTC-USD", Price: 6500000, Quantity: 2, MakerOrderID: "m" + id, TakerOrderID: "t" + id,
			MakerAccount: bob, TakerAccount: alice, TakerSide: trading.Buy, ExecutedAt: time.Unix(1_700_000_000, 0)}}}
		v, err := json.Marshal(s)
		require.NoError(t, err)
		msgs = append(msgs, kafka.Message{Topic: topics.Settlements, Offset: off, Value: v})
	}
	handled := make(chan error, 1)
	go func() { handled <- feed.Handle(ctx, msgs) }()
	<-g.waiting // alice's balances after the first settlement are being read

	require.Eventually(t, func() bool { return len(handled) == 1 }, 10*time.Second, time.Millisecond,
		"the feed goes on while a balance is read")
	require.NoError(t, <-handled)
	seq := func(off int64, k int) uint64 { return Seq(off, k) }
	ev := func(channel string, s, prev uint64) string { return fmt.Sprintf("%s %d prev %d", channel, s, prev) }
	require.Eventually(t, func() bool { return len(sb.channels()) == 4 }, 10*time.Second, time.Millisecond,
		"bob's stream, on another shard, does not wait for alice's balances")
	assert.Equal(t, []string{
		ev(ChannelFills, seq(0, 1), Seq(0, 0)-1), ev(ChannelBalances, seq(0, 2), seq(0, 1)),
		ev(ChannelFills, seq(1, 1), seq(0, 2)), ev(ChannelBalances, seq(1, 2), seq(1, 1)),
	}, sb.channels())
	assert.Equal(t, []string{ev(ChannelFills, seq(0, 0), Seq(0, 0)-1)}, sa.channels(),
		"alice's next fill waits for her balances: her stream keeps its order")
	// (Subscribing to alice's stream waits for the read: it renders under the stream's lock.)
	got := hub.Subscribe(AccountStream("carol"), &frames{}, nil, nil)
	assert.Equal(t, Seq(0, 0)-1, got.Seqs["settlements/0"],
		"the source does not advance past records whose messages are still to come: a fresh subscriber would take them for duplicates")

	release()
	want := []string{
		ev(ChannelFills, seq(0, 0), Seq(0, 0)-1), ev(ChannelBalances, seq(0, 3), seq(0, 0)),
		ev(ChannelFills, seq(1, 0), seq(0, 3)), ev(ChannelBalances, seq(1, 3), seq(1, 0)),
	}
	require.Eventually(t, func() bool { return len(sa.channels()) == 4 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, want, sa.channels())
	require.Eventually(t, func() bool {
		return hub.Subscribe(AccountStream("carol"), &frames{}, nil, nil).Seqs["settlements/0"] == Seq(2, 0)-1
	}, 10*time.Second, time.Millisecond, "the source advances once every message of its records is published")
}

func TestPipelinePublishesAnExecutionsAccountMessagesOnTheShards(t *testing.T) {
	venue := tradingtest.NewVenue(nil)
	_, err := venue.CreateMarket(context.Background(), tradingtest.DemoMarket())
	require.NoError(t, err)
	ctx, g, hub, feed, release := pipelined(t, venue, "alice", 1, map[string]int64{"settlements/0": 0, "trades/0": 0})

	var sa, trades frames
	hub.Subscribe(AccountStream("alice"), &sa, nil, nil)
	hub.Subscribe(TradesStream("BTC-USD"), &trades, nil, nil)
	at := time.Unix(1_700_000_000, 0)
	// A settlement of alice keeps the (only) shard busy reading her balances.
	s := trading.Settlement{ID: "BTC-USD:1", Market: "BTC-USD", Seq: 1, Trades: []trading.Trade{{ID: "BTC-USD:1:1", Market: "BTC-USD",
		Price: 6500000, Quantity: 2, MakerOrderID: "m1", TakerOrderID: "t1", MakerAccount: "bob", TakerAccount: "alice", TakerSide: trading.Buy, ExecutedAt: at}}}
	x := trading.Execution{ID: "BTC-USD:2", Market: "BTC-USD", Seq: 2, Command: trading.OpNew, OrderID: "t2", ExecutedAt: at,
		Events: []trading.ExecEvent{{Type: trading.ExecTrade, OrderID: "t2", Account: "alice", Remaining: 0, Trade: &trading.Trade{
			ID: "BTC-USD:2:1", Market: "BTC-USD", Price: 6500000, Quantity: 2, MakerOrderID: "m2", TakerOrderID: "t2",
			MakerAccount: "bob", TakerAccount: "alice", TakerSide: trading.Buy, ExecutedAt: at}}}}
	sv, err := json.Marshal(s)
	require.NoError(t, err)
	xv, err := json.Marshal(x)
	require.NoError(t, err)
	require.NoError(t, feed.Handle(ctx, []kafka.Message{
		{Topic: topics.Settlements, Offset: 0, Value: sv},
		{Topic: topics.Trades, Offset: 0, Value: xv},
	}))
	<-g.waiting

	// The market's trade is out when Handle returns; alice's order update waits on her shard,
	// and the trades source does not advance past it.
	assert.Len(t, trades.channels(), 1)
	for _, c := range sa.channels() {
		assert.NotContains(t, c, ChannelOrders, "alice's order update is published on her shard")
	}
	got := hub.Subscribe(AccountStream("carol"), &frames{}, nil, nil)
	assert.Equal(t, Seq(0, 0)-1, got.Seqs["trades/0"])

	release()
	require.Eventually(t, func() bool {
		for _, c := range sa.channels() {
			if c == fmt.Sprintf("%s %d prev %d", ChannelOrders, Seq(0, 0), Seq(0, 0)-1) {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, "alice's order update (k 0 of the trades record), then the trade (k 2)")
	require.Eventually(t, func() bool {
		return hub.Subscribe(AccountStream("carol"), &frames{}, nil, nil).Seqs["trades/0"] == Seq(1, 0)-1
	}, 10*time.Second, time.Millisecond, "the trades source advances once alice's message is published")
}
