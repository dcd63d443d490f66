package notification

import (
	"context"
	"hash/fnv"
	"sync"
	"sync/atomic"
)

// pipeline formats and publishes the account messages of the executions and settlements
// off Handle's goroutine: each account's messages go to one shard (a hash of the account),
// which publishes them in seq order, so an account stream keeps the log's order per source
// while the partition's goroutine goes on with the next records (and the balances of one
// account are read from the ledger while the next settlements' messages go on). A source
// advances (Hub.Advance: where a fresh subscriber starts) only once every message of its
// records is published, in log order.
type pipeline struct {
	shards []chan func()
	steps  chan step

	mu      sync.Mutex
	pending map[string]int // records of a source queued in steps, not advanced yet
}

// step is a record whose source advances when done is closed.
type step struct {
	src    string
	offset int64
	done   <-chan struct{}
}

// Pipeline makes the feed publish each record's account messages on n shard goroutines
// (Run runs them) instead of Handle's: Handle then returns before they are published. Call
// it once, before Handle.
func (f *Feed) Pipeline(n int) {
	p := &pipeline{shards: make([]chan func(), max(n, 1)), steps: make(chan step, 4096), pending: map[string]int{}}
	for i := range p.shards {
		p.shards[i] = make(chan func(), 1024)
	}
	f.pipe = p
}

// Run runs the pipeline's goroutines until ctx ends; without a pipeline it returns at once.
func (f *Feed) Run(ctx context.Context) error {
	p := f.pipe
	if p == nil {
		return nil
	}
	var wg sync.WaitGroup
	for _, jobs := range p.shards {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-jobs:
					job()
				}
			}
		})
	}
	wg.Go(func() {
		for {
			var s step
			select {
			case <-ctx.Done():
				return
			case s = <-p.steps:
			}
			if s.done != nil {
				select {
				case <-ctx.Done():
					return
				case <-s.done:
				}
			}
			f.Hub.Advance(s.src, s.offset)
			p.mu.Lock()
			p.pending[s.src]--
			p.mu.Unlock()
		}
	})
	wg.Wait()
	return nil
}

// run publishes one record's account messages (queue, each account's in seq order; order
// lists the accounts): at once without a pipeline (it returns nil), else on the accounts'
// shards, returning a channel closed when the last is published (the record's log time is
// observed then).
func (f *Feed) run(ctx context.Context, at Origin, order []string, queue map[string][]func()) <-chan struct{} {
	p := f.pipe
	if p == nil || len(order) == 0 {
		for _, a := range order {
			for _, job := range queue[a] {
				job()
			}
		}
		return nil
	}
	done := make(chan struct{})
	var left atomic.Int32
	left.Store(int32(len(order)))
	for _, a := range order {
		jobs := queue[a]
		job := func() {
			for _, j := range jobs {
				j()
			}
			if left.Add(-1) == 0 {
				f.observe(at.Src, at.Time)
				close(done)
			}
		}
		select {
		case p.shards[shardOf(a, len(p.shards))] <- job:
		case <-ctx.Done():
			return done
		}
	}
	return done
}

// shardOf is the shard of an account.
func shardOf(account string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(account))
	return int(h.Sum32() % uint32(n))
}

// behind reports whether src has records waiting to advance.
func (p *pipeline) behind(src string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending[src] > 0
}

// advance queues src's advance past offset for when done is closed (nil: at its turn). It
// is false when ctx ended first.
func (p *pipeline) advance(ctx context.Context, src string, offset int64, done <-chan struct{}) bool {
	p.mu.Lock()
	p.pending[src]++
	p.mu.Unlock()
	select {
	case p.steps <- step{src: src, offset: offset, done: done}:
		return true
	case <-ctx.Done():
		return false
	}
}
