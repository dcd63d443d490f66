package surveillance

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// feed is a test driver: it stamps events at t0+offset and collects alerts.
type feed struct {
	d      *Detectors
	alerts []Alert
}

func newFeed(cfg Config, links Links) *feed { return &feed{d: New(cfg, links)} }

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func (f *feed) obs(ev Event) { f.alerts = append(f.alerts, f.d.Observe(ev)...) }

func (f *feed) newOrder(s float64, acct, id, side string, price, qty, bid, ask int64) {
	f.obs(Event{TS: at(s), Kind: KindNew, Account: acct, Market: "M", OrderID: id, Side: side, Price: price, Qty: qty, BestBid: bid, BestAsk: ask})
}

func (f *feed) cancel(s float64, acct, id string, qty int64) {
	f.obs(Event{TS: at(s), Kind: KindCancel, Account: acct, Market: "M", OrderID: id, Qty: qty})
}

// trade: maker order mid of makerAcct, taker order tid of takerAcct, taker on side aggressor.
func (f *feed) trade(s float64, tradeID, makerAcct, mid, takerAcct, tid, aggressor string, price, qty int64) {
	f.obs(Event{TS: at(s), Kind: KindTrade, Market: "M", TradeID: tradeID, MakerOrderID: mid, TakerOrderID: tid,
		MakerAccount: makerAcct, TakerAccount: takerAcct, Aggressor: aggressor, Price: price, Qty: qty,
		Account: takerAcct, OrderID: tid, Side: aggressor})
}

func (f *feed) flush(s float64) { f.alerts = append(f.alerts, f.d.Flush(at(s))...) }

func (f *feed) of(detector string) []Alert {
	var out []Alert
	for _, a := range f.alerts {
		if a.Detector == detector {
			out = append(out, a)
		}
	}
	return out
}

// warm feeds ten honest orders of 2 lots so the market's average order size is 2.
func (f *feed) warm() {
	for i := range 10 {
		f.newOrder(0, "mm", "w"+string(rune('a'+i)), "buy", 90, 2, 100, 101)
	}
}

func TestWashSameOwner(t *testing.T) {
	f := newFeed(Default(), LinkMap{"a1": "X", "a2": "X"})
	f.newOrder(1, "a1", "s1", "sell", 100, 5, 99, 101)
	f.newOrder(2, "a2", "b1", "buy", 100, 5, 99, 100)
	f.trade(2, "t1", "a1", "s1", "a2", "b1", "buy", 100, 5)
	f.trade(3, "t2", "a1", "s1", "b", "b2", "buy", 100, 1) // a1 with an unlinked account: fine
	got := f.of(DetectorWash)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"s1", "b1"}, got[0].OrderIDs)
	assert.Equal(t, []string{"t1"}, got[0].TradeIDs)
	assert.Equal(t, "a2", got[0].Account)
	assert.Contains(t, got[0].Reason, "beneficial owner X")
}

// leg is a matched trade: maker order mid of maker rests at s-0.5, taker order tid of taker
// takes all of it at s.
func (f *feed) leg(s float64, tradeID, maker, mid, taker, tid, aggressor string, price, qty int64) {
	makerSide := "sell"
	if aggressor == "sell" {
		makerSide = "buy"
	}
	f.newOrder(s-0.5, maker, mid, makerSide, price, qty, 0, 0)
	f.newOrder(s, taker, tid, aggressor, price, qty, 0, 0)
	f.trade(s, tradeID, maker, mid, taker, tid, aggressor, price, qty)
}

func TestWashRoundTrip(t *testing.T) {
	f := newFeed(Default(), nil)
	f.leg(1, "t1", "a", "s1", "b", "b1", "buy", 100, 5)  // b buys 5 from a
	f.leg(20, "t2", "b", "s2", "a", "b2", "buy", 101, 3) // a buys back 3
	require.Empty(t, f.of(DetectorWash), "not yet flat")
	f.leg(30, "t3", "a", "b3", "b", "s3", "sell", 100, 2) // b sells 2 to a: flat
	got := f.of(DetectorWash)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"t1", "t2", "t3"}, got[0].TradeIDs)
	assert.ElementsMatch(t, []string{"s1", "b1", "s2", "b2", "b3", "s3"}, got[0].OrderIDs)
	assert.Equal(t, at(1), got[0].From)
	assert.Equal(t, at(30), got[0].To)
	assert.Contains(t, got[0].Reason, "round trip")
}

