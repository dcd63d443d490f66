package matching_test

import (
	"fmt"
	"math/rand/v2"
	"slices"

	. "github.com/cantondex/platform/services/matching"
)

// testMarket has narrow limits so random flows hit every rejection.
func testMarket() Market {
	return Market{Symbol: "TST-USD", TickSize: "0.01", LotSize: "0.001", MinPrice: 90, MaxPrice: 110, MinQty: 1, MaxQty: 50}
}

// harness applies commands to a book and checks, after every one, the properties every book
// must keep: structure (CheckInvariants, which includes "never crossed"), quantity accounting
// per order (filled + open + cancelled = ordered), trade prices within both sides' limits and
// FIFO order within each level.
type harness struct {
	book    *Book
	out     []Event
	total   map[string]int64 // quantity ordered, adjusted by modifications
	done    map[string]int64 // filled + cancelled
	rank    map[string]int   // queue arrival rank of resting orders
	price   map[string]int64 // resting price of each order
	nextRnk int
}

func newHarness(b *Book) *harness {
	return &harness{book: b, total: map[string]int64{}, done: map[string]int64{}, rank: map[string]int{}, price: map[string]int64{}}
}

func (h *harness) apply(c Command) ([]Event, error) {
	b := h.book
	before, wasResting := b.Order(c.ID)
	// Resting prices of every maker, to check trades happen at the maker's price.
	h.out = b.Apply(c, h.out[:0])
	touched := map[string]bool{c.ID: true}
	for _, e := range h.out {
		if e.Seq != c.Seq {
			return h.out, fmt.Errorf("event %v carries seq %d, command %d", e.Type, e.Seq, c.Seq)
		}
		switch e.Type {
		case EvAccepted:
			h.total[e.ID] += e.Qty
		case EvModified:
			h.total[e.ID] += e.Qty - before.Qty
		case EvCancelled:
			h.done[e.ID] += e.Qty
			touched[e.ID] = true
		case EvTrade:
			h.done[e.MakerID] += e.Qty
			h.done[e.TakerID] += e.Qty
			touched[e.MakerID] = true
			limit := c.Price
			if c.Op == OpModify && c.Price == 0 {
				limit = before.Price
			}
			isMarket := c.Op == OpNew && c.Type == MarketOrder
			if !isMarket && ((e.Side == Buy && e.Price > limit) || (e.Side == Sell && e.Price < limit)) {
				return h.out, fmt.Errorf("trade at %d worse than taker %s limit %d", e.Price, e.TakerID, limit)
			}
			if e.Qty <= 0 {
				return h.out, fmt.Errorf("trade of %d", e.Qty)
			}
		}
	}
	// Trades happen at the maker's resting price, and never between an order and itself.
	for _, e := range h.out {
		if e.Type == EvTrade && (e.MakerID == e.TakerID || e.Price != h.price[e.MakerID]) {
			return h.out, fmt.Errorf("trade %s/%s at %d, maker rests at %d", e.MakerID, e.TakerID, e.Price, h.price[e.MakerID])
		}
	}
	if o, ok := b.Order(c.ID); ok {
		h.price[c.ID] = o.Price
	}
	if err := b.CheckInvariants(); err != nil {
		return h.out, err
	}
	for id := range touched {
		open := int64(0)
		if o, ok := b.Order(id); ok {
			open = o.Qty
		} else {
			delete(h.rank, id)
		}
		if _, known := h.total[id]; known && h.done[id]+open != h.total[id] {
			return h.out, fmt.Errorf("order %s: filled+cancelled %d + open %d != ordered %d", id, h.done[id], open, h.total[id])
		}
	}
	// Queue ranks: a newly resting order, or one whose modification lost priority, joins the back.
	if after, ok := b.Order(c.ID); ok {
		lost := c.Op == OpNew || (c.Op == OpModify && wasResting && (after.Price != before.Price || after.Qty > before.Qty))
		if lost && len(h.out) > 0 && h.out[0].Type != EvRejected {
			h.nextRnk++
			h.rank[c.ID] = h.nextRnk
		}
	}
	return h.out, h.checkFIFO(c.ID)
}

// checkFIFO checks the queue order of the level where id rests: only a new or modified order
// joins a queue, and removals cannot reorder one, so that is the only level a command can break.
func (h *harness) checkFIFO(id string) error {
	o, ok := h.book.Order(id)
	if !ok {
		return nil
	}
	ids := h.book.QueueIDs(o.Side, o.Price)
	if !slices.IsSortedFunc(ids, func(a, b string) int { return h.rank[a] - h.rank[b] }) {
		return fmt.Errorf("level %v %d not FIFO: %v", o.Side, o.Price, ids)
	}
	return nil
}

// randomCommand draws a command from a small space of ids, accounts and prices so that
// duplicates, self-trades, crossings, cancels of live orders and every rejection all happen.
func randomCommand(rng *rand.Rand, seq uint64) Command {
	return randomCommandIn(rng, seq, 64, 95, 11)
}

// randomCommandIn draws from nIDs ids and limit prices in [lo, lo+span).
func randomCommandIn(rng *rand.Rand, seq uint64, nIDs int, lo int64, span int) Command {
	c := Command{Seq: seq, ID: fmt.Sprintf("o%d", rng.IntN(nIDs))}
	switch r := rng.IntN(100); {
	case r < 55:
		c.Op = OpNew
	case r < 70:
		c.Op = OpCancel
		return c
	case r < 99:
		c.Op = OpModify
		if rng.IntN(3) > 0 {
			c.Price = randomPrice(rng, lo, span)
		}
		if rng.IntN(2) == 0 {
			c.Qty = randomQty(rng)
		}
		return c
	default:
		c.Op = Op(rng.IntN(5))
	}
	c.Account = []string{"alice", "bob", "carol"}[rng.IntN(3)]
	if rng.IntN(40) == 0 {
		c.Account = ""
	}
	c.Side = Side(1 + rng.IntN(2))
	if rng.IntN(200) == 0 {
		c.Side = 0
	}
	c.Type = Limit
	if rng.IntN(10) == 0 {
		c.Type = MarketOrder
	}
	switch r := rng.IntN(100); {
	case r < 70:
		c.TIF = GTC
	case r < 85:
		c.TIF = IOC
	case r < 99:
		c.TIF = FOK
	default:
		c.TIF = 3 // invalid
	}
	c.PostOnly = rng.IntN(8) == 0
	c.STP = STP(rng.IntN(3))
	c.Price = randomPrice(rng, lo, span)
	c.Qty = randomQty(rng)
	return c
}

func randomPrice(rng *rand.Rand, lo int64, span int) int64 {
	if rng.IntN(50) == 0 {
		return []int64{-1, 0, 89, 111, 5000}[rng.IntN(5)]
	}
	return lo + int64(rng.IntN(span))
}

func randomQty(rng *rand.Rand) int64 {
	if rng.IntN(50) == 0 {
		return []int64{-3, 0, 51}[rng.IntN(3)]
	}
	return 1 + int64(rng.IntN(20))
}
