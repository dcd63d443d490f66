package matching_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	. "github.com/cantondex/platform/services/matching"
)

// short writes an event compactly for table tests:
//
//	acc ID SIDE PRICExQTY | rej ID REASON | trade MAKER>TAKER PRICExQTY r=TAKERLEFT m=MAKERLEFT |
//	can ID QTY REASON | mod ID PRICExQTY
func short(e Event) string {
	switch e.Type {
	case EvAccepted:
		return fmt.Sprintf("acc %s %v %dx%d", e.ID, e.Side, e.Price, e.Qty)
	case EvRejected:
		return fmt.Sprintf("rej %s %s", e.ID, e.Reason)
	case EvTrade:
		return fmt.Sprintf("trade %s>%s %dx%d r=%d m=%d", e.MakerID, e.TakerID, e.Price, e.Qty, e.Remaining, e.MakerRemaining)
	case EvCancelled:
		return fmt.Sprintf("can %s %d %s", e.ID, e.Qty, e.Reason)
	case EvModified:
		return fmt.Sprintf("mod %s %dx%d", e.ID, e.Price, e.Qty)
	}
	return "invalid"
}

// Command builders for the tables.
func buy(id, acct string, price, qty int64) Command {
	return Command{Op: OpNew, ID: id, Account: acct, Side: Buy, Type: Limit, Price: price, Qty: qty}
}
func sell(id, acct string, price, qty int64) Command {
	return Command{Op: OpNew, ID: id, Account: acct, Side: Sell, Type: Limit, Price: price, Qty: qty}
}
func with(c Command, f func(*Command)) Command { f(&c); return c }
func ioc(c *Command)                           { c.TIF = IOC }
func fok(c *Command)                           { c.TIF = FOK }
func post(c *Command)                          { c.PostOnly = true }
func mkt(c *Command)                           { c.Type = MarketOrder; c.Price = 0 }
func oldest(c *Command)                        { c.STP = STPCancelOldest }
func both(c *Command)                          { c.STP = STPCancelBoth }
func cancel(id string) Command                 { return Command{Op: OpCancel, ID: id} }
func modify(id string, price, qty int64) Command {
	return Command{Op: OpModify, ID: id, Price: price, Qty: qty}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		setup []Command
		cmd   Command
		want  []string
		bids  string // book after, "price:qty/orders ..." best first
		asks  string
	}{
		{name: "rests when nothing crosses", cmd: buy("b1", "x", 100, 5),
			want: []string{"acc b1 buy 100x5"}, bids: "100:5/1"},
		{name: "trade at maker price, taker rests the rest",
			setup: []Command{sell("s1", "m", 101, 2)}, cmd: buy("b1", "x", 103, 5),
			want: []string{"acc b1 buy 103x5", "trade s1>b1 101x2 r=3 m=0"}, bids: "103:3/1"},
		{name: "sell taker trades at the bid price",
			setup: []Command{buy("b1", "m", 101, 2)}, cmd: sell("s1", "x", 99, 1),
			want: []string{"acc s1 sell 99x1", "trade b1>s1 101x1 r=0 m=1"}, bids: "101:1/1"},
		{name: "price priority then time priority across a sweep",
			setup: []Command{sell("s1", "m", 102, 1), sell("s2", "m", 101, 1), sell("s3", "n", 101, 1), sell("s4", "m", 104, 1)},
			cmd:   buy("b1", "x", 103, 4),
			want:  []string{"acc b1 buy 103x4", "trade s2>b1 101x1 r=3 m=0", "trade s3>b1 101x1 r=2 m=0", "trade s1>b1 102x1 r=1 m=0"},
			bids:  "103:1/1", asks: "104:1/1"},
		{name: "partial fill of maker keeps it at the front",
			setup: []Command{sell("s1", "m", 101, 5), sell("s2", "n", 101, 5)}, cmd: buy("b1", "x", 101, 2),
			want: []string{"acc b1 buy 101x2", "trade s1>b1 101x2 r=0 m=3"}, asks: "101:8/2"},
		{name: "IOC residue cancelled",
			setup: []Command{sell("s1", "m", 101, 2)}, cmd: with(buy("b1", "x", 101, 5), ioc),
			want: []string{"acc b1 buy 101x5", "trade s1>b1 101x2 r=3 m=0", "can b1 3 unfilled"}},
		{name: "IOC with nothing to take",
			cmd: with(buy("b1", "x", 101, 5), ioc), want: []string{"acc b1 buy 101x5", "can b1 5 unfilled"}},
		{name: "FOK fills completely",
			setup: []Command{sell("s1", "m", 101, 2), sell("s2", "m", 102, 3)}, cmd: with(buy("b1", "x", 102, 5), fok),
			want: []string{"acc b1 buy 102x5", "trade s1>b1 101x2 r=3 m=0", "trade s2>b1 102x3 r=0 m=0"}},
		{name: "FOK unfillable within its limit is rejected untouched",
			setup: []Command{sell("s1", "m", 101, 2), sell("s2", "m", 103, 3)}, cmd: with(buy("b1", "x", 102, 5), fok),
			want: []string{"rej b1 fok_unfillable"}, asks: "101:2/1 103:3/1"},
		{name: "FOK blocked by own order under cancel_newest",
			setup: []Command{sell("s1", "x", 101, 2), sell("s2", "m", 101, 5)}, cmd: with(buy("b1", "x", 101, 5), fok),
			want: []string{"rej b1 fok_unfillable"}, asks: "101:7/2"},
		{name: "FOK skips own order under cancel_oldest",
			setup: []Command{sell("s1", "x", 101, 2), sell("s2", "m", 101, 5)}, cmd: with(with(buy("b1", "x", 101, 5), fok), oldest),
			want: []string{"acc b1 buy 101x5", "can s1 2 self_trade", "trade s2>b1 101x5 r=0 m=0"}},
		{name: "market order sweeps and cancels residue",
			setup: []Command{sell("s1", "m", 101, 2), sell("s2", "m", 110, 1)}, cmd: with(buy("b1", "x", 0, 5), mkt),
			want: []string{"acc b1 buy 0x5", "trade s1>b1 101x2 r=3 m=0", "trade s2>b1 110x1 r=2 m=0", "can b1 2 unfilled"}},
		{name: "market order on an empty side", cmd: with(sell("s1", "x", 0, 5), mkt),
			want: []string{"rej s1 no_liquidity"}},
		{name: "market FOK unfillable",
			setup: []Command{buy("b1", "m", 99, 2)}, cmd: with(with(sell("s1", "x", 0, 5), mkt), fok),
			want: []string{"rej s1 fok_unfillable"}, bids: "99:2/1"},
		{name: "post-only rests when passive",
			setup: []Command{sell("s1", "m", 101, 2)}, cmd: with(buy("b1", "x", 100, 1), post),
			want: []string{"acc b1 buy 100x1"}, bids: "100:1/1", asks: "101:2/1"},
		{name: "post-only would take",
			setup: []Command{sell("s1", "m", 101, 2)}, cmd: with(buy("b1", "x", 101, 1), post),
			want: []string{"rej b1 post_only_would_take"}, asks: "101:2/1"},
		{name: "post-only market order is malformed", setup: []Command{sell("s1", "m", 101, 2)},
			cmd: with(with(buy("b1", "x", 0, 1), mkt), post), want: []string{"rej b1 malformed"}, asks: "101:2/1"},
		{name: "STP cancel_newest (default) cancels the taker, maker stays",
			setup: []Command{sell("s1", "m", 100, 1), sell("s2", "x", 101, 2), sell("s3", "m", 101, 2)},
			cmd:   buy("b1", "x", 101, 5),
			want:  []string{"acc b1 buy 101x5", "trade s1>b1 100x1 r=4 m=0", "can b1 4 self_trade"},
			asks:  "101:4/2"},
		{name: "STP cancel_oldest cancels the maker and continues",
			setup: []Command{sell("s2", "x", 101, 2), sell("s3", "m", 101, 2)},
			cmd:   with(buy("b1", "x", 101, 5), oldest),
			want:  []string{"acc b1 buy 101x5", "can s2 2 self_trade", "trade s3>b1 101x2 r=3 m=0"},
			bids:  "101:3/1"},
		{name: "STP cancel_both cancels both",
			setup: []Command{sell("s2", "x", 101, 2), sell("s3", "m", 101, 2)},
			cmd:   with(buy("b1", "x", 101, 5), both),
			want:  []string{"acc b1 buy 101x5", "can s2 2 self_trade", "can b1 5 self_trade"},
			asks:  "101:2/1"},
		{name: "cancel", setup: []Command{buy("b1", "x", 100, 5), buy("b2", "y", 100, 1)}, cmd: cancel("b1"),
			want: []string{"can b1 5 user_cancel"}, bids: "100:1/1"},
		{name: "cancel unknown", cmd: cancel("nope"), want: []string{"rej nope unknown_order"}},
		{name: "cancel twice", setup: []Command{buy("b1", "x", 100, 5), cancel("b1")}, cmd: cancel("b1"),
			want: []string{"rej b1 unknown_order"}},
		{name: "cancel of a filled order", setup: []Command{buy("b1", "x", 100, 5), sell("s1", "y", 100, 5)}, cmd: cancel("b1"),
			want: []string{"rej b1 unknown_order"}},
		{name: "duplicate id of a resting order", setup: []Command{buy("b1", "x", 100, 5)}, cmd: sell("b1", "x", 108, 1),
			want: []string{"rej b1 duplicate_id"}, bids: "100:5/1"},
		{name: "modify reducing qty keeps priority",
			setup: []Command{buy("b1", "x", 100, 5), buy("b2", "y", 100, 5)}, cmd: modify("b1", 0, 2),
			want: []string{"mod b1 100x2"}, bids: "100:7/2"},
		{name: "modify increasing qty loses priority",
			setup: []Command{buy("b1", "x", 100, 5), buy("b2", "y", 100, 5)}, cmd: modify("b1", 100, 6),
			want: []string{"mod b1 100x6"}, bids: "100:11/2"},
		{name: "modify price moves to the new level",
			setup: []Command{buy("b1", "x", 100, 5)}, cmd: modify("b1", 99, 0),
			want: []string{"mod b1 99x5"}, bids: "99:5/1"},
		{name: "modify price across the book trades",
			setup: []Command{buy("b1", "x", 100, 5), sell("s1", "y", 102, 3)}, cmd: modify("b1", 102, 0),
			want: []string{"mod b1 102x5", "trade s1>b1 102x3 r=2 m=0"}, bids: "102:2/1"},
		{name: "modify crossing fully filled leaves nothing",
			setup: []Command{buy("b1", "x", 100, 2), sell("s1", "y", 102, 3)}, cmd: modify("b1", 102, 0),
			want: []string{"mod b1 102x2", "trade s1>b1 102x2 r=0 m=1"}, asks: "102:1/1"},
		{name: "modify crossing own order is stopped by STP",
			setup: []Command{buy("b1", "x", 100, 2), sell("s1", "x", 102, 3)}, cmd: modify("b1", 102, 0),
			want: []string{"mod b1 102x2", "can b1 2 self_trade"}, asks: "102:3/1"},
		{name: "modify post-only across the book is rejected",
			setup: []Command{with(buy("b1", "x", 100, 2), post), sell("s1", "y", 102, 3)}, cmd: modify("b1", 103, 0),
			want: []string{"rej b1 post_only_would_take"}, bids: "100:2/1", asks: "102:3/1"},
		{name: "modify unknown", cmd: modify("zz", 100, 1), want: []string{"rej zz unknown_order"}},
		{name: "modify out of range", setup: []Command{buy("b1", "x", 100, 2)}, cmd: modify("b1", 111, 0),
			want: []string{"rej b1 price_out_of_range"}, bids: "100:2/1"},
		{name: "modify bad qty", setup: []Command{buy("b1", "x", 100, 2)}, cmd: modify("b1", 0, -1),
			want: []string{"rej b1 invalid_quantity"}, bids: "100:2/1"},
		{name: "zero qty", cmd: buy("b1", "x", 100, 0), want: []string{"rej b1 invalid_quantity"}},
		{name: "qty above max", cmd: buy("b1", "x", 100, 51), want: []string{"rej b1 qty_out_of_range"}},
		{name: "zero price", cmd: buy("b1", "x", 0, 1), want: []string{"rej b1 invalid_price"}},
		{name: "price below min", cmd: buy("b1", "x", 89, 1), want: []string{"rej b1 price_out_of_range"}},
		{name: "price above max", cmd: sell("s1", "x", 111, 1), want: []string{"rej s1 price_out_of_range"}},
		{name: "missing account", cmd: buy("b1", "", 100, 1), want: []string{"rej b1 malformed"}},
		{name: "missing id", cmd: buy("", "x", 100, 1), want: []string{"rej  malformed"}},
		{name: "bad side", cmd: with(buy("b1", "x", 100, 1), func(c *Command) { c.Side = 7 }), want: []string{"rej b1 malformed"}},
		{name: "bad tif", cmd: with(buy("b1", "x", 100, 1), func(c *Command) { c.TIF = 9 }), want: []string{"rej b1 malformed"}},
		{name: "bad stp", cmd: with(buy("b1", "x", 100, 1), func(c *Command) { c.STP = 9 }), want: []string{"rej b1 malformed"}},
		{name: "bad op", cmd: Command{Op: 0, ID: "b1"}, want: []string{"rej b1 malformed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustBook(t)
			var out []Event
			for i, c := range tc.setup {
				c.Seq = uint64(i + 1)
				out = b.Apply(c, out[:0])
			}
			tc.cmd.Seq = 99
			out = b.Apply(tc.cmd, out[:0])
			var got []string
			for _, e := range out {
				assert.Equal(t, uint64(99), e.Seq, "seq of event %s", short(e))
				got = append(got, short(e))
			}
			assert.Equal(t, tc.want, got, "events")
			assert.Equal(t, tc.bids, levels(b, Buy), "bids")
			assert.Equal(t, tc.asks, levels(b, Sell), "asks")
			assert.NoError(t, b.CheckInvariants())
		})
	}
}

