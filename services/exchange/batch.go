package exchange

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/platform/telemetry"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/trading"
)

// NewOrder is an order to record (pending) with the hold that reserves its funds.
type NewOrder struct {
	Order trading.Order
	Hold  ledger.Transfer
	// OpenLimit, when positive, is the account's open-order limit, which CreateOrders
	// enforces atomically with the other orders it records (concurrent batches included).
	OpenLimit int
}

// Recorded is the outcome of recording one NewOrder, as Store.CreateOrder reports it.
type Recorded struct {
	Order   trading.Order
	Existed bool
	Err     error
}

// BatchStore is implemented by stores that record many new orders in one transaction
// (postgres.Store): order entry then commits concurrent orders together.
type BatchStore interface {
	// CreateOrders records each order as CreateOrder would, in order, and commits them
	// together. A domain error of one order (insufficient funds, the open-order limit) is
	// reported in its Recorded and does not affect the others; an error return means nothing
	// was recorded.
	CreateOrders(ctx context.Context, os []NewOrder) ([]Recorded, error)
	// PreTradeAll reads PreTrade's state for each accounts[i] and markets[i] in one query,
	// with the id of accounts[i]'s order whose client order id is clients[i] ("" when there
	// is none or clients[i] is ""), so that a retried order is answered without a lookup of
	// its own.
	PreTradeAll(ctx context.Context, accounts, markets, clients []string) (states []risk.State, existing []string, err error)
}

// maxBatch bounds how many orders one commit records and one publish sends.
const maxBatch = 256

// placement is one PlaceOrder, checked for everything but the account's and market's state,
// waiting for the batch writer.
type placement struct {
	ctx  context.Context
	req  trading.PlaceOrder
	mi   marketInfo
	done chan Recorded // buffered: the writer never waits for the caller
}

type recordedBatch struct {
	ps  []*placement
	res []Recorded
}

// batcher is order entry's group commit. Concurrent PlaceOrder calls hand their order to a
// writer, which reads the pre-trade state of everything that arrived while its previous batch
// was being written in one query, runs the checks, and records the orders that pass in one
// transaction; publish then sends the batch's commands to the orders log in one request
// while the writer records its next batch, and only then answers the callers. Nothing waits
// for a timer: a lone order is written at once.
//
// Each account belongs to one writer (by a hash of its name): the writers' batches never
// lock the same account's rows, so they commit side by side instead of waiting for each
// other, and an account's orders are recorded in the order they arrived.
type batcher struct {
	queues  []chan *placement // one per writer, unbuffered: a send succeeds only while it runs
	stopped chan struct{}     // closed when the writers no longer receive
	seed    maphash.Seed      // spreads the accounts over the writers
}

func newBatcher() *batcher {
	b := &batcher{queues: make([]chan *placement, writers), stopped: make(chan struct{}), seed: maphash.MakeSeed()}
	for i := range b.queues {
		b.queues[i] = make(chan *placement)
	}
	return b
}

// queue is the queue of the writer that owns account.
func (b *batcher) queue(account string) chan *placement {
	return b.queues[maphash.String(b.seed, account)%uint64(len(b.queues))]
}

// submit hands o to the writer and waits for its result; ok is false when the writer is not
// running (the caller then records the order itself).
func (b *batcher) submit(ctx context.Context, req trading.PlaceOrder, mi marketInfo) (_ Recorded, ok bool) {
	p := &placement{ctx: ctx, req: req, mi: mi, done: make(chan Recorded, 1)}
	select {
	case b.queue(req.Account) <- p:
	case <-b.stopped:
		return Recorded{}, false
	case <-ctx.Done():
		return Recorded{Err: ctx.Err()}, true
	}
	select {
	case r := <-p.done:
		return r, true
	case <-ctx.Done():
		// The order may still be recorded and published, as when a caller gives up during
		// a direct write.
		return Recorded{Err: ctx.Err()}, true
	}
}

// writers is how many batches order entry records at once, each for its own accounts: while
// one waits for its commit to be flushed, the others write theirs, so that the server's WAL
// flushes cover several batches.
const writers = 3

// runBatcher runs the writers and the publisher until ctx ends; orders already taken are
// finished before it returns.
func (s *Service) runBatcher(ctx context.Context, b *batcher, bs BatchStore) {
	recorded := make(chan recordedBatch, writers)
	var pub sync.WaitGroup
	pub.Add(1)
	go func() {
		defer pub.Done()
		s.publish(context.WithoutCancel(ctx), recorded)
	}()
	var wg sync.WaitGroup
	for _, q := range b.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.write(ctx, q, bs, recorded)
		}()
	}
	wg.Wait()
	close(b.stopped)
	close(recorded)
	pub.Wait()
}

// write records batches of the orders handed to queue until ctx ends.
func (s *Service) write(ctx context.Context, queue <-chan *placement, bs BatchStore, recorded chan<- recordedBatch) {
	for {
		var ps []*placement
		select {
		case <-ctx.Done():
			return
		case p := <-queue:
			ps = append(ps, p)
		}
	fill:
		for len(ps) < maxBatch {
			select {
			case p := <-queue:
				ps = append(ps, p)
			default:
				break fill
			}
		}
		recorded <- recordedBatch{ps: ps, res: s.recordBatch(ctx, bs, ps)}
	}
}

