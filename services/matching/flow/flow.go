// Package flow generates synthetic, reproducible order flow for benchmarking and testing the
// matching engine. A flow is generated once, outside any timing, by driving a real book so that
// cancels and modifications name orders that are actually resting; replaying it on a fresh book
// then reproduces the same state transitions.
package flow

import (
	"fmt"
	"math/rand/v2"

	"github.com/cantondex/platform/services/matching"
)

// Mix is the share of each command kind, in percent; the rest of 100 goes to Modify.
type Mix struct {
	GTC    int // new GTC limit orders
	IOC    int // new IOC limit orders (aggressive)
	Cancel int
	// Modify (the remainder) moves a resting order's price by a few ticks, sometimes across the
	// spread so it trades.
}

// ExchangeCore is the mix of exchange-core's benchmark flow: 9% GTC, 3% IOC, 6% cancel and
// 82% modify that moves the price.
var ExchangeCore = Mix{GTC: 9, IOC: 3, Cancel: 6}

// Config shapes a flow.
type Config struct {
	Market   matching.Market
	Commands int    // commands to generate after the initial book
	Depth    int    // resting orders placed before the measured commands (the initial book)
	Accounts int    // distinct accounts (self-trade prevention fires between them)
	Mix      Mix    // share of command kinds
	Seed     uint64 // same seed, same flow
	Mid      int64  // centre price in ticks
	Spread   int64  // prices spread over Mid±Spread ticks
}

// Flow is a generated command stream: Warmup builds the initial book, Commands are measured.
type Flow struct {
	Warmup   []matching.Command
	Commands []matching.Command
}

// Generate builds a flow. It runs a book internally, so it is deterministic for a seed.
func Generate(c Config) (Flow, error) {
	if c.Accounts <= 0 || c.Spread <= 0 || c.Mid <= c.Spread {
		return Flow{}, fmt.Errorf("flow: need accounts > 0 and mid > spread > 0")
	}
	book, err := matching.NewBook(c.Market)
	if err != nil {
		return Flow{}, err
	}
	g := &gen{cfg: c, book: book, rng: rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)), pos: map[string]int{}}
	g.accounts = make([]string, c.Accounts)
	for i := range g.accounts {
		g.accounts[i] = fmt.Sprintf("acct-%d", i)
	}
	var f Flow
	for len(f.Warmup) < c.Depth {
		f.Warmup = append(f.Warmup, g.apply(g.newOrder(matching.GTC, false)))
	}
	for len(f.Commands) < c.Commands {
		f.Commands = append(f.Commands, g.apply(g.next()))
	}
	return f, nil
}

type gen struct {
	cfg      Config
	book     *matching.Book
	rng      *rand.Rand
	accounts []string
	nextID   int
	seq      uint64
	live     []string       // ids believed resting
	pos      map[string]int // index in live
	events   []matching.Event
}

func (g *gen) next() matching.Command {
	r := g.rng.IntN(100)
	m := g.cfg.Mix
	switch {
	case r < m.GTC || len(g.live) == 0:
		// Past the target depth new orders cross and take liquidity, so the book stays near
		// its initial size as on a venue in steady state.
		return g.newOrder(matching.GTC, len(g.live) > g.cfg.Depth)
	case r < m.GTC+m.IOC:
		return g.newOrder(matching.IOC, true)
	case r < m.GTC+m.IOC+m.Cancel:
		return matching.Command{Op: matching.OpCancel, ID: g.live[g.rng.IntN(len(g.live))]}
	}
	id := g.live[g.rng.IntN(len(g.live))]
	o, _ := g.book.Order(id)
	// Move the price a few ticks, mostly towards the other side so orders keep meeting.
	step := int64(g.rng.IntN(7)) - 2
	if o.Side == matching.Sell {
		step = -step
	}
	price := g.clamp(o.Price + step)
	if price == o.Price {
		price = g.clamp(o.Price - 1)
	}
	return matching.Command{Op: matching.OpModify, ID: id, Price: price}
}

func (g *gen) clamp(p int64) int64 {
	lo, hi := g.cfg.Mid-g.cfg.Spread, g.cfg.Mid+g.cfg.Spread
	return max(lo, min(hi, p))
}

// newOrder places a limit order: passive ones on their own side of the mid, aggressive ones
// across it.
func (g *gen) newOrder(tif matching.TIF, aggressive bool) matching.Command {
	g.nextID++
	side := matching.Buy
	if g.rng.IntN(2) == 1 {
		side = matching.Sell
	}
	off := int64(g.rng.IntN(int(g.cfg.Spread))) + 1
	if aggressive {
		off = -int64(g.rng.IntN(4))
	}
	price := g.cfg.Mid - off
	if side == matching.Sell {
		price = g.cfg.Mid + off
	}
	return matching.Command{Op: matching.OpNew, ID: fmt.Sprintf("o-%d", g.nextID),
		Account: g.accounts[g.rng.IntN(len(g.accounts))], Side: side, Type: matching.Limit, TIF: tif,
		Price: g.clamp(price), Qty: int64(g.rng.IntN(100)) + 1}
}

// apply feeds c to the generator's book and tracks which orders rest.
func (g *gen) apply(c matching.Command) matching.Command {
	g.seq++
	c.Seq = g.seq
	g.events = g.book.Apply(c, g.events[:0])
	for _, e := range g.events {
		switch {
		case e.Type == matching.EvCancelled:
			g.drop(e.ID)
		case e.Type == matching.EvTrade:
			if e.MakerRemaining == 0 {
				g.drop(e.MakerID)
			}
			if e.Remaining == 0 {
				g.drop(e.TakerID)
			}
		}
	}
	if c.Op == matching.OpNew {
		if _, ok := g.book.Order(c.ID); ok {
			g.pos[c.ID] = len(g.live)
			g.live = append(g.live, c.ID)
		}
	}
	return c
}

func (g *gen) drop(id string) {
	i, ok := g.pos[id]
	if !ok {
		return
	}
	last := g.live[len(g.live)-1]
	g.live[i] = last
	g.pos[last] = i
	g.live = g.live[:len(g.live)-1]
	delete(g.pos, id)
}