func levels(b *Book, s Side) string {
	var parts []string
	for _, l := range b.Depth(s, 0, nil) {
		parts = append(parts, fmt.Sprintf("%d:%d/%d", l.Price, l.Qty, l.Orders))
	}
	return strings.Join(parts, " ")
}

func TestQueuePriority(t *testing.T) {
	b := mustBook(t)
	var out []Event
	for i, c := range []Command{buy("a", "x", 100, 5), buy("b", "y", 100, 5), buy("c", "z", 100, 5),
		modify("a", 0, 4),                       // reduce: stays first
		modify("b", 0, 6),                       // increase: goes last
		modify("c", 99, 0), modify("c", 100, 0), // away and back: last again
	} {
		c.Seq = uint64(i + 1)
		out = b.Apply(c, out[:0])
	}
	require.Equal(t, []string{"a", "b", "c"}, b.QueueIDs(Buy, 100), "queue after the modifications")
	b.Apply(Command{Op: OpModify, Seq: 9, ID: "a", Qty: 5}, out[:0])
	require.Equal(t, []string{"b", "c", "a"}, b.QueueIDs(Buy, 100), "queue after a's increase")
}

func TestQueries(t *testing.T) {
	b := mustBook(t)
	_, ok := b.BestBid()
	require.False(t, ok, "best bid of an empty book")
	var out []Event
	for i, c := range []Command{buy("a", "x", 100, 5), buy("b", "y", 100, 2), buy("c", "y", 98, 1), buy("d", "y", 95, 1),
		sell("e", "z", 103, 4), sell("f", "z", 105, 1)} {
		c.Seq = uint64(i + 1)
		out = b.Apply(c, out[:0])
	}
	l, ok := b.BestBid()
	require.True(t, ok, "best bid")
	require.Equal(t, Level{Price: 100, Qty: 7, Orders: 2}, l, "best bid")
	l, ok = b.BestAsk()
	require.True(t, ok, "best ask")
	require.Equal(t, Level{Price: 103, Qty: 4, Orders: 1}, l, "best ask")
	require.Equal(t, int64(1), b.QtyAt(Buy, 98), "qty at 98")
	require.Equal(t, int64(0), b.QtyAt(Buy, 99), "qty at 99")
	require.Equal(t, []Level{{100, 7, 2}, {98, 1, 1}}, b.Depth(Buy, 2, nil), "top 2 bids")
	o, ok := b.Order("b")
	require.True(t, ok, "order b")
	require.Equal(t, int64(2), o.Qty, "order b qty")
	require.Equal(t, "y", o.Account, "order b account")
	require.Equal(t, int64(100), o.Price, "order b price")
	require.Equal(t, 6, b.Len(), "len")
	require.Equal(t, uint64(6), b.LastSeq(), "last seq")
}

