package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cantondex/platform/services/decimal"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// Markets is what the feed needs to format a market's numbers as the REST API does.
type Markets interface {
	Market(ctx context.Context, symbol string) (trading.MarketDef, error)
}

// Balances reads an account's balances after a settlement.
type Balances interface {
	Balances(ctx context.Context, account string) ([]trading.Balance, error)
}

// Assets gives the scale of each asset.
type Assets interface {
	Assets(ctx context.Context) ([]trading.Asset, error)
}

// Channels of the streams.
const (
	ChannelOrders   = "orders"   // account:<id>
	ChannelFills    = "fills"    // account:<id>
	ChannelBalances = "balances" // account:<id>
	ChannelAlerts   = "alerts"   // account:<id>
	ChannelTrades   = "trades"   // trades:<market>
	ChannelTicker   = "ticker"   // ticker:<market>
	ChannelBook     = "book"     // book:<market>
)

// AccountStream, TradesStream, TickerStream and BookStream name the streams.
func AccountStream(account string) string { return "account:" + account }
func TradesStream(market string) string   { return "trades:" + market }
func TickerStream(market string) string   { return "ticker:" + market }
func BookStream(market string) string     { return "book:" + market }

// Feed turns the flow's events into stream messages on a hub. Its methods are called by the
// consumers of the trades, settlements and alerts topics, one goroutine per partition; a
// market is on one partition, so a market's messages keep the engine's order.
type Feed struct {
	Hub      *Hub
	Markets  Markets
	Balances Balances // optional: no balance messages without it
	Assets   Assets   // required with Balances
	Log      *slog.Logger
	// Observe, when set, is told the source and log time of each record whose messages are
	// published
	// (when the engine or the settlement coordinator produced it): the stream's own delay
	// starts there, the engine's backlog is before it.
	Observe func(src string, logged time.Time)
	// Poison, when set, counts the messages Handle could not deliver, by topic.
	Poison func(topic string)

	// pipe, when set (Pipeline), takes each record's account messages off Handle's
	// goroutine (a balances message reads the ledger).
	pipe *pipeline

	mu     sync.Mutex
	steps  map[string]steps
	scales map[string]int
}

type steps struct {
	tickUnits, lotUnits int64
	tickScale, lotScale int
}

func (s steps) price(ticks int64) string { return decimal.Format(ticks*s.tickUnits, s.tickScale) }
func (s steps) qty(lots int64) string    { return decimal.Format(lots*s.lotUnits, s.lotScale) }

func (f *Feed) stepsOf(ctx context.Context, market string) (steps, error) {
	f.mu.Lock()
	st, ok := f.steps[market]
	f.mu.Unlock()
	if ok {
		return st, nil
	}
	m, err := f.Markets.Market(ctx, market)
	if err != nil {
		return st, fmt.Errorf("market %s: %w", market, err)
	}
	if st.tickScale, err = decimal.Scale(m.TickSize); err != nil {
		return st, fmt.Errorf("market %s tick size: %w", market, err)
	}
	if st.lotScale, err = decimal.Scale(m.LotSize); err != nil {
		return st, fmt.Errorf("market %s lot size: %w", market, err)
	}
	st.tickUnits, _ = decimal.Parse(m.TickSize, st.tickScale)
	st.lotUnits, _ = decimal.Parse(m.LotSize, st.lotScale)
	if st.tickUnits <= 0 || st.lotUnits <= 0 {
		return st, fmt.Errorf("market %s: non-positive step", market)
	}
	f.mu.Lock()
	if f.steps == nil {
		f.steps = map[string]steps{}
	}
	f.steps[market] = st
	f.mu.Unlock()
	return st, nil
}

func (f *Feed) log() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}

// OrderUpdate is an order's change, in the REST API's spelling.
type OrderUpdate struct {
	OrderID   string  `json:"order_id"`
	Market    string  `json:"market"`
	Event     string  `json:"event"` // accepted | partially_filled | filled | cancelled | rejected
	Status    string  `json:"status"`
	Remaining string  `json:"remaining_quantity"`
	Reason    *string `json:"reason"`
	TradeID   *string `json:"trade_id"`
	ExecID    string  `json:"execution_id"`
	At        string  `json:"at"`
}

// Fill is one of the account's trades, with the fee settlement charged it (nil when the
// settlement did not say): the wire form GET /trades lists too.
type Fill = trading.Fill

// PublicTrade is a market trade.
type PublicTrade struct {
	TradeID    string `json:"trade_id"`
	Price      string `json:"price"`
	Quantity   string `json:"quantity"`
	TakerSide  string `json:"taker_side"`
	ExecutedAt string `json:"executed_at"`
}