// publish publishes recorded batches, together when several are waiting, until recorded is
// closed.
func (s *Service) publish(ctx context.Context, recorded <-chan recordedBatch) {
	for rb := range recorded {
	more:
		for len(rb.ps) < maxBatch {
			select {
			case next, ok := <-recorded:
				if !ok {
					break more
				}
				rb.ps, rb.res = append(rb.ps, next.ps...), append(rb.res, next.res...)
			default:
				break more
			}
		}
		s.publishBatch(ctx, rb)
	}
}

// recordBatch checks the batch against one read of its accounts' and markets' pre-trade
// state and records the orders that pass in one transaction. Orders of one account are
// checked in turn, each counting the ones before it as open. When the batch cannot be read or
// recorded as a whole, each order is checked and recorded on its own (a batch of one) so
// that one bad order cannot fail the others.
func (s *Service) recordBatch(ctx context.Context, bs BatchStore, ps []*placement) []Recorded {
	res := make([]Recorded, len(ps))
	accts, mkts, clients := make([]string, len(ps)), make([]string, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		accts[i], mkts[i], clients[i] = p.req.Account, p.req.Market, p.req.ClientOrderID
	}
	states, existing, err := bs.PreTradeAll(ctx, accts, mkts, clients)
	if err == nil && (len(states) != len(ps) || len(existing) != len(ps)) {
		err = fmt.Errorf("pre-trade state: %d results for %d orders", len(states), len(ps))
	}
	if err != nil {
		s.log.WarnContext(ctx, "read pre-trade state of a batch; checking one by one", "n", len(ps), "err", err)
		states, existing = make([]risk.State, len(ps)), make([]string, len(ps))
		for i, p := range ps {
			if o, found, err := s.existing(p.ctx, p.req); err != nil || found {
				res[i] = Recorded{Order: o, Existed: found, Err: err}
				continue
			}
			states[i], res[i].Err = s.store.PreTrade(p.ctx, p.req.Account, p.req.Market)
		}
	}
	var news []NewOrder
	var at []int
	opened := map[string]int{}
	for i, p := range ps {
		if existing[i] != "" {
			o, err := s.store.Order(p.ctx, p.req.Account, existing[i])
			res[i] = Recorded{Order: o, Existed: err == nil, Err: err}
		}
		if res[i].Err != nil || res[i].Existed {
			continue
		}
		st := states[i]
		st.OpenOrders += opened[p.req.Account]
		o, hold, err := s.newOrder(p.ctx, p.req, p.mi, st)
		if err != nil {
			res[i].Err = err
			continue
		}
		opened[p.req.Account]++
		news, at = append(news, NewOrder{Order: o, Hold: hold, OpenLimit: s.limits.OpenOrderLimit()}), append(at, i)
	}
	if len(news) == 0 {
		return res
	}
	recorded, err := bs.CreateOrders(ctx, news)
	if err == nil && len(recorded) != len(news) {
		err = fmt.Errorf("recorded %d of %d orders", len(recorded), len(news))
	}
	if err != nil {
		s.log.WarnContext(ctx, "record order batch; recording one by one", "n", len(news), "err", err)
		// One order per call, through the same statement, so that each keeps its own
		// result and the open-order limit stays enforced by the store.
		recorded = make([]Recorded, len(news))
		for j, n := range news {
			r, err := bs.CreateOrders(ps[at[j]].ctx, []NewOrder{n})
			if err == nil && len(r) != 1 {
				err = fmt.Errorf("recorded %d of 1 orders", len(r))
			}
			if err != nil {
				recorded[j] = Recorded{Err: err}
				continue
			}
			recorded[j] = r[0]
		}
	}
	for j, i := range at {
		res[i] = recorded[j]
	}
	return res
}

// publishBatch publishes the new orders of a recorded batch in one request and answers the
// callers. An order whose publish fails is still accepted: it is recorded, and the relay
// publishes it.
func (s *Service) publishBatch(ctx context.Context, rb recordedBatch) {
	var cmds []trading.OrderCommand
	var ids []string
	for i, r := range rb.res {
		if r.Err == nil && !r.Existed {
			c := NewCommand(r.Order)
			c.Trace = telemetry.Traceparent(rb.ps[i].ctx) // the request's, not the writer's
			cmds, ids = append(cmds, c), append(ids, r.Order.ID)
		}
	}
	if len(cmds) > 0 {
		if err := s.pub.PublishCommands(ctx, cmds...); err != nil {
			s.log.WarnContext(ctx, "publish orders; the relay will retry", "n", len(cmds), "err", err)
			ids = nil
		}
	}
	for i, p := range rb.ps {
		p.done <- rb.res[i]
	}
	for _, id := range ids {
		select {
		case s.published <- id:
		default: // the relay will find it unmarked and publish it again; the engine dedupes
		}
	}
}
