// Package exchange is the venue's order entry and query side: it implements the trading
// interfaces (OrderService, MarketService, AccountService, RiskAdmin) that the api-gateway
// serves. Placing an order runs the pre-trade risk checks, records the order as pending and
// reserves its funds in one atomic store operation, then publishes it to the orders log keyed
// by market. An order recorded but not yet published (a crash or a Kafka outage in between) is
// published by Relay, so an accepted order is never lost. Order status, fills and trades come
// back from the settlement consumer, which keeps the read model this package queries.
package exchange

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/platform/telemetry"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/trading"
)

// Store is what the exchange needs from storage (memory.Store, postgres.Store).
type Store interface {
	ledger.Store
	Assets(ctx context.Context) ([]trading.Asset, error)
	CreateAsset(ctx context.Context, a trading.Asset) error
	Markets(ctx context.Context) ([]trading.MarketDef, error)
	Market(ctx context.Context, symbol string) (trading.MarketDef, error)
	CreateMarket(ctx context.Context, m trading.MarketDef) (trading.MarketDef, error)
	SetHalted(ctx context.Context, symbol string, halted bool) error
	// PreTrade reads kill switches, the account's open-order count and the last price.
	PreTrade(ctx context.Context, account, market string) (risk.State, error)
	SetKillSwitch(ctx context.Context, scope, name string, on bool) error
	// CreateOrder records o (pending) and applies hold, atomically. When the account already
	// has an order with o.ClientOrderID it returns that order, existed true, and changes
	// nothing.
	CreateOrder(ctx context.Context, o trading.Order, hold ledger.Transfer) (_ trading.Order, existed bool, _ error)
	OrderByClientID(ctx context.Context, account, clientOrderID string) (trading.Order, error)
	Order(ctx context.Context, account, id string) (trading.Order, error)
	Orders(ctx context.Context, f trading.OrderFilter) (trading.Page[trading.Order], error)
	// Unpublished returns pending orders created before the given time and not marked
	// published, oldest first.
	Unpublished(ctx context.Context, before time.Time, limit int) ([]trading.Order, error)
	MarkPublished(ctx context.Context, ids []string) error
	AccountTrades(ctx context.Context, account, cursor string, limit int) (trading.Page[trading.Trade], error)
	MarketTrades(ctx context.Context, market string, limit int) ([]trading.Trade, error)
	// MarketStats fills Last, Volume24h, High24h and Low24h from trades since since.
	MarketStats(ctx context.Context, market string, since time.Time) (trading.Ticker, error)
	Positions(ctx context.Context, account string) ([]trading.Position, error)
}

// Publisher appends commands to the orders log, keyed by market.
type Publisher interface {
	PublishCommands(ctx context.Context, cmds ...trading.OrderCommand) error
}

// BookReader returns the depth the matching engine last published for a market.
type BookReader interface {
	Book(ctx context.Context, market string, depth int) (trading.Book, error)
}

// Gate is the KYC gate (compliance.Service): order entry and withdrawals need a verified
// account, and deposits to an unverified one are capped. Each returns trading.EFORBIDDEN when
// it refuses.
type Gate interface {
	CheckTrade(ctx context.Context, account string) error
	CheckWithdraw(ctx context.Context, account, asset string, amount int64) error
	// CheckDeposit is given the account's current total in asset.
	CheckDeposit(ctx context.Context, account, asset string, amount, balance int64) error
}

// Service implements the trading interfaces.
type Service struct {
	gate   atomic.Pointer[Gate]
	store  Store
	pub    Publisher
	books  BookReader
	limits risk.Limits
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	markets map[string]marketInfo

	published chan string
	// batch is order entry's group commit while Relay runs on a BatchStore, else nil.
	batch atomic.Pointer[batcher]

	// Placed, when set, observes each PlaceOrder result: "accepted" or the error code.
	Placed func(result string)
}

type marketInfo struct {
	def         trading.MarketDef
	base, quote trading.Asset
	units       trading.Units
	loaded      time.Time
}

var (
	_ trading.OrderService   = (*Service)(nil)
	_ trading.MarketService  = (*Service)(nil)
	_ trading.AccountService = (*Service)(nil)
	_ trading.RiskAdmin      = (*Service)(nil)
)

