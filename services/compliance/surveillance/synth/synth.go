// Package synth generates labelled synthetic order flow for measuring the surveillance
// detectors: honest market makers, takers and large traders, with planted episodes of each
// abuse kind whose ground truth is recorded. Same seed, same flow.
//
// How the flow is made. One market (tick 0.01, lot 0.001) whose reference mid takes a random
// walk of one tick with probability 1/10 each second. Every command is applied at once to a
// real matching engine book (surveillance.Replayer), so the generator places planted orders
// against the real touch and checks afterwards, from the engine's own events, that each
// planted episode really happened (an episode the book made impossible, say a round trip whose
// second leg found the price moved away, is dropped from the ground truth and counted in
// Flow.Dropped). Time advances from one action to the next in a single event queue.
//
// Honest participants:
//   - market makers (mm-*): about one action a second each; with 20 or more live orders, or
//     otherwise at random with probability 1/2, they cancel one of their live orders chosen at
//     random (random cancels); else they place a limit order of 1-10 lots on a random side,
//     0-4 ticks behind mid±1;
//   - takers (tk-*): about one action every 5 s each: an IOC order of 1-8 lots crossing the
//     touch on a random side, or (1 in 5) a passive order 1-3 ticks behind the touch that they
//     cancel 5-60 s later;
//   - large traders (big-*): about one action a minute each: a large order (40-80 lots, like a
//     spoofer's) at or near the touch on their side of the day, cancelled 2-20 s later (they
//     changed their mind), sometimes trading on the same side meanwhile: the near misses of
//     spoofing.
//
// Planted episodes (Episode.Kind is the detector that should fire), spread evenly over the
// flow with jitter, each by its own accounts:
//   - wash_trade, linked: accounts wl-N-a and wl-N-b of owner wash-owner-N (Flow.Links); a
//     places 1-10 lots inside the spread (waiting up to 15 s for a spread of two ticks), b takes
//     them 10-200 ms later with an IOC order;
//   - wash_trade, round trip: unlinked accounts rt-N-a and rt-N-b; a sells q to b inside the
//     spread (b's IOC order at once), 2-8 s later b sells q back to a the same way at a price
//     at most a tick from the first (waiting up to 15 s for one);
//   - spoofing: sp-N places a large order (40-80 lots) 1-3 ticks behind the touch, 0.5-3 s later
//     trades 1-5 lots on the other side with an IOC order at the touch, and 0.5-4 s later
//     cancels the large order;
//   - layering: ly-N places 3-5 orders of 2-6 lots on successive levels behind the touch,
//     0.1-0.5 s apart, then trades 1-5 lots on the other side at the touch, then 0.3-3 s later
//     cancels the ladder, 0.05-0.3 s apart;
//   - quote_stuffing: qs-N sends 100-300 new/cancel messages far from the touch within 0.5-2 s;
//   - order_to_trade: ot-N rests and cancels small orders far from the touch every 2-4 s all
//     session and trades once: number ratio about (messages − 1), far above 100.
package synth

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cantondex/platform/services/compliance/surveillance"
	"github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/matching/journal"
)

// Config shapes a flow. Zero fields take the defaults of Default.
type Config struct {
	Seed         uint64
	Start        time.Time
	Duration     time.Duration
	MarketMakers int
	Takers       int
	LargeTraders int
	// Planted episodes per kind.
	WashLinked, WashRoundTrip, Spoofing, Layering, QuoteStuffing, OrderToTrade int
}

// Default is one hour with 6 market makers, 20 takers, 3 large traders and 40 episodes each of
// linked wash trades, round trips, spoofing and layering, 10 quote-stuffing bursts and 3
// accounts over the order-to-trade limit.
func Default() Config {
	return Config{
		Seed: 1, Start: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), Duration: time.Hour,
		MarketMakers: 6, Takers: 20, LargeTraders: 3,
		WashLinked: 40, WashRoundTrip: 40, Spoofing: 40, Layering: 40, QuoteStuffing: 10, OrderToTrade: 3,
	}
}

// Market is the market of every flow.
var Market = matching.Market{Symbol: "SYN-USD", TickSize: "0.01", LotSize: "0.001"}

