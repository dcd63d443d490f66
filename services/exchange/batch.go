package exchange

import (
	"context"
	"sync"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/trading"
)

// NewOrder is an order to record (pending) with the hold that reserves its funds.
type NewOrder struct {
	Order trading.Order
	Hold  ledger.Transfer
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
	// together. A domain error of one order (insufficient funds) is reported in its Recorded
	// and does not affect the others; an error return means nothing was recorded.
	CreateOrders(ctx context.Context, os []NewOrder) ([]Recorded, error)
}

// maxBatch bounds how many orders one commit records and one publish sends.
const maxBatch = 256

// placement is one PlaceOrder waiting for the batch writer.
type placement struct {
	ctx   context.Context
	order NewOrder
	done  chan Recorded // buffered: the writer never waits for the caller
}

type recordedBatch struct {
	ps  []*placement
	res []Recorded
}

// batcher is order entry's group commit. Concurrent PlaceOrder calls hand their order to
// write, which records everything that arrived while the previous batch was being written in
// one transaction; publish then sends the batch's commands to the orders log in one request
// while write records the next batch, and only then answers the callers. Nothing waits for a
// timer: a lone order is written at once.
type batcher struct {
	queue   chan *placement // unbuffered: a send succeeds only while write runs
	stopped chan struct{}   // closed when write no longer receives
}

func newBatcher() *batcher {
	return &batcher{queue: make(chan *placement), stopped: make(chan struct{})}
}

// submit hands o to the writer and waits for its result; ok is false when the writer is not
// running (the caller then records the order itself).
func (b *batcher) submit(ctx context.Context, o NewOrder) (_ Recorded, ok bool) {
	p := &placement{ctx: ctx, order: o, done: make(chan Recorded, 1)}
	select {
	case b.queue <- p:
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

// writers is how many batches order entry records at once: while one waits for its commit
// to be flushed, another collects and writes the next, so that the server's WAL flushes
// cover several batches.
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
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.write(ctx, b, bs, recorded)
		}()
	}
	wg.Wait()
	close(b.stopped)
	close(recorded)
	pub.Wait()
}

// write records batches of the orders handed to b until ctx ends.
func (s *Service) write(ctx context.Context, b *batcher, bs BatchStore, recorded chan<- recordedBatch) {
	for {
		var ps []*placement
		select {
		case <-ctx.Done():
			return
		case p := <-b.queue:
			ps = append(ps, p)
		}
	fill:
		for len(ps) < maxBatch {
			select {
			case p := <-b.queue:
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

// recordBatch records the batch in one transaction; when that fails as a whole, each order
// is recorded on its own so that one bad order cannot fail the others.
func (s *Service) recordBatch(ctx context.Context, bs BatchStore, ps []*placement) []Recorded {
	os := make([]NewOrder, len(ps))
	for i, p := range ps {
		os[i] = p.order
	}
	res, err := bs.CreateOrders(ctx, os)
	if err == nil && len(res) == len(ps) {
		return res
	}
	if err != nil {
		s.log.WarnContext(ctx, "record order batch; recording one by one", "n", len(ps), "err", err)
	}
	res = make([]Recorded, len(ps))
	for i, p := range ps {
		o, existed, err := s.store.CreateOrder(p.ctx, p.order.Order, p.order.Hold)
		res[i] = Recorded{Order: o, Existed: existed, Err: err}
	}
	return res
}

// publishBatch publishes the new orders of a recorded batch in one request and answers the
// callers. An order whose publish fails is still accepted: it is recorded, and the relay
// publishes it.
func (s *Service) publishBatch(ctx context.Context, rb recordedBatch) {
	var cmds []trading.OrderCommand
	var ids []string
	for _, r := range rb.res {
		if r.Err == nil && !r.Existed {
			cmds, ids = append(cmds, NewCommand(r.Order)), append(ids, r.Order.ID)
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
