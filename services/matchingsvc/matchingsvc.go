// Package matchingsvc runs the matching engine as a service: it consumes the orders topic
// partition by partition in offset order, one goroutine per partition owning the books of the
// markets keyed to it, and answers every command with one Execution on the trades topic. An
// execution's id is its market and the command's position in the log (offset + 1), so a
// replay produces the same ids and consumers dedupe by them.
//
// Every SnapshotEvery commands (and at most SnapshotInterval apart) the service stores a
// snapshot of a partition's books together with the offset it covers. A member assigned a
// partition restores its latest snapshot and replays the log from there: the events it
// republishes are the ones already sent, byte for byte, so downstream deduplication makes the
// restart invisible.
//
// The partitions' goroutines do no I/O but consuming and publishing executions: with Run
// running, book depth is published and snapshots are encoded (from a replica of the books)
// and stored on Run's goroutines (offload.go, replica.go). Metrics times each command and
// batch on the partitions' goroutines.
package matchingsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/platform/telemetry"
	"github.com/cantondex/platform/services/trading"
)

// Store is what the engine needs from storage.
type Store interface {
	Market(ctx context.Context, symbol string) (trading.MarketDef, error)
	// LoadSnapshot returns the latest snapshot stored under key, or ENOTFOUND.
	LoadSnapshot(ctx context.Context, key string) (data []byte, err error)
	SaveSnapshot(ctx context.Context, key string, data []byte) error
}

// Publisher sends executions to the trades topic.
type Publisher interface {
	PublishExecutions(ctx context.Context, xs []trading.Execution) error
}

// DepthSink receives the depth of books a batch changed (the API's book cache).
type DepthSink interface {
	Put(ctx context.Context, books ...trading.Book) error
}

// Service is the matching engine service.
type Service struct {
	Store     Store
	Publisher Publisher
	Depth     DepthSink // optional
	Log       *slog.Logger
	// SnapshotEvery and SnapshotInterval bound the replay after a restart.
	SnapshotEvery    int
	SnapshotInterval time.Duration
	// DepthLevels published per side (default 50).
	DepthLevels int
	// Applied, when set, observes each batch: commands applied and the executions published.
	Applied func(commands int, xs []trading.Execution)
	// Booked, when set, observes each book a batch changed: its depth (DepthLevels per side)
	// and how many orders rest in it. With Run it is called on Run's depth worker, with the
	// latest depth of each book changed since the last call.
	Booked func(b trading.Book, open int)
	// Metrics, when set, times each command and each batch on the partition's goroutine.
	Metrics *Metrics

	window int // the dedupe window; 0 is dedupeWindow (tests make it small)

	mu    sync.Mutex
	parts map[int32]*partition
	off   *offload // while Run runs
}

// dedupeWindow is how many recent new-order ids a partition remembers, so that an order the
// relay published twice reaches its book once.
const dedupeWindow = 200_000

type partition struct {
	id     int32
	next   int64 // next offset to apply
	books  map[string]*matching.Book
	seen   map[string]struct{}
	ring   seenRing // the seen ids in arrival order
	since  int      // commands since the last snapshot
	saved  time.Time
	events []matching.Event
	// updates counts each book's changes (BookChange.UpdateID), kept in the snapshots so a
	// replay numbers them the same.
	updates map[string]uint64
	levels  []matching.Level
	tops    map[string]*bookTop // each book's top levels and checksum, as of its last change
	touched []bookLevel
	// snapped is each book's encoding in the last capture: a book whose last sequence is
	// still the same is captured again by reference.
	snapped map[string]bookBytes
	// rep is the replica snapshots are encoded from (nil: none; the partition encodes its
	// books itself) and journal what the batch changed in the books, for it.
	rep     *replica
	journal []journalEntry
}

type bookBytes struct {
	seq  uint64
	data []byte
}