// Line is one journal command and its time.
type Line struct {
	TS  time.Time
	Cmd journal.Wire
}

// Episode is the ground truth of one planted abuse.
type Episode struct {
	Kind     string // the detector that should fire (surveillance.Detector*)
	Variant  string // for wash trades: "linked" or "round_trip"
	Account  string
	OrderIDs []string // the abuser's orders that make it
	From, To time.Time
}

// Flow is a generated journal with its ground truth.
type Flow struct {
	Lines    []Line
	Events   []surveillance.Event // what the engine made of Lines, in order
	Episodes []Episode
	Links    surveillance.LinkMap
	Dropped  map[string]int // planted episodes that did not happen, per kind (and variant)
}

// WriteJournal writes the flow as a surveil journal (the replay format plus "ts").
func (f *Flow) WriteJournal(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, l := range f.Lines {
		v := struct {
			TS string `json:"ts"`
			journal.Wire
		}{l.TS.UTC().Format(time.RFC3339Nano), l.Cmd}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// WriteLinks writes the links as links.jsonl, in account order.
func (f *Flow) WriteLinks(w io.Writer) error {
	keys := make([]string, 0, len(f.Links))
	for k := range f.Links {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, err := fmt.Fprintf(w, `{"account":%q,"owner":%q}`+"\n", k, f.Links[k]); err != nil {
			return err
		}
	}
	return nil
}

// step is a scheduled action.
type step struct {
	at  time.Time
	seq int // tie-break: scheduling order
	fn  func()
}

type queue []step

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(step)) }
func (q *queue) Pop() any {
	old := *q
	s := old[len(old)-1]
	*q = old[:len(old)-1]
	return s
}

type gen struct {
	cfg  Config
	rng  *rand.Rand
	rep  *surveillance.Replayer
	book *matching.Book
	mkt  *matching.Market
	now  time.Time
	end  time.Time
	q    queue
	nseq int
	mid  int64
	ids  int
	flow Flow
	live map[string][]string // account -> live order ids (honest bookkeeping)
	// per order: what the engine did to it
	traded    map[string]int64  // order id -> lots traded
	cancelled map[string]int64  // order id -> lots cancelled by the trader
	counter   map[string]string // order id -> counterparty order ids traded with (first)
	pairs     map[[2]string]int64
	checks    []func() bool // per episode, run at the end: did it happen?
	pending   []Episode
}

// Generate builds a flow.
func Generate(cfg Config) (*Flow, error) {
	d := Default()
	if cfg.Start.IsZero() {
		cfg.Start = d.Start
	}
	if cfg.Duration <= 0 {
		cfg.Duration = d.Duration
	}
	if cfg.MarketMakers <= 0 {
		cfg.MarketMakers = d.MarketMakers
	}
	if cfg.Takers <= 0 {
		cfg.Takers = d.Takers
	}
	rep, err := surveillance.NewReplayer([]matching.Market{Market})
	if err != nil {
		return nil, err
	}
	g := &gen{
		cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed5eed)), rep: rep,
		book: rep.Book(Market.Symbol), now: cfg.Start, end: cfg.Start.Add(cfg.Duration), mid: 10_000,
		live: map[string][]string{}, traded: map[string]int64{}, cancelled: map[string]int64{},
		counter: map[string]string{}, pairs: map[[2]string]int64{},
		flow: Flow{Links: surveillance.LinkMap{}, Dropped: map[string]int{}},
	}
	g.mkt = g.book.Market()
	g.schedule(g.now, g.walk)
	for i := range cfg.MarketMakers {
		acct := fmt.Sprintf("mm-%d", i+1)
		// Seed each maker's book, then let it act.
		for range 8 {
			g.makerQuote(acct)
		}
		g.every(acct, time.Second, g.makerAct)
	}
	for i := range cfg.Takers {
		g.every(fmt.Sprintf("tk-%d", i+1), 5*time.Second, g.takerAct)
	}
	for i := range cfg.LargeTraders {
		buy := i%2 == 0
		g.every(fmt.Sprintf("big-%d", i+1), time.Minute, func(a string) { g.largeAct(a, buy) })
	}
	g.plant(cfg.WashLinked, g.washLinked)
	g.plant(cfg.WashRoundTrip, g.roundTrip)
	g.plant(cfg.Spoofing, g.spoof)
	g.plant(cfg.Layering, g.layer)
	g.plant(cfg.QuoteStuffing, g.stuff)
	for i := range cfg.OrderToTrade {
		g.otr(fmt.Sprintf("ot-%d", i+1))
	}
	for g.q.Len() > 0 {
		s := heap.Pop(&g.q).(step)
		if s.at.After(g.end) {
			continue
		}
		g.now = s.at
		s.fn()
	}
	for i, ok := range g.checks {
		if ok() {
			g.flow.Episodes = append(g.flow.Episodes, g.pending[i])
		} else {
			e := g.pending[i]
			g.flow.Dropped[strings.TrimSuffix(e.Kind+"/"+e.Variant, "/")]++
		}
	}
	return &g.flow, nil
}