// New returns a service. Run its Relay for orders to reach the book after failures.
func New(store Store, pub Publisher, books BookReader, limits risk.Limits, log *slog.Logger) *Service {
	return &Service{
		store: store, pub: pub, books: books, limits: limits, log: log, now: time.Now,
		markets:   map[string]marketInfo{},
		published: make(chan string, 65536),
	}
}

// SetGate turns the KYC gate on (nil turns it off). The production binaries set it before
// serving; without it every account may trade.
func (s *Service) SetGate(g Gate) {
	if g == nil {
		s.gate.Store(nil)
		return
	}
	s.gate.Store(&g)
}

func (s *Service) kyc() Gate {
	if g := s.gate.Load(); g != nil {
		return *g
	}
	return nil
}

// marketCacheTTL bounds how long a halt set through another process takes to apply here.
const marketCacheTTL = time.Second

func (s *Service) market(ctx context.Context, symbol string) (marketInfo, error) {
	s.mu.Lock()
	mi, ok := s.markets[symbol]
	s.mu.Unlock()
	if ok && s.now().Sub(mi.loaded) < marketCacheTTL {
		return mi, nil
	}
	def, err := s.store.Market(ctx, symbol)
	if err != nil {
		return marketInfo{}, err
	}
	assets, err := s.store.Assets(ctx)
	if err != nil {
		return marketInfo{}, err
	}
	mi = marketInfo{def: def, loaded: s.now()}
	for _, a := range assets {
		if a.Symbol == def.Base {
			mi.base = a
		}
		if a.Symbol == def.Quote {
			mi.quote = a
		}
	}
	if mi.units, err = trading.NewUnits(def, mi.base, mi.quote); err != nil {
		return marketInfo{}, err
	}
	s.mu.Lock()
	s.markets[symbol] = mi
	s.mu.Unlock()
	return mi, nil
}

func (s *Service) forget(symbol string) {
	s.mu.Lock()
	delete(s.markets, symbol)
	s.mu.Unlock()
}

// PlaceOrder implements trading.OrderService.
func (s *Service) PlaceOrder(ctx context.Context, req trading.PlaceOrder) (trading.Order, error) {
	o, err := s.placeOrder(ctx, req)
	if s.Placed != nil {
		if err != nil {
			s.Placed(trading.ErrorCode(err))
		} else {
			s.Placed("accepted")
		}
	}
	return o, err
}

func (s *Service) placeOrder(ctx context.Context, req trading.PlaceOrder) (trading.Order, error) {
	if req.Account == "" {
		return trading.Order{}, trading.Errorf(trading.EINVALID, "account required")
	}
	if req.ClientOrderID != "" && !trading.ValidClientOrderID(req.ClientOrderID) { // the gateway's rule
		return trading.Order{}, trading.Errorf(trading.EINVALID, trading.ClientOrderIDRule)
	}
	if req.Side != trading.Buy && req.Side != trading.Sell {
		return trading.Order{}, trading.Errorf(trading.EINVALID, "side must be buy or sell")
	}
	switch req.TimeInForce {
	case "":
		req.TimeInForce = trading.GTC
	case trading.GTC, trading.IOC, trading.FOK:
	default:
		return trading.Order{}, trading.Errorf(trading.EINVALID, "time_in_force must be GTC, IOC or FOK")
	}
	if g := s.kyc(); g != nil {
		if err := g.CheckTrade(ctx, req.Account); err != nil {
			return trading.Order{}, err
		}
	}
	b := s.batch.Load()
	if b == nil { // the batch writer looks retried orders up with the batch's pre-trade state
		if o, found, err := s.existing(ctx, req); err != nil || found {
			return o, err
		}
	}
	mi, err := s.market(ctx, req.Market)
	if err != nil {
		return trading.Order{}, err
	}
	if b != nil {
		if r, ok := b.submit(ctx, req, mi); ok {
			return r.Order, r.Err
		}
		if o, found, err := s.existing(ctx, req); err != nil || found {
			return o, err
		}
	}
	st, err := s.store.PreTrade(ctx, req.Account, req.Market)
	if err != nil {
		return trading.Order{}, err
	}
	o, hold, err := s.newOrder(ctx, req, mi, st)
	if err != nil {
		return trading.Order{}, err
	}
	o, existed, err := s.store.CreateOrder(ctx, o, hold)
	if err != nil || existed {
		return o, err
	}
	cmd := NewCommand(o)
	cmd.Trace = telemetry.Traceparent(ctx)
	if err := s.pub.PublishCommands(ctx, cmd); err != nil {
		// The order and its hold are recorded: the relay publishes it.
		s.log.WarnContext(ctx, "publish order; the relay will retry", "order", o.ID, "err", err)
		return o, nil
	}
	select {
	case s.published <- o.ID:
	default: // the relay will find it unmarked and publish it again; the engine dedupes
	}
	return o, nil
}