func TestWashRoundTripNearMisses(t *testing.T) {
	// Outside the window.
	f := newFeed(Default(), nil)
	f.leg(1, "t1", "a", "s1", "b", "b1", "buy", 100, 5)
	f.leg(70, "t2", "b", "s2", "a", "b2", "buy", 100, 5)
	assert.Empty(t, f.of(DetectorWash), "legs 69s apart")
	// Prices too far apart: an honest buy at the ask and sell at the bid.
	f = newFeed(Default(), nil)
	f.leg(1, "t1", "a", "s1", "b", "b1", "buy", 100, 5)
	f.leg(2, "t2", "b", "s2", "a", "b2", "buy", 103, 5)
	assert.Empty(t, f.of(DetectorWash), "legs 3 ticks apart")
	// Not flat: the same direction twice, and a third party in between does not count.
	f = newFeed(Default(), nil)
	f.leg(1, "t1", "a", "s1", "b", "b1", "buy", 100, 5)
	f.leg(2, "t2", "a", "s2", "b", "b2", "buy", 100, 5)
	f.leg(3, "t3", "b", "s3", "c", "b3", "buy", 100, 10)
	assert.Empty(t, f.of(DetectorWash), "no round trip")
	// Flat by chance, but not matched orders: the second leg's resting order waited 8 s,
	// and the first leg's taker order also traded with someone else.
	f = newFeed(Default(), nil)
	f.newOrder(0, "b", "b1", "buy", 100, 8, 0, 0)
	f.leg(1, "t0", "c", "s0", "b", "x", "buy", 100, 1) // unrelated
	f.newOrder(1, "a", "s1", "sell", 100, 5, 0, 0)
	f.newOrder(1, "b", "b9", "buy", 100, 8, 0, 0)
	f.trade(1, "t1", "a", "s1", "b", "b9", "buy", 100, 5) // b's order is bigger than the trade
	f.newOrder(2, "b", "s2", "sell", 100, 5, 0, 0)
	f.newOrder(9.5, "a", "b2", "buy", 100, 5, 0, 0)
	f.trade(10, "t2", "b", "s2", "a", "b2", "buy", 100, 5) // resting for 8 s
	assert.Empty(t, f.of(DetectorWash), "not matched orders")
}

func TestSpoofing(t *testing.T) {
	f := newFeed(Default(), nil)
	f.warm()
	f.newOrder(1, "sp", "big", "buy", 99, 20, 100, 101) // 10× average, 1 tick under the bid
	f.newOrder(2, "sp", "s1", "sell", 102, 2, 100, 101)
	f.trade(3, "t1", "sp", "s1", "h", "hb", "buy", 102, 2) // sp sells
	f.cancel(5, "sp", "big", 20)
	got := f.of(DetectorSpoofing)
	require.Len(t, got, 1)
	a := got[0]
	assert.Equal(t, "sp", a.Account)
	assert.Equal(t, []string{"big", "s1"}, a.OrderIDs)
	assert.Equal(t, []string{"t1"}, a.TradeIDs)
	assert.Equal(t, at(1), a.From)
	assert.Equal(t, at(5), a.To)
	assert.Greater(t, a.Score, 0.8)
	assert.True(t, strings.HasPrefix(a.Reason, "buy order big of 20 lots"), a.Reason)
}

func TestSpoofingByModification(t *testing.T) {
	f := newFeed(Default(), nil)
	f.warm()
	f.newOrder(1, "sp", "o", "buy", 99, 2, 100, 101) // an ordinary order...
	f.obs(Event{TS: at(20), Kind: KindModify, Account: "sp", Market: "M", OrderID: "o", Side: "buy", Price: 99, Qty: 20, BestBid: 100, BestAsk: 101})
	f.trade(22, "t1", "sp", "s1", "h", "hb", "buy", 102, 2) // ...made large 19 s later
	f.cancel(23, "sp", "o", 20)
	got := f.of(DetectorSpoofing)
	require.Len(t, got, 1)
	assert.Equal(t, at(20), got[0].From)
	assert.Equal(t, []string{"t1"}, got[0].TradeIDs)
}

func TestSpoofingWithoutTouch(t *testing.T) {
	// A feed without book data: the last trade price (100) stands in for the touch.
	for _, tc := range []struct {
		price int64
		want  int
	}{{97, 1}, {90, 0}} {
		f := newFeed(Default(), nil)
		f.warm()
		f.trade(0.5, "t0", "x", "xs", "y", "yb", "buy", 100, 1)
		f.newOrder(1, "sp", "big", "buy", tc.price, 20, 0, 0)
		f.trade(3, "t1", "sp", "s1", "h", "hb", "buy", 101, 2)
		f.cancel(5, "sp", "big", 20)
		assert.Len(t, f.of(DetectorSpoofing), tc.want, "large bid at %d", tc.price)
	}
}