func (g *gen) schedule(at time.Time, fn func()) {
	g.nseq++
	heap.Push(&g.q, step{at: at, seq: g.nseq, fn: fn})
}

func (g *gen) after(d time.Duration, fn func()) { g.schedule(g.now.Add(d), fn) }

// exp is an exponential delay with mean m.
func (g *gen) exp(m time.Duration) time.Duration {
	return time.Duration(g.rng.ExpFloat64() * float64(m))
}

// uniform is a delay in [lo, hi).
func (g *gen) uniform(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64(hi-lo)))
}

func (g *gen) between(lo, hi int64) int64 { return lo + g.rng.Int64N(hi-lo+1) }

// every runs act for account at exponential intervals of mean m.
func (g *gen) every(account string, m time.Duration, act func(string)) {
	var tick func()
	tick = func() {
		act(account)
		g.after(g.exp(m), tick)
	}
	g.after(g.exp(m), tick)
}

// plant spreads n episodes evenly over the flow (leaving the first and last minute alone).
func (g *gen) plant(n int, ep func()) {
	if n <= 0 {
		return
	}
	span := g.cfg.Duration - 2*time.Minute
	slot := span / time.Duration(n)
	for i := range n {
		at := g.cfg.Start.Add(time.Minute + time.Duration(i)*slot + g.uniform(0, max(slot-15*time.Second, time.Second)))
		g.schedule(at, ep)
	}
}

func (g *gen) walk() {
	if g.rng.IntN(10) == 0 {
		if g.rng.IntN(2) == 0 {
			g.mid++
		} else {
			g.mid--
		}
	}
	g.after(time.Second, g.walk)
}

func (g *gen) newID(prefix string) string {
	g.ids++
	return prefix + "-" + strconv.Itoa(g.ids)
}

func (g *gen) touch() (bid, ask int64) {
	if l, ok := g.book.BestBid(); ok {
		bid = l.Price
	}
	if l, ok := g.book.BestAsk(); ok {
		ask = l.Price
	}
	if bid == 0 {
		bid = g.mid - 1
	}
	if ask == 0 {
		ask = g.mid + 1
	}
	return bid, ask
}

// apply sends one command to the engine and records it and its events.
func (g *gen) apply(w journal.Wire) {
	g.flow.Lines = append(g.flow.Lines, Line{TS: g.now, Cmd: w})
	evs := g.rep.Apply(uint64(len(g.flow.Lines)), g.now, &w)
	for _, ev := range evs {
		switch ev.Kind {
		case surveillance.KindTrade:
			g.traded[ev.MakerOrderID] += ev.Qty
			g.traded[ev.TakerOrderID] += ev.Qty
			if _, ok := g.counter[ev.TakerOrderID]; !ok {
				g.counter[ev.TakerOrderID] = ev.MakerOrderID
			}
			g.pairs[[2]string{ev.MakerOrderID, ev.TakerOrderID}] += ev.Qty
		case surveillance.KindCancel:
			if !ev.System {
				g.cancelled[ev.OrderID] += ev.Qty
			}
		}
	}
	g.flow.Events = append(g.flow.Events, evs...)
}