// Ticker is a market's touch and last trade after an execution (24-hour figures are on the
// REST ticker).
type Ticker struct {
	Market  string  `json:"market"`
	Last    *string `json:"last"`
	BestBid *string `json:"best_bid"`
	BestAsk *string `json:"best_ask"`
}

// BookDiff is one change of a market's book: the new quantity of each level that changed
// ("0" removes the level), the update id (one more than the previous diff's) and the CRC32 of
// the top levels after the change (see trading.BookChecksum).
type BookDiff struct {
	Market   string      `json:"market"`
	UpdateID uint64      `json:"update_id"`
	Bids     [][2]string `json:"bids"`
	Asks     [][2]string `json:"asks"`
	Checksum uint32      `json:"checksum"`
}

// Balance is one asset's balance, as GET /balances lists it.
type Balance struct {
	Asset     string `json:"asset"`
	Total     string `json:"total"`
	Held      string `json:"held"`
	Available string `json:"available"`
}

// Balances message: the account's balances after a settlement.
type BalancesUpdate struct {
	SettlementID string    `json:"settlement_id"`
	Balances     []Balance `json:"balances"`
}

// AlertMessage is a risk alert.
type AlertMessage struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Market  string `json:"market"`
	Message string `json:"message"`
	At      string `json:"at"`
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Origin is the record a message comes from: its source partition and offset, and its log
// time (zero when unknown).
type Origin struct {
	Src    string
	Offset int64
	Time   time.Time
}

// record numbers the messages one record yields, in the order the feed makes them: the
// same on every replica, since what a record yields depends on the record alone.
type record struct {
	f  *Feed
	at Origin
	k  int
	// The record's account messages, each account's in seq order (order lists the
	// accounts): published by Feed.run, on the accounts' shards with a Pipeline.
	order []string
	queue map[string][]func()
}

// later queues an account's message for Feed.run.
func (r *record) later(account string, job func()) {
	if r.queue == nil {
		r.queue = map[string][]func(){}
	}
	if _, ok := r.queue[account]; !ok {
		r.order = append(r.order, account)
	}
	r.queue[account] = append(r.queue[account], job)
}

func (r *record) next() Pos {
	p := Pos{Src: r.at.Src, Seq: Seq(r.at.Offset, r.k), Time: r.at.Time}
	r.k++
	return p
}

func (r *record) publish(stream, channel string, v any) { r.f.publish(stream, channel, r.next(), v) }

// Execution publishes what one execution means to its accounts and its market. With a
// Pipeline the account messages are formatted and published on the accounts' shards, after
// it returns: the partition's goroutine numbers them and publishes the market's.
func (f *Feed) Execution(ctx context.Context, at Origin, x trading.Execution) error {
	_, err := f.execution(ctx, at, x)
	return err
}

// execution publishes an execution's messages, the accounts' through the pipeline when
// there is one: it returns when the last is published (nil when they all are already).
func (f *Feed) execution(ctx context.Context, at Origin, x trading.Execution) (<-chan struct{}, error) {
	r := &record{f: f, at: at}
	st, err := f.stepsOf(ctx, x.Market)
	if err != nil && x.Book == nil {
		// An execution of an unknown market is a rejection: nothing to format.
		st = steps{tickUnits: 1, lotUnits: 1}
	} else if err != nil {
		return nil, err
	}
	when := timestamp(x.ExecutedAt)
	var last string
	for _, e := range x.Events {
		switch e.Type {
		case trading.ExecAccepted:
			r.orderUpdate(e.Account, OrderUpdate{OrderID: e.OrderID, Market: x.Market, Event: "accepted", Status: string(trading.StatusOpen),
				Remaining: st.qty(e.Remaining), ExecID: x.ID, At: when})
		case trading.ExecRejected:
			r.orderUpdate(e.Account, OrderUpdate{OrderID: e.OrderID, Market: x.Market, Event: "rejected", Status: string(trading.StatusRejected),
				Remaining: "0", Reason: optional(e.Reason), ExecID: x.ID, At: when})
		case trading.ExecCancelled:
			r.orderUpdate(e.Account, OrderUpdate{OrderID: e.OrderID, Market: x.Market, Event: "cancelled", Status: string(trading.StatusCancelled),
				Remaining: "0", Reason: optional(e.Reason), ExecID: x.ID, At: when})
		case trading.ExecTrade:
			t := e.Trade
			if t == nil {
				continue
			}
			last = st.price(t.Price)
			price, qty := st.price(t.Price), st.qty(t.Quantity)
			for _, side := range []struct {
				account, order string
				remaining      int64
			}{
				{t.TakerAccount, t.TakerOrderID, e.Remaining},
				{t.MakerAccount, t.MakerOrderID, e.MakerRemaining},
			} {
				ev, status := "partially_filled", trading.StatusPartiallyFilled
				if side.remaining == 0 {
					ev, status = "filled", trading.StatusFilled
				}
				r.orderUpdate(side.account, OrderUpdate{OrderID: side.order, Market: x.Market, Event: ev, Status: string(status),
					Remaining: st.qty(side.remaining), TradeID: optional(t.ID), ExecID: x.ID, At: when})
			}
			r.publish(TradesStream(x.Market), ChannelTrades, PublicTrade{TradeID: t.ID, Price: price, Quantity: qty,
				TakerSide: string(t.TakerSide), ExecutedAt: timestamp(t.ExecutedAt)})
		}
	}
	if b := x.Book; b != nil {
		d := BookDiff{Market: x.Market, UpdateID: b.UpdateID, Bids: levels(b.Bids, st), Asks: levels(b.Asks, st), Checksum: b.Checksum}
		r.publish(BookStream(x.Market), ChannelBook, d)
		tk := Ticker{Market: x.Market, Last: optional(last)}
		if b.BestBid > 0 {
			tk.BestBid = optional(st.price(b.BestBid))
		}
		if b.BestAsk > 0 {
			tk.BestAsk = optional(st.price(b.BestAsk))
		}
		r.publish(TickerStream(x.Market), ChannelTicker, tk)
	}
	return f.run(ctx, at, r.order, r.queue), nil
}