func TestSpoofingNearMisses(t *testing.T) {
	cases := map[string]func(f *feed){
		"large order cancelled without an opposite trade": func(f *feed) {
			f.newOrder(1, "sp", "big", "buy", 99, 20, 100, 101)
			f.cancel(5, "sp", "big", 20)
		},
		"own trade on the same side": func(f *feed) {
			f.newOrder(1, "sp", "big", "buy", 99, 20, 100, 101)
			f.trade(3, "t1", "h", "hs", "sp", "b1", "buy", 101, 2) // sp buys
			f.cancel(5, "sp", "big", 20)
		},
		"small order": func(f *feed) {
			f.newOrder(1, "sp", "big", "buy", 99, 4, 100, 101)
			f.trade(3, "t1", "sp", "s1", "h", "hb", "buy", 102, 2)
			f.cancel(5, "sp", "big", 4)
		},
		"far from the touch": func(f *feed) {
			f.newOrder(1, "sp", "big", "buy", 90, 20, 100, 101)
			f.trade(3, "t1", "sp", "s1", "h", "hb", "buy", 102, 2)
			f.cancel(5, "sp", "big", 20)
		},
		"mostly filled before the cancel": func(f *feed) {
			f.newOrder(1, "sp", "big", "buy", 99, 20, 100, 101)
			f.trade(3, "t1", "sp", "s1", "h", "hb", "buy", 102, 2)
			f.trade(4, "t2", "sp", "big", "h", "hs", "sell", 99, 15)
			f.cancel(5, "sp", "big", 5)
		},
		"trade long after the order": func(f *feed) {
			f.newOrder(1, "sp", "big", "buy", 99, 20, 100, 101)
			f.trade(15, "t1", "sp", "s1", "h", "hb", "buy", 102, 2)
			f.cancel(16, "sp", "big", 20)
		},
		"cancel long after the trade": func(f *feed) {
			f.newOrder(1, "sp", "big", "buy", 99, 20, 100, 101)
			f.trade(3, "t1", "sp", "s1", "h", "hb", "buy", 102, 2)
			f.cancel(20, "sp", "big", 20)
		},
		"venue cancel (IOC residue)": func(f *feed) {
			f.newOrder(1, "sp", "big", "buy", 99, 20, 100, 101)
			f.trade(3, "t1", "sp", "s1", "h", "hb", "buy", 102, 2)
			f.obs(Event{TS: at(4), Kind: KindCancel, Account: "sp", Market: "M", OrderID: "big", Qty: 20, System: true})
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFeed(Default(), nil)
			f.warm()
			c(f)
			assert.Empty(t, f.of(DetectorSpoofing))
		})
	}
}

func TestLayering(t *testing.T) {
	f := newFeed(Default(), nil)
	f.warm()
	f.newOrder(1, "ly", "l1", "buy", 99, 2, 100, 101)
	f.newOrder(1.5, "ly", "l2", "buy", 98, 2, 100, 101)
	f.newOrder(2, "ly", "l3", "buy", 97, 2, 100, 101)
	f.newOrder(2.5, "ly", "l4", "buy", 96, 2, 100, 101)
	f.trade(3, "t1", "ly", "s1", "h", "hb", "buy", 101, 2) // ly sells
	f.cancel(4, "ly", "l1", 2)
	f.cancel(4.1, "ly", "l2", 2)
	require.Empty(t, f.of(DetectorLayering), "two of four cancelled")
	f.cancel(4.2, "ly", "l3", 2)
	f.cancel(4.3, "ly", "l4", 2)
	got := f.of(DetectorLayering)
	require.Len(t, got, 1, "one alert per ladder")
	a := got[0]
	assert.Equal(t, "ly", a.Account)
	assert.Equal(t, []string{"l4", "l3", "l2", "l1", "s1"}, a.OrderIDs)
	assert.Equal(t, []string{"t1"}, a.TradeIDs)
	assert.Equal(t, at(1), a.From)
	assert.Equal(t, at(4.2), a.To)
	assert.Contains(t, a.Reason, "successive levels 96, 97, 98, 99 ticks")
	assert.Empty(t, f.of(DetectorSpoofing))
}