func (g *gen) price(t int64) string { return string(g.mkt.AppendPrice(nil, t)) }
func (g *gen) qty(l int64) string   { return string(g.mkt.AppendQty(nil, l)) }

// limit places a limit order and returns its id.
func (g *gen) limit(account, prefix string, buy bool, price, lots int64, tif string) string {
	id := g.newID(prefix)
	side := "sell"
	if buy {
		side = "buy"
	}
	g.apply(journal.Wire{Op: "new", ID: id, Account: account, Market: Market.Symbol, Side: side, Type: "limit",
		Price: g.price(price), Qty: g.qty(lots), TIF: tif})
	return id
}

func (g *gen) cancel(id string) { g.apply(journal.Wire{Op: "cancel", ID: id}) }

// resting reports whether id still rests.
func (g *gen) resting(id string) bool { _, ok := g.book.Order(id); return ok }

// pruneLive drops orders of account that no longer rest.
func (g *gen) pruneLive(account string) []string {
	l := g.live[account][:0]
	for _, id := range g.live[account] {
		if g.resting(id) {
			l = append(l, id)
		}
	}
	g.live[account] = l
	return l
}

func (g *gen) makerQuote(acct string) {
	buy := g.rng.IntN(2) == 0
	k := g.between(0, 4)
	p := g.mid + 1 + k
	if buy {
		p = g.mid - 1 - k
	}
	id := g.limit(acct, "mm", buy, p, g.between(1, 10), "")
	g.live[acct] = append(g.live[acct], id)
}

func (g *gen) makerAct(acct string) {
	live := g.pruneLive(acct)
	if len(live) >= 20 || (len(live) > 4 && g.rng.IntN(2) == 0) {
		i := g.rng.IntN(len(live))
		g.cancel(live[i])
		g.live[acct] = slices.Delete(live, i, i+1)
		return
	}
	g.makerQuote(acct)
}

func (g *gen) takerAct(acct string) {
	buy := g.rng.IntN(2) == 0
	bid, ask := g.touch()
	if g.rng.IntN(5) == 0 {
		p := ask + g.between(1, 3)
		if buy {
			p = bid - g.between(1, 3)
		}
		id := g.limit(acct, "tk", buy, p, g.between(1, 8), "")
		g.after(g.uniform(5*time.Second, 60*time.Second), func() {
			if g.resting(id) {
				g.cancel(id)
			}
		})
		return
	}
	p := bid - 2
	if buy {
		p = ask + 2
	}
	g.limit(acct, "tk", buy, p, g.between(1, 8), "IOC")
}

func (g *gen) largeAct(acct string, buy bool) {
	bid, ask := g.touch()
	p := ask + g.between(0, 2)
	if buy {
		p = bid - g.between(0, 2)
	}
	id := g.limit(acct, "big", buy, p, g.between(40, 80), "")
	if g.rng.IntN(2) == 0 {
		g.after(g.uniform(time.Second, 2*time.Second), func() {
			b, a := g.touch()
			tp := b - 1
			if buy {
				tp = a + 1
			}
			g.limit(acct, "big", buy, tp, g.between(1, 5), "IOC") // same side: no spoofing
		})
	}
	g.after(g.uniform(2*time.Second, 20*time.Second), func() {
		if g.resting(id) {
			g.cancel(id)
		}
	})
}

// expect registers an episode and the check that it happened.
func (g *gen) expect(e Episode, ok func() bool) {
	g.pending = append(g.pending, e)
	g.checks = append(g.checks, ok)
}