func TestNewBookValidates(t *testing.T) {
	for _, m := range []Market{
		{TickSize: "0.01", LotSize: "1"},
		{Symbol: "X", TickSize: "0", LotSize: "1"},
		{Symbol: "X", TickSize: "-0.01", LotSize: "1"},
		{Symbol: "X", TickSize: "0.01", LotSize: "abc"},
		{Symbol: "X", TickSize: "0.01", LotSize: "1", MinPrice: 10, MaxPrice: 5},
		{Symbol: "X", TickSize: "0.01", LotSize: "1", MinQty: -1},
	} {
		_, err := NewBook(m)
		assert.Error(t, err, "NewBook(%+v) accepted", m)
	}
}

func TestMarketDecimals(t *testing.T) {
	b, err := NewBook(Market{Symbol: "X", TickSize: "0.05", LotSize: "0.001", MaxPrice: 100000})
	require.NoError(t, err)
	m := b.Market()
	for _, tc := range []struct {
		in    string
		ticks int64
		r     Reason
	}{
		{"100.05", 2001, ""}, {"100.1", 2002, ""}, {"100.07", 0, ReasonTickSize}, {"100.001", 0, ReasonTickSize},
		{"0", 0, ReasonInvalidPrice}, {"x", 0, ReasonInvalidPrice}, {"5000.05", 0, ReasonPriceOutOfRange},
	} {
		v, r := m.ParsePrice(tc.in)
		assert.Equal(t, tc.ticks, v, "ParsePrice(%q) ticks", tc.in)
		assert.Equal(t, tc.r, r, "ParsePrice(%q) reason", tc.in)
	}
	assert.Equal(t, "100.05", string(m.AppendPrice(nil, 2001)), "AppendPrice")
	v, r := m.ParseQty("1.5")
	assert.Equal(t, int64(1500), v, "ParseQty(1.5) lots")
	assert.Empty(t, r, "ParseQty(1.5) reason")
	assert.Equal(t, "1.500", string(m.AppendQty(nil, 1500)), "AppendQty")
	raw := Market{Symbol: "X", TickSize: "0.05", LotSize: "0.001"}
	_, r = raw.ParsePrice("1.05")
	assert.Equal(t, ReasonInvalidPrice, r, "ParsePrice on an unnormalized market")
	norm, err := raw.Normalized()
	require.NoError(t, err)
	v, r = norm.ParsePrice("1.05")
	assert.Equal(t, int64(21), v, "ParsePrice on a normalized market: ticks")
	assert.Empty(t, r, "ParsePrice on a normalized market: reason")
	_, err = (Market{Symbol: "X", TickSize: "0"}).Normalized()
	assert.Error(t, err, "Normalized accepted a zero tick")
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	b := mustBook(t)
	var out []Event
	for i, c := range []Command{buy("a", "x", 100, 5), sell("b", "y", 103, 2)} {
		c.Seq = uint64(i + 1)
		out = b.Apply(c, out[:0])
	}
	good := b.AppendSnapshot(nil)
	_, err := RestoreBytes(good)
	require.NoError(t, err)
	for i := range good {
		_, err := RestoreBytes(good[:i])
		require.Error(t, err, "truncated snapshot of %d bytes restored", i)
		bad := slices.Clone(good)
		bad[i] ^= 0x40
		_, err = RestoreBytes(bad)
		require.Error(t, err, "snapshot with byte %d flipped restored", i)
	}
}

// TestApplyAllocatesNothing: after warm-up, adding, matching, modifying and cancelling allocate
// nothing.
func TestApplyAllocatesNothing(t *testing.T) {
	b := mustBook(t)
	b.Reserve(64)
	out := make([]Event, 0, 64)
	cmds := []Command{buy("a", "x", 100, 5), sell("b", "y", 101, 5), modify("a", 99, 3), modify("a", 0, 2),
		with(buy("c", "z", 101, 7), ioc), modify("a", 101, 10), sell("d", "y", 99, 20), cancel("d")}
	seq := uint64(0)
	cycle := func() {
		for _, c := range cmds {
			seq++
			c.Seq = seq
			out = b.Apply(c, out[:0])
		}
	}
	cycle()
	require.Zero(t, testing.AllocsPerRun(200, cycle), "allocations per cycle")
	require.Zero(t, b.Len(), "orders left by a cycle")
}