func levels(ls []trading.LevelQty, st steps) [][2]string {
	out := make([][2]string, len(ls))
	for i, l := range ls {
		out[i] = [2]string{st.price(l.Price), st.qty(l.Quantity)}
	}
	return out
}

func (r *record) orderUpdate(account string, u OrderUpdate) {
	if account != "" {
		p := r.next()
		r.later(account, func() { r.f.publish(AccountStream(account), ChannelOrders, p, u) })
	}
}

// Settlement publishes, for each trade of a settled execution, the fills of its two sides
// with the fees the settlement charged, then the balances of the accounts that traded. An
// account somebody watches here gets its balances read now; for any other the message is
// built from the balances of the moment it is first delivered (a resume on this replica). A
// read that fails closes the stream's subscribers (they resume and it is read again).
// With a Pipeline the account messages are published on the accounts' shards, after it returns.
func (f *Feed) Settlement(ctx context.Context, at Origin, s trading.Settlement) error {
	_, err := f.settlement(ctx, at, s)
	return err
}

// settlement publishes a settlement's messages, through the pipeline when there is one: it
// returns when the last is published (nil when they all are already).
func (f *Feed) settlement(ctx context.Context, at Origin, s trading.Settlement) (<-chan struct{}, error) {
	if len(s.Trades) == 0 {
		return nil, nil
	}
	r := &record{f: f, at: at}
	// Each account's messages, in seq order: a shard publishes them in that order.
	add := r.later
	st, err := f.stepsOf(ctx, s.Market)
	if err != nil {
		return nil, err
	}
	fees := map[string]trading.TradeFee{}
	var assets []string
	for _, fe := range s.Fees {
		fees[fe.TradeID] = fe
		assets = append(assets, fe.MakerAsset, fe.TakerAsset)
	}
	scales, err := f.assetScales(ctx, assets)
	if err != nil {
		return nil, err
	}
	amount := func(v int64, asset string) (*string, *string) {
		if _, ok := scales[asset]; !ok {
			return nil, nil
		}
		return optional(decimal.Format(v, scales[asset])), optional(asset)
	}
	for _, t := range s.Trades {
		price, qty := st.price(t.Price), st.qty(t.Quantity)
		makerSide := trading.Buy
		if t.TakerSide == trading.Buy {
			makerSide = trading.Sell
		}
		fe := fees[t.ID]
		for _, side := range []struct {
			account, order, liquidity string
			side                      trading.Side
			fee                       int64
			asset                     string
		}{
			{t.TakerAccount, t.TakerOrderID, "taker", t.TakerSide, fe.TakerFee, fe.TakerAsset},
			{t.MakerAccount, t.MakerOrderID, "maker", makerSide, fe.MakerFee, fe.MakerAsset},
		} {
			if side.account == "" {
				continue
			}
			fill := Fill{TradeID: t.ID, OrderID: side.order, Market: s.Market, Side: string(side.side), Liquidity: side.liquidity,
				Price: price, Quantity: qty, ExecutedAt: timestamp(t.ExecutedAt)}
			fill.Fee, fill.FeeAsset = amount(side.fee, side.asset)
			p := r.next()
			add(side.account, func() { f.publish(AccountStream(side.account), ChannelFills, p, fill) })
		}
	}
	if f.Balances == nil {
		return f.run(ctx, at, r.order, r.queue), nil
	}
	seen := map[string]bool{}
	for _, t := range s.Trades {
		for _, a := range []string{t.MakerAccount, t.TakerAccount} {
			if seen[a] || a == "" {
				continue
			}
			seen[a] = true
			p := r.next()
			add(a, func() {
				f.Hub.PublishLater(AccountStream(a), ChannelBalances, p, func() ([]byte, error) {
					ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					defer cancel()
					data, err := f.balances(ctx, s.ID, a)
					if err != nil {
						f.log().Error("stream feed: balances not read", "settlement", s.ID, "account", a, "err", err)
					}
					return data, err
				})
			})
		}
	}
	return f.run(ctx, at, r.order, r.queue), nil
}