func (g *gen) episodeN(kind string) int {
	n := 1
	for _, e := range g.pending {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// inside returns a price strictly inside the spread, or false.
func (g *gen) inside() (int64, bool) {
	bid, ask := g.touch()
	if ask-bid < 2 {
		return 0, false
	}
	return bid + (ask-bid)/2, true
}

func (g *gen) washLinked() {
	n := g.episodeN(surveillance.DetectorWash)
	a, b := fmt.Sprintf("wl-%d-a", n), fmt.Sprintf("wl-%d-b", n)
	owner := fmt.Sprintf("wash-owner-%d", n)
	g.flow.Links[a], g.flow.Links[b] = owner, owner
	g.expect(Episode{Kind: surveillance.DetectorWash, Variant: "linked", Account: b, From: g.now}, func() bool { return false })
	idx := len(g.pending) - 1
	lots := g.between(1, 10)
	sell := g.rng.IntN(2) == 0
	g.whenInside(func(p int64) {
		g.pending[idx].From = g.now
		s := g.limit(a, "wl", !sell, p, lots, "")
		g.after(g.uniform(10*time.Millisecond, 200*time.Millisecond), func() {
			t := g.limit(b, "wl", sell, p, lots, "IOC")
			g.pending[idx].OrderIDs = []string{s, t}
			g.pending[idx].To = g.now
			g.checks[idx] = func() bool { return g.pairs[[2]string{s, t}] > 0 }
			if g.resting(s) {
				g.after(time.Second, func() { g.cancel(s) })
			}
		})
	})
}

// whenInside runs fn with a price inside the spread as soon as the spread is wider than a
// tick, checking every half second for up to 15 s (colluders wait for room to trade).
func (g *gen) whenInside(fn func(p int64)) {
	var try func(k int)
	try = func(k int) {
		if p, ok := g.inside(); ok {
			fn(p)
		} else if k < 30 {
			g.after(500*time.Millisecond, func() { try(k + 1) })
		}
	}
	try(0)
}

func (g *gen) roundTrip() {
	n := g.episodeN(surveillance.DetectorWash)
	a, b := fmt.Sprintf("rt-%d-a", n), fmt.Sprintf("rt-%d-b", n)
	g.expect(Episode{Kind: surveillance.DetectorWash, Variant: "round_trip", Account: b, From: g.now}, func() bool { return false })
	idx := len(g.pending) - 1
	g.whenInside(func(p int64) { g.roundTripLegs(idx, a, b, p) })
}

func (g *gen) roundTripLegs(idx int, a, b string, p int64) {
	g.pending[idx].From = g.now
	lots := g.between(1, 10)
	s1 := g.limit(a, "rt", false, p, lots, "")
	b1 := g.limit(b, "rt", true, p, lots, "IOC")
	// The way back, 2-8 s later, at a price inside the spread at most a tick from the first
	// (colluders wait for one, or give up after 15 s).
	var back func(k int)
	back = func(k int) {
		p2, ok := g.inside()
		if !ok || p2 < p-1 || p2 > p+1 {
			if k < 30 {
				g.after(500*time.Millisecond, func() { back(k + 1) })
			}
			return
		}
		s2 := g.limit(b, "rt", false, p2, lots, "")
		b2 := g.limit(a, "rt", true, p2, lots, "IOC")
		g.pending[idx].OrderIDs = []string{s1, b1, s2, b2}
		g.pending[idx].To = g.now
		g.checks[idx] = func() bool {
			return g.pairs[[2]string{s1, b1}] == lots && g.pairs[[2]string{s2, b2}] == lots
		}
	}
	g.after(g.uniform(2*time.Second, 8*time.Second), func() { back(0) })
}

func (g *gen) spoof() {
	n := g.episodeN(surveillance.DetectorSpoofing)
	acct := fmt.Sprintf("sp-%d", n)
	g.expect(Episode{Kind: surveillance.DetectorSpoofing, Account: acct, From: g.now}, func() bool { return false })
	idx := len(g.pending) - 1
	buy := g.rng.IntN(2) == 0
	bid, ask := g.touch()
	j := g.between(1, 3)
	p := ask + j
	if buy {
		p = bid - j
	}
	big := g.newID("sp")
	bigLots := g.between(40, 80)
	side := "sell"
	if buy {
		side = "buy"
	}
	g.apply(journal.Wire{Op: "new", ID: big, Account: acct, Market: Market.Symbol, Side: side, Type: "limit", Price: g.price(p), Qty: g.qty(bigLots)})
	g.after(g.uniform(500*time.Millisecond, 3*time.Second), func() {
		b, a := g.touch()
		tp := a // a large sell: buy at the ask; a large buy: sell at the bid
		if buy {
			tp = b
		}
		opp := g.limit(acct, "sp", !buy, tp, g.between(1, 5), "IOC")
		g.after(g.uniform(500*time.Millisecond, 4*time.Second), func() {
			if !g.resting(big) {
				return
			}
			g.cancel(big)
			g.pending[idx].OrderIDs = []string{big, opp}
			g.pending[idx].To = g.now
			g.checks[idx] = func() bool {
				return g.traded[opp] > 0 && g.cancelled[big]*10 >= bigLots*8
			}
		})
	})
}

func (g *gen) layer() {
	n := g.episodeN(surveillance.DetectorLayering)
	acct := fmt.Sprintf("ly-%d", n)
	g.expect(Episode{Kind: surveillance.DetectorLayering, Account: acct, From: g.now}, func() bool { return false })
	idx := len(g.pending) - 1
	buy := g.rng.IntN(2) == 0
	levels := int(g.between(3, 5))
	var ladder []string
	lots := map[string]int64{}
	var first int64 // the first level; the others follow it tick by tick
	var place func(i int)
	place = func(i int) {
		if i == 0 {
			bid, ask := g.touch()
			first = ask + 1
			if buy {
				first = bid - 1
			}
		}
		p := first + int64(i)
		if buy {
			p = first - int64(i)
		}
		q := g.between(2, 6)
		id := g.limit(acct, "ly", buy, p, q, "")
		ladder = append(ladder, id)
		lots[id] = q
		if i+1 < levels {
			g.after(g.uniform(100*time.Millisecond, 500*time.Millisecond), func() { place(i + 1) })
			return
		}
		g.after(g.uniform(200*time.Millisecond, time.Second), func() {
			b, a := g.touch()
			tp := a
			if buy {
				tp = b
			}
			opp := g.limit(acct, "ly", !buy, tp, g.between(1, 5), "IOC")
			g.after(g.uniform(300*time.Millisecond, 3*time.Second), func() {
				var cancel func(k int)
				cancel = func(k int) {
					if g.resting(ladder[k]) {
						g.cancel(ladder[k])
					}
					if k+1 < len(ladder) {
						g.after(g.uniform(50*time.Millisecond, 300*time.Millisecond), func() { cancel(k + 1) })
						return
					}
					g.pending[idx].OrderIDs = append(slices.Clone(ladder), opp)
					g.pending[idx].To = g.now
					g.checks[idx] = func() bool {
						withdrawn := 0
						for _, id := range ladder {
							if g.cancelled[id]*10 >= lots[id]*8 {
								withdrawn++
							}
						}
						return g.traded[opp] > 0 && withdrawn >= 3
					}
				}
				cancel(0)
			})
		})
	}
	place(0)
}

func (g *gen) stuff() {
	n := g.episodeN(surveillance.DetectorQuoteStuffing)
	acct := fmt.Sprintf("qs-%d", n)
	msgs := int(g.between(50, 150)) // pairs: 100-300 messages
	span := g.uniform(500*time.Millisecond, 2*time.Second)
	gap := span / time.Duration(2*msgs)
	g.expect(Episode{Kind: surveillance.DetectorQuoteStuffing, Account: acct, From: g.now, To: g.now.Add(span)}, func() bool { return true })
	var send func(i int)
	send = func(i int) {
		bid, _ := g.touch()
		id := g.limit(acct, "qs", true, bid-50-int64(i%5), 1, "")
		g.after(gap, func() {
			g.cancel(id)
			if i+1 < msgs {
				g.after(gap, func() { send(i + 1) })
			}
		})
	}
	send(0)
}

func (g *gen) otr(acct string) {
	g.expect(Episode{Kind: surveillance.DetectorOrderToTrade, Account: acct, From: g.cfg.Start, To: g.end}, func() bool { return true })
	var act func()
	first := true
	act = func() {
		_, ask := g.touch()
		if first { // one trade in the session
			first = false
			g.limit(acct, "ot", true, ask+2, 1, "IOC")
		}
		id := g.limit(acct, "ot", false, ask+30, 1, "")
		g.after(g.uniform(time.Second, 2*time.Second), func() {
			g.cancel(id)
			g.after(g.uniform(time.Second, 2*time.Second), act)
		})
	}
	g.after(g.uniform(time.Second, 10*time.Second), act)
}