// encodeBooks returns the snapshot of each book, reusing from snapped (and updating it) the
// encoding of those whose last sequence is the same as when it was taken.
func encodeBooks(books map[string]*matching.Book, snapped map[string]bookBytes) map[string][]byte {
	out := make(map[string][]byte, len(books))
	for sym, b := range books {
		prev, ok := snapped[sym]
		if !ok || prev.seq != b.LastSeq() {
			prev = bookBytes{seq: b.LastSeq(), data: b.AppendSnapshot(nil)}
			snapped[sym] = prev
		}
		out[sym] = prev.data
	}
	return out
}

type bookLevel struct {
	side  matching.Side
	price int64
}

// snapshotDoc is the stored form of a partition.
type snapshotDoc struct {
	Next  int64             `json:"next"`
	Seen  []string          `json:"seen"` // oldest first
	Books map[string][]byte `json:"books"`
	// Updates is each book's last change id.
	Updates map[string]uint64 `json:"updates,omitempty"`
}

func snapshotKey(p int32) string { return "orders/" + strconv.Itoa(int(p)) }

// Assigned restores partition p from its latest snapshot and returns the offset to replay
// from; pass it as kafka.Group.Assigned.
func (s *Service) Assigned(ctx context.Context, _ string, p int32) (int64, error) {
	window := s.window
	if window <= 0 {
		window = dedupeWindow
	}
	part := &partition{id: p, books: map[string]*matching.Book{}, seen: map[string]struct{}{}, ring: seenRing{size: window}, saved: time.Now(), updates: map[string]uint64{}}
	data, err := s.Store.LoadSnapshot(ctx, snapshotKey(p))
	switch {
	case trading.ErrorCode(err) == trading.ENOTFOUND:
	case err != nil:
		return 0, err
	default:
		var doc snapshotDoc
		if err := json.Unmarshal(data, &doc); err != nil {
			return 0, fmt.Errorf("decode snapshot of partition %d: %w", p, err)
		}
		part.next = doc.Next
		for sym, u := range doc.Updates {
			part.updates[sym] = u
		}
		for _, id := range doc.Seen {
			part.remember(id)
		}
		for sym, b := range doc.Books {
			if part.books[sym], err = matching.RestoreBytes(b); err != nil {
				return 0, fmt.Errorf("restore %s: %w", sym, err)
			}
		}
	}
	s.mu.Lock()
	if s.parts == nil {
		s.parts = map[int32]*partition{}
	}
	if old := s.parts[p]; old != nil {
		old.dropReplica()
	}
	s.parts[p] = part
	s.mu.Unlock()
	s.log().Info("partition assigned", "partition", p, "replay_from", part.next, "books", len(part.books))
	return part.next, nil
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

func (p *partition) remember(id string) {
	if forgot, full := p.ring.add(id); full {
		delete(p.seen, forgot)
	}
	p.seen[id] = struct{}{}
}

// Handle applies a batch of one partition's commands; pass it as kafka.Group.Handle.
func (s *Service) Handle(ctx context.Context, msgs []kafka.Message) error {
	s.mu.Lock()
	part := s.parts[msgs[0].Partition]
	s.mu.Unlock()
	if part == nil {
		return fmt.Errorf("partition %d not assigned: %w", msgs[0].Partition, kafka.ErrRestart)
	}
	clk := s.clock()
	defer clk.batch()
	xs := make([]trading.Execution, 0, len(msgs))
	touched := map[string]bool{}
	next := part.next
	var poison *kafka.PoisonError
	for _, m := range msgs {
		if m.Offset < next {
			continue // applied before the snapshot this member restored
		}
		c, err := kafka.DecodeCommand(m)
		if err == nil && c.Op != trading.OpNew && c.Op != trading.OpCancel {
			err = fmt.Errorf("unknown op %q", c.Op)
		}
		if err != nil {
			// Nothing a command cannot be read as is skipped: what came before it is
			// published, then the partition stops at it.
			poison = kafka.Poison(m, err)
			break
		}
		next = m.Offset + 1
		x, ok, err := s.apply(ctx, part, c, uint64(m.Offset)+1, m.Timestamp)
		if err != nil {
			return s.restart(part, err)
		}
		clk.command()
		if ok {
			xs = append(xs, x)
			touched[c.Market] = true
		}
	}
	if len(xs) > 0 {
		if err := s.Publisher.PublishExecutions(ctx, xs); err != nil {
			return s.restart(part, fmt.Errorf("publish executions: %w", err))
		}
	}
	// Only now is the batch's output durable: advance the partition (and its replica).
	part.next = next
	part.since += len(msgs)
	part.handOver(nil)
	if s.Applied != nil {
		s.Applied(len(msgs), xs)
	}
	if poison != nil {
		s.log().ErrorContext(ctx, "partition stopped at a poison command", "topic", poison.Topic, "partition", poison.Partition, "offset", poison.Offset, "err", poison.Err)
		return poison
	}
	if (s.Depth != nil || s.Booked != nil) && len(touched) > 0 {
		bs := make([]booked, 0, len(touched))
		for sym := range touched {
			b := booked{book: s.depth(part.books[sym], sym)}
			b.book.UpdateID = part.updates[sym]
			if pb := part.books[sym]; pb != nil {
				b.open = pb.Len()
			}
			bs = append(bs, b)
		}
		s.publishDepth(ctx, bs)
	}
	every, interval := s.SnapshotEvery, s.SnapshotInterval
	if every <= 0 {
		every = 50_000
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	if part.since >= every || (part.since > 0 && time.Since(part.saved) >= interval) {
		if err := s.snapshot(ctx, part); err != nil {
			s.log().Warn("snapshot", "partition", part.id, "err", err)
		}
	}
	return nil
}

// restart drops a partition whose books ran ahead of what was published; the session
// restarts and Assigned restores it from its snapshot.
func (s *Service) restart(part *partition, err error) error {
	s.mu.Lock()
	if s.parts[part.id] == part {
		delete(s.parts, part.id)
	}
	s.mu.Unlock()
	part.dropReplica()
	return fmt.Errorf("%w: %w", kafka.ErrRestart, err)
}

// snapshot captures the partition on its own goroutine and hands the capture over to be
// completed, encoded and stored. The capture is cheap: the remembered ids are shared, not
// copied (seenRing), and the books are encoded by the partition's replica. Without one, the
// partition encodes them itself (in the library's compact binary form, only those changed
// since the last capture) and, with Run running, seeds a replica with them.
func (s *Service) snapshot(ctx context.Context, part *partition) error {
	c := capture{next: part.next, updates: make(map[string]uint64, len(part.updates)), seen: part.ring.capture(), at: time.Now()}
	for sym, u := range part.updates {
		c.updates[sym] = u
	}
	if !part.handOver(&c) {
		if part.snapped == nil {
			part.snapped = map[string]bookBytes{}
		}
		c.books = encodeBooks(part.books, part.snapped)
		if err := s.saveSnapshot(ctx, part.id, c); err != nil {
			return err
		}
		part.rep = s.startReplica(part.id, c.books)
	}
	part.since, part.saved = 0, time.Now()
	return nil
}

func (s *Service) depth(b *matching.Book, sym string) trading.Book {
	out := trading.Book{Market: sym}
	if b == nil {
		return out
	}
	n := s.DepthLevels
	if n <= 0 {
		n = 50
	}
	out.Seq = b.LastSeq()
	for _, l := range b.Depth(matching.Buy, n, nil) {
		out.Bids = append(out.Bids, trading.Level{Price: l.Price, Quantity: l.Qty, Orders: l.Orders})
	}
	for _, l := range b.Depth(matching.Sell, n, nil) {
		out.Asks = append(out.Asks, trading.Level{Price: l.Price, Quantity: l.Qty, Orders: l.Orders})
	}
	return out
}

// apply runs one command on its book. ok is false for a command that produces nothing (a
// repeated new order).
func (s *Service) apply(ctx context.Context, part *partition, c trading.OrderCommand, seq uint64, at time.Time) (trading.Execution, bool, error) {
	x := trading.Execution{
		ID: c.Market + ":" + strconv.FormatUint(seq, 10), Market: c.Market, Seq: seq, Command: c.Op,
		OrderID: c.OrderID, AcceptedAt: c.AcceptedAt, ExecutedAt: at.UTC(), Trace: c.Trace,
	}
	if c.Op == trading.OpNew {
		if _, dup := part.seen[c.OrderID]; dup {
			return x, false, nil
		}
		part.remember(c.OrderID)
	}
	book, ok := part.books[c.Market]
	if !ok {
		def, err := s.Store.Market(ctx, c.Market)
		switch {
		case trading.ErrorCode(err) == trading.ENOTFOUND:
			x.Events = []trading.ExecEvent{{Type: trading.ExecRejected, OrderID: c.OrderID, Account: c.Account, Reason: string(matching.ReasonUnknownMarket)}}
			return x, true, nil
		case err != nil:
			return x, false, err
		}
		m := matching.MarketFromDef(def)
		if book, err = matching.NewBook(m); err != nil {
			return x, false, fmt.Errorf("book %s: %w", c.Market, err)
		}
		part.books[c.Market] = book
		if part.rep != nil {
			part.journal = append(part.journal, journalEntry{market: c.Market, def: &m})
		}
	}
	cmd := matching.Command{Seq: seq, ID: c.OrderID, Account: c.Account}
	switch c.Op {
	case trading.OpNew:
		cmd.Op, cmd.Type, cmd.PostOnly, cmd.Price, cmd.Qty = matching.OpNew, matching.Limit, c.PostOnly, c.Price, c.Quantity
		var err error
		if cmd.Side, cmd.TIF, err = newOrderEnums(c); err != nil {
			// Order entry sends every field explicitly: a value outside the enumeration is
			// refused, never read as a default, and the rejection releases the order's hold.
			x.Events = []trading.ExecEvent{{Type: trading.ExecRejected, OrderID: c.OrderID, Account: c.Account, Reason: ReasonInvalidCommand}}
			s.log().ErrorContext(telemetry.WithTraceparent(ctx, c.Trace), "new order command refused", "order", c.OrderID, "market", c.Market, "seq", seq, "err", err)
			return x, true, nil
		}
	case trading.OpCancel:
		cmd.Op = matching.OpCancel
	}
	part.events = book.Apply(cmd, part.events[:0])
	if part.rep != nil {
		part.journal = append(part.journal, journalEntry{market: c.Market, cmd: cmd})
	}
	x.Events = make([]trading.ExecEvent, 0, len(part.events))
	for i, e := range part.events {
		ev := trading.ExecEvent{OrderID: e.ID, Account: e.Account, Remaining: e.Remaining, Reason: string(e.Reason)}
		switch e.Type {
		case matching.EvAccepted:
			ev.Type = trading.ExecAccepted
		case matching.EvRejected:
			ev.Type, ev.Account = trading.ExecRejected, c.Account
		case matching.EvCancelled:
			ev.Type = trading.ExecCancelled
		case matching.EvTrade:
			ev.Type, ev.OrderID, ev.Account, ev.MakerRemaining = trading.ExecTrade, e.TakerID, e.TakerAccount, e.MakerRemaining
			ev.Trade = &trading.Trade{
				ID: x.ID + ":" + strconv.Itoa(i), Market: c.Market, Price: e.Price, Quantity: e.Qty,
				MakerOrderID: e.MakerID, TakerOrderID: e.TakerID, MakerAccount: e.MakerAccount, TakerAccount: e.TakerAccount,
				TakerSide: trading.Side(e.Side.String()), Seq: seq, ExecutedAt: x.ExecutedAt,
			}
		default:
			continue
		}
		x.Events = append(x.Events, ev)
	}
	x.Book = part.bookChange(book, c, part.events)
	return x, true, nil
}

// bookChange is what a command's events changed in its book, with the next update id; nil
// when the book is as it was. Levels that lost quantity are those makers traded at and those
// of resting orders cancelled; the command's own level gained if its order rests.
func (part *partition) bookChange(book *matching.Book, c trading.OrderCommand, events []matching.Event) *trading.BookChange {
	part.touched = part.touched[:0]
	touch := func(side matching.Side, price int64) {
		for _, l := range part.touched {
			if l.side == side && l.price == price {
				return
			}
		}
		part.touched = append(part.touched, bookLevel{side, price})
	}
	var takerSide matching.Side
	var takerPrice, takerLeft int64
	accepted := false
	for _, e := range events {
		switch e.Type {
		case matching.EvAccepted:
			accepted, takerSide, takerPrice, takerLeft = true, e.Side, e.Price, e.Remaining
		case matching.EvTrade:
			maker := matching.Buy
			if e.Side == matching.Buy {
				maker = matching.Sell
			}
			touch(maker, e.Price)
			takerLeft = e.Remaining
		case matching.EvCancelled:
			if c.Op == trading.OpNew && e.ID == c.OrderID {
				takerLeft = 0 // the order's residue went, it never rested
			} else {
				touch(e.Side, e.Price)
			}
		}
	}
	if accepted && takerLeft > 0 {
		touch(takerSide, takerPrice)
	}
	if len(part.touched) == 0 {
		return nil
	}
	part.updates[c.Market]++
	ch := &trading.BookChange{UpdateID: part.updates[c.Market]}
	for _, l := range part.touched {
		lq := trading.LevelQty{Price: l.price, Quantity: book.QtyAt(l.side, l.price)}
		if l.side == matching.Buy {
			ch.Bids = append(ch.Bids, lq)
		} else {
			ch.Asks = append(ch.Asks, lq)
		}
	}
	if part.tops == nil {
		part.tops = map[string]*bookTop{}
	}
	top := part.tops[c.Market]
	if top == nil {
		top = &bookTop{}
		part.tops[c.Market] = top
	}
	part.levels = top.update(book, part.touched, part.levels)
	ch.Checksum = top.crc
	if len(top.sides[0]) > 0 {
		ch.BestBid = top.sides[0][0].Price
	}
	if len(top.sides[1]) > 0 {
		ch.BestAsk = top.sides[1][0].Price
	}
	return ch
}

// ReasonInvalidCommand is the rejection reason of a new-order command whose side, type or
// time in force is not one of the enumeration's values.
const ReasonInvalidCommand = "invalid_command"

// newOrderEnums validates a new order's enumerations exactly (no default, no case folding).
func newOrderEnums(c trading.OrderCommand) (matching.Side, matching.TIF, error) {
	var side matching.Side
	switch c.Side {
	case trading.Buy:
		side = matching.Buy
	case trading.Sell:
		side = matching.Sell
	default:
		return 0, 0, fmt.Errorf("side %q: want %s or %s", c.Side, trading.Buy, trading.Sell)
	}
	if c.Type != trading.Limit {
		// The engine books limit orders; order entry turns market orders into protected limits.
		return 0, 0, fmt.Errorf("type %q: want %s", c.Type, trading.Limit)
	}
	var tif matching.TIF
	switch c.TimeInForce {
	case trading.GTC:
		tif = matching.GTC
	case trading.IOC:
		tif = matching.IOC
	case trading.FOK:
		tif = matching.FOK
	default:
		return 0, 0, fmt.Errorf("time in force %q: want %s, %s or %s", c.TimeInForce, trading.GTC, trading.IOC, trading.FOK)
	}
	return side, tif, nil
}