func TestLayeringNearMisses(t *testing.T) {
	ladder := func(f *feed, prices ...int64) {
		for i, p := range prices {
			f.newOrder(1+0.1*float64(i), "ly", "l"+string(rune('1'+i)), "buy", p, 2, 100, 101)
		}
	}
	cancelAll := func(f *feed, s float64, n int) {
		for i := range n {
			f.cancel(s+0.1*float64(i), "ly", "l"+string(rune('1'+i)), 2)
		}
	}
	cases := map[string]func(f *feed){
		"ladder cancelled without an opposite trade": func(f *feed) {
			ladder(f, 99, 98, 97)
			cancelAll(f, 4, 3)
		},
		"not successive levels": func(f *feed) {
			ladder(f, 99, 95, 91)
			f.trade(3, "t1", "ly", "s1", "h", "hb", "buy", 101, 2)
			cancelAll(f, 4, 3)
		},
		"one price level only": func(f *feed) {
			ladder(f, 99, 99, 99)
			f.trade(3, "t1", "ly", "s1", "h", "hb", "buy", 101, 2)
			cancelAll(f, 4, 3)
		},
		"trade on the ladder's side": func(f *feed) {
			ladder(f, 99, 98, 97)
			f.trade(3, "t1", "h", "hs", "ly", "b1", "buy", 101, 2)
			cancelAll(f, 4, 3)
		},
		"ladder left to rest": func(f *feed) {
			ladder(f, 99, 98, 97)
			f.trade(3, "t1", "ly", "s1", "h", "hb", "buy", 101, 2)
			f.cancel(4, "ly", "l1", 2)
		},
		"ladder withdrawn slowly, one level at a time": func(f *feed) {
			ladder(f, 99, 98, 97)
			f.trade(3, "t1", "ly", "s1", "h", "hb", "buy", 101, 2)
			f.cancel(4, "ly", "l1", 2)
			f.cancel(5.5, "ly", "l2", 2)
			f.cancel(7, "ly", "l3", 2)
		},
		"cancelled long after the trade": func(f *feed) {
			ladder(f, 99, 98, 97)
			f.trade(3, "t1", "ly", "s1", "h", "hb", "buy", 101, 2)
			cancelAll(f, 30, 3)
		},
		"ladder placed long before the trade": func(f *feed) {
			ladder(f, 99, 98, 97)
			f.trade(20, "t1", "ly", "s1", "h", "hb", "buy", 101, 2)
			cancelAll(f, 21, 3)
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFeed(Default(), nil)
			f.warm()
			c(f)
			assert.Empty(t, f.of(DetectorLayering))
		})
	}
}

func TestOrderToTradeRatio(t *testing.T) {
	cfg := Default()
	cfg.OTRMaxNumberRatio, cfg.OTRMaxVolumeRatio, cfg.OTRMinMessages = 10, 1000, 5
	f := newFeed(cfg, nil)
	// "hi": 20 new + 20 cancels of 1 lot, one more order of 1 lot modified to 3 and one trade
	// of 1 lot: number 42/1-1 = 41 > 10, volume 44/1-1 = 43 < 1000.
	// "ok": 5 new + 4 cancels, 1 trade: 9/1 - 1 = 8.
	for i := range 20 {
		id := "h" + string(rune('a'+i))
		f.newOrder(float64(i), "hi", id, "buy", 90, 1, 100, 101)
		f.cancel(float64(i)+0.5, "hi", id, 1)
	}
	for i := range 5 {
		id := "k" + string(rune('a'+i))
		f.newOrder(float64(i), "ok", id, "sell", 110, 1, 100, 101)
		if i > 0 {
			f.cancel(float64(i)+0.5, "ok", id, 1)
		}
	}
	f.newOrder(25, "hi", "hx", "buy", 90, 1, 100, 101)
	f.obs(Event{TS: at(26), Kind: KindModify, Account: "hi", Market: "M", OrderID: "hx", Side: "buy", Price: 90, Qty: 3})
	f.trade(30, "t1", "ok", "ka", "hi", "hx", "buy", 110, 1)
	// Venue cancels are no messages.
	for range 10 {
		f.obs(Event{TS: at(31), Kind: KindCancel, Account: "ok", Market: "M", OrderID: "x", Qty: 1, System: true})
	}
	require.Empty(t, f.of(DetectorOrderToTrade), "nothing before the session ends")
	f.flush(40)
	got := f.of(DetectorOrderToTrade)
	require.Len(t, got, 1)
	a := got[0]
	assert.Equal(t, "hi", a.Account)
	assert.Contains(t, a.Reason, "number (42 messages / 1 transactions) − 1 = 41.0")
	assert.Contains(t, a.Reason, "volume (44 lots / 1 lots) − 1 = 43.0")
	assert.InDelta(t, 4.1, a.Score, 1e-9)
	// Session boundary: the next day's first event closes the session by itself.
	f.alerts = nil
	for i := range 12 {
		f.newOrder(100+float64(i), "z", "z"+string(rune('a'+i)), "buy", 90, 1, 100, 101)
	}
	f.obs(Event{TS: t0.Add(24 * time.Hour), Kind: KindNew, Account: "q", Market: "M", OrderID: "q1", Side: "buy", Price: 90, Qty: 1})
	got = f.of(DetectorOrderToTrade)
	require.Len(t, got, 1)
	assert.Equal(t, "z", got[0].Account)
	assert.Contains(t, got[0].Reason, "no transactions")
}