// existing returns the account's order with req's client order id, found false when there is
// none: a retried order is answered with the order it first created.
func (s *Service) existing(ctx context.Context, req trading.PlaceOrder) (_ trading.Order, found bool, _ error) {
	if req.ClientOrderID == "" {
		return trading.Order{}, false, nil
	}
	o, err := s.store.OrderByClientID(ctx, req.Account, req.ClientOrderID)
	switch {
	case err == nil:
		return o, true, nil
	case trading.ErrorCode(err) == trading.ENOTFOUND:
		return trading.Order{}, false, nil
	default:
		return trading.Order{}, false, err
	}
}

// newOrder runs the pre-trade checks of req against st (the account's and market's state) and
// returns the pending order with the hold that reserves its funds.
func (s *Service) newOrder(ctx context.Context, req trading.PlaceOrder, mi marketInfo, st risk.State) (trading.Order, ledger.Transfer, error) {
	ref := st.LastPrice
	if ref == 0 {
		ref = s.bookMid(ctx, req.Market)
	}
	d, err := risk.Check(s.limits, risk.Input{
		Order: req, Market: mi.def, Base: mi.base, Quote: mi.quote, Units: mi.units,
		AccountKilled: st.AccountKilled, MarketKilled: st.MarketKilled, RefPrice: ref, OpenOrders: st.OpenOrders,
	})
	if err != nil {
		return trading.Order{}, ledger.Transfer{}, err
	}
	now := s.now().UTC()
	o := trading.Order{
		ID: uuid.Must(uuid.NewV7()).String(), ClientOrderID: req.ClientOrderID, Account: req.Account,
		Market: req.Market, Side: req.Side, Type: req.Type, TimeInForce: req.TimeInForce, PostOnly: req.PostOnly,
		Price: req.Price, Quantity: req.Quantity, Status: trading.StatusPending, CreatedAt: now, UpdatedAt: now,
		BookPrice: d.BookPrice, BookTIF: d.BookTIF, HoldAsset: d.Asset,
	}
	return o, ledger.Reserve(o.ID, o.Account, d.Asset, d.Amount), nil
}

// NewCommand is the orders-log command for a new order.
func NewCommand(o trading.Order) trading.OrderCommand {
	return trading.OrderCommand{
		Op: trading.OpNew, OrderID: o.ID, Account: o.Account, Market: o.Market, Side: o.Side,
		Type: trading.Limit, TimeInForce: o.BookTIF, PostOnly: o.PostOnly, Price: o.BookPrice,
		Quantity: o.Quantity, AcceptedAt: o.CreatedAt,
	}
}

// bookMid is the reference price before a market's first trade: the mid of the book, or 0
// (no price band) when a side is empty or the book cache cannot be read.
func (s *Service) bookMid(ctx context.Context, market string) int64 {
	b, err := s.books.Book(ctx, market, 1)
	if err != nil || len(b.Bids) == 0 || len(b.Asks) == 0 {
		return 0
	}
	return (b.Bids[0].Price + b.Asks[0].Price) / 2
}

// CancelOrder implements trading.OrderService. The order is returned as it stands; its
// cancellation shows once the engine has processed the request.
func (s *Service) CancelOrder(ctx context.Context, account, orderID string) (trading.Order, error) {
	o, err := s.store.Order(ctx, account, orderID)
	if err != nil {
		return trading.Order{}, err
	}
	if o.Status.Final() {
		return o, trading.Errorf(trading.ECONFLICT, "order is already %s", o.Status)
	}
	cmd := cancelCommand(o, s.now())
	cmd.Trace = telemetry.Traceparent(ctx)
	return o, s.pub.PublishCommands(ctx, cmd)
}