// publish encodes v and publishes it at p.
func (f *Feed) publish(stream, channel string, p Pos, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		f.log().Error("encode stream message", "stream", stream, "err", err)
		return
	}
	f.Hub.Publish(stream, channel, p, data)
}

// balances is the balances message of account after settlement id.
func (f *Feed) balances(ctx context.Context, id, account string) ([]byte, error) {
	bs, err := f.Balances.Balances(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("balances of %s: %w", account, err)
	}
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.Asset
	}
	scales, err := f.assetScales(ctx, names)
	if err != nil {
		return nil, err
	}
	u := BalancesUpdate{SettlementID: id, Balances: make([]Balance, len(bs))}
	for i, b := range bs {
		sc := scales[b.Asset]
		u.Balances[i] = Balance{Asset: b.Asset, Total: decimal.Format(b.Total, sc), Held: decimal.Format(b.Held, sc), Available: decimal.Format(b.Available, sc)}
	}
	return json.Marshal(u)
}

// assetScales returns the scales of the assets, read again when names has one not known yet.
func (f *Feed) assetScales(ctx context.Context, names []string) (map[string]int, error) {
	f.mu.Lock()
	sc := f.scales
	f.mu.Unlock()
	known := true
	for _, a := range names {
		if _, ok := sc[a]; !ok {
			known = false
		}
	}
	if known {
		return sc, nil
	}
	if f.Assets == nil {
		return nil, fmt.Errorf("no asset scales to format fees")
	}
	as, err := f.Assets.Assets(ctx)
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	sc = make(map[string]int, len(as))
	for _, a := range as {
		sc[a.Symbol] = a.Scale
	}
	f.mu.Lock()
	f.scales = sc
	f.mu.Unlock()
	return sc, nil
}

// Alert publishes a risk alert to its account.
func (f *Feed) Alert(_ context.Context, at Origin, a trading.Alert) error {
	if a.Account != "" {
		r := &record{f: f, at: at}
		r.publish(AccountStream(a.Account), ChannelAlerts, AlertMessage{ID: a.ID, Kind: a.Kind, Market: a.Market, Message: a.Message, At: timestamp(a.At)})
	}
	return nil
}

// Handle is the feed as a handler of the trades, settlements and alerts topics. A message it
// cannot read is logged with its position and counted (Poison), never silently skipped; a
// book stream then shows the gap in its update ids.
func (f *Feed) Handle(ctx context.Context, msgs []kafka.Message) error {
	for _, m := range msgs {
		var err error
		var done <-chan struct{}
		at := Origin{Src: Source(m.Topic, m.Partition), Offset: m.Offset, Time: m.Timestamp}
		switch m.Topic {
		case topics.Trades:
			var x trading.Execution
			if x, err = kafka.DecodeExecution(m); err == nil {
				done, err = f.execution(ctx, at, x)
			}
		case topics.Settlements:
			var s trading.Settlement
			if s, err = kafka.DecodeSettlement(m); err == nil {
				done, err = f.settlement(ctx, at, s)
			}
		case topics.Alerts:
			var a trading.Alert
			if a, err = kafka.DecodeAlert(m); err == nil {
				err = f.Alert(ctx, at, a)
			}
		default:
			err = fmt.Errorf("unexpected topic %s", m.Topic)
		}
		if err != nil {
			if f.Poison != nil {
				f.Poison(m.Topic)
			}
			f.log().Error("stream feed: message not delivered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		}
		if done != nil || f.pipe.behind(at.Src) {
			// The record's messages are published later (its log time is observed then):
			// its source advances after them, in log order (a fresh subscriber's position
			// must not pass a message still to come).
			if done == nil {
				f.observe(at.Src, m.Timestamp)
			}
			if !f.pipe.advance(ctx, at.Src, m.Offset, done) {
				return ctx.Err()
			}
			continue
		}
		f.Hub.Advance(at.Src, m.Offset)
		f.observe(at.Src, m.Timestamp)
	}
	return nil
}

func (f *Feed) observe(src string, logged time.Time) {
	if f.Observe != nil && !logged.IsZero() {
		f.Observe(src, logged)
	}
}