func TestQuoteStuffing(t *testing.T) {
	cfg := Default()
	cfg.StuffMaxMessages, cfg.StuffWindow = 10, time.Second
	f := newFeed(cfg, nil)
	// Honest: 9 messages per second for 5 seconds, never more than 10 in any second.
	for i := range 45 {
		f.newOrder(0.11*float64(i)+0.05, "honest", "h"+string(rune(i)), "buy", 90, 1, 100, 101)
	}
	// Stuffer: 30 messages within 0.3 s at t=10.
	for i := range 30 {
		f.newOrder(10+0.01*float64(i), "st", "s"+string(rune(i)), "buy", 90, 1, 100, 101)
	}
	require.Empty(t, f.of(DetectorQuoteStuffing), "the burst is open")
	f.newOrder(12, "other", "o1", "buy", 90, 1, 100, 101) // a later event sweeps it
	f.newOrder(13, "other", "o2", "buy", 90, 1, 100, 101)
	got := f.of(DetectorQuoteStuffing)
	require.Len(t, got, 1)
	a := got[0]
	assert.Equal(t, "st", a.Account)
	assert.Equal(t, at(10), a.From)
	assert.Equal(t, at(10.29), a.To)
	assert.Contains(t, a.Reason, "30 messages")
	assert.Len(t, a.OrderIDs, 30, "every message of the burst")
	assert.Equal(t, "s\x00", a.OrderIDs[0])
}

func TestBoundedState(t *testing.T) {
	f := newFeed(Default(), nil)
	for i := range 5000 {
		s := float64(i) * 0.5
		acct := "a" + string(rune('a'+i%50))
		id := "o" + string(rune(i))
		f.newOrder(s, acct, id, "buy", 90, 1, 100, 101)
		f.trade(s, "t"+id, acct, id, "b"+acct, "x"+id, "sell", 90, 1)
	}
	// 2,500 s of flow: only the last windows' worth of state remains.
	assert.LessOrEqual(t, len(f.d.pairs), 50)
	assert.LessOrEqual(t, len(f.d.stuff), 100)
	total := 0
	for _, o := range f.d.owners {
		total += len(o.recent)
	}
	assert.LessOrEqual(t, total, 2*int(f.d.recentW/(500*time.Millisecond))+2)
	assert.Empty(t, f.d.orders, "filled orders are forgotten")
}

func TestLoadLinks(t *testing.T) {
	m, err := LoadLinks(strings.NewReader(`{"account":"a1","owner":"X"}` + "\n\n" + `{"account":"a2","owner":"X"}` + "\n"))
	require.NoError(t, err)
	assert.Equal(t, "X", m.Owner("a2"))
	assert.Equal(t, "z", m.Owner("z"))
	for _, bad := range []string{`{"account":"a1"}`, `{"account":"a","owner":"b","x":1}`, "nope", `{"account":"a","owner":"b"}` + "\n" + `{"account":"a","owner":"c"}`} {
		_, err := LoadLinks(strings.NewReader(bad))
		assert.ErrorContains(t, err, "links line", bad)
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Default().Validate())
	c := Default()
	c.WashWindow = 0
	c.SpoofMinCancelledFraction = 2
	err := c.Validate()
	assert.ErrorContains(t, err, "WashWindow")
	assert.ErrorContains(t, err, "SpoofMinCancelledFraction")
	// New falls back to defaults rather than misbehaving.
	assert.Equal(t, Default().WashWindow, New(c, nil).cfg.WashWindow)
}