func cancelCommand(o trading.Order, now time.Time) trading.OrderCommand {
	return trading.OrderCommand{Op: trading.OpCancel, OrderID: o.ID, Account: o.Account, Market: o.Market, AcceptedAt: now.UTC()}
}

// CancelAll implements trading.OrderService: it requests cancellation of every open order of
// account (in market, or all markets for "") and returns how many.
func (s *Service) CancelAll(ctx context.Context, account, market string) (int, error) {
	n := 0
	f := trading.OrderFilter{Account: account, Market: market, OpenOnly: true, Limit: 500}
	for {
		p, err := s.store.Orders(ctx, f)
		if err != nil {
			return n, err
		}
		cmds := make([]trading.OrderCommand, len(p.Items))
		for i, o := range p.Items {
			cmds[i] = cancelCommand(o, s.now())
		}
		if len(cmds) > 0 {
			if err := s.pub.PublishCommands(ctx, cmds...); err != nil {
				return n, err
			}
		}
		n += len(cmds)
		if p.NextCursor == "" {
			return n, nil
		}
		f.Cursor = p.NextCursor
	}
}

// GetOrder implements trading.OrderService.
func (s *Service) GetOrder(ctx context.Context, account, orderID string) (trading.Order, error) {
	return s.store.Order(ctx, account, orderID)
}

// ListOrders implements trading.OrderService.
func (s *Service) ListOrders(ctx context.Context, f trading.OrderFilter) (trading.Page[trading.Order], error) {
	if f.Account == "" {
		return trading.Page[trading.Order]{}, trading.Errorf(trading.EINVALID, "account required")
	}
	f.Limit = pageLimit(f.Limit)
	return s.store.Orders(ctx, f)
}

func pageLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 500)
}

// Batching reports whether order entry's group commit is running (Relay runs on a
// BatchStore).
func (s *Service) Batching() bool { return s.batch.Load() != nil }

// Relay publishes orders that were recorded but not confirmed published, and marks published
// ones, until ctx ends. Run one per order-entry process. On a BatchStore it also runs order
// entry's group commit: while it runs, concurrent PlaceOrder calls are recorded and published
// in batches.
func (s *Service) Relay(ctx context.Context) {
	if bs, ok := s.store.(BatchStore); ok {
		b := newBatcher()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runBatcher(ctx, b, bs)
		}()
		s.batch.Store(b)
		defer wg.Wait()
		defer s.batch.CompareAndSwap(b, nil)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var done []string
	lastScan := time.Time{}
	for {
		select {
		case <-ctx.Done():
			if len(done) > 0 {
				_ = s.store.MarkPublished(context.WithoutCancel(ctx), done)
			}
			return
		case id := <-s.published:
			done = append(done, id)
			if len(done) < 1000 {
				continue
			}
		case <-tick.C:
		}
		if len(done) > 0 {
			if err := s.store.MarkPublished(ctx, done); err != nil {
				s.log.WarnContext(ctx, "mark orders published", "err", err)
			} else {
				done = done[:0]
			}
		}
		if s.now().Sub(lastScan) >= time.Second {
			lastScan = s.now()
			s.republish(ctx)
		}
	}
}

// RepublishAge is how old an unmarked pending order must be before the relay publishes it
// again.
const RepublishAge = 3 * time.Second

func (s *Service) republish(ctx context.Context) {
	orders, err := s.store.Unpublished(ctx, s.now().Add(-RepublishAge), 500)
	if err != nil || len(orders) == 0 {
		if err != nil {
			s.log.WarnContext(ctx, "scan unpublished orders", "err", err)
		}
		return
	}
	cmds := make([]trading.OrderCommand, len(orders))
	ids := make([]string, len(orders))
	for i, o := range orders {
		cmds[i], ids[i] = NewCommand(o), o.ID
	}
	if err := s.pub.PublishCommands(ctx, cmds...); err != nil {
		s.log.WarnContext(ctx, "republish orders", "n", len(cmds), "err", err)
		return
	}
	if err := s.store.MarkPublished(ctx, ids); err != nil {
		s.log.WarnContext(ctx, "mark orders published", "err", err)
	}
	s.log.InfoContext(ctx, "relay published orders", "n", len(ids))
}
