// Package settlement turns the matching engine's executions into ledger movements and the
// order read model, exactly once. For a batch of executions it loads the orders they touch,
// computes in memory the new order states, the trades, the ledger transfers (each trade moves
// base and quote between buyer and seller at the trade price, charges maker and taker fees
// into the fee account, and releases the part of the buyer's hold the fill did not use; an
// order that ends releases the rest of its hold) and position changes, and hands it all to the
// store as one atomic Batch together with each market's new progress. Executions at or below a
// market's progress were settled before and are skipped, and every transfer carries its trade
// or order id, so a redelivered or replayed execution changes nothing.
//
// The ledger behind the store is a port (ledger.Store): a Canton (Daml DvP) ledger can take
// the PostgreSQL one's place, a trade transfer mapping to one DvP settlement.
package settlement

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"time"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/trading"
)

// Batch is everything one settlement step writes, atomically.
type Batch struct {
	// From and To are each market's progress (last settled execution seq) before and after.
	// The store refuses the batch with ECONFLICT when a market's progress is not From.
	From, To  map[string]uint64
	Orders    []trading.Order // new states of the orders touched
	Trades    []trading.Trade // each with the Fees its transfer charged
	Transfers []ledger.Transfer
	Positions []trading.Position // changes to add
}

// Store is what settlement needs from storage.
type Store interface {
	Market(ctx context.Context, symbol string) (trading.MarketDef, error)
	Assets(ctx context.Context) ([]trading.Asset, error)
	Progress(ctx context.Context, markets []string) (map[string]uint64, error)
	OrdersByID(ctx context.Context, ids []string) (map[string]trading.Order, error)
	Settle(ctx context.Context, b Batch) error
}

// Publisher announces settled executions.
type Publisher interface {
	PublishSettlements(ctx context.Context, ss []trading.Settlement) error
}

// Fees are trading fees in basis points, charged in the asset each side receives.
type Fees struct {
	MakerBps int64
	TakerBps int64
}

// Service is the settlement coordinator.
type Service struct {
	Store     Store
	Publisher Publisher // optional
	Fees      Fees
	Log       *slog.Logger
	Now       func() time.Time
	// Settled, when set, observes each settled batch (metrics): the executions newly settled,
	// their trade and ledger transfer counts, and when.
	Settled func(xs []trading.Execution, trades, transfers int, at time.Time)

	mu    sync.Mutex
	units map[string]marketUnits
}

type marketUnits struct {
	def   trading.MarketDef
	units trading.Units
}

func (s *Service) marketUnits(ctx context.Context, symbol string) (marketUnits, error) {
	s.mu.Lock()
	mu, ok := s.units[symbol]
	s.mu.Unlock()
	if ok {
		return mu, nil
	}
	def, err := s.Store.Market(ctx, symbol)
	if err != nil {
		return mu, err
	}
	assets, err := s.Store.Assets(ctx)
	if err != nil {
		return mu, err
	}
	var base, quote trading.Asset
	for _, a := range assets {
		if a.Symbol == def.Base {
			base = a
		}
		if a.Symbol == def.Quote {
			quote = a
		}
	}
	u, err := trading.NewUnits(def, base, quote)
	if err != nil {
		return mu, err
	}
	mu = marketUnits{def: def, units: u}
	s.mu.Lock()
	if s.units == nil {
		s.units = map[string]marketUnits{}
	}
	s.units[symbol] = mu
	s.mu.Unlock()
	return mu, nil
}

// Handle settles a batch of executions (in log order) and publishes a Settlement for each.
// It is idempotent: executions settled before are skipped.
func (s *Service) Handle(ctx context.Context, xs []trading.Execution) error {
	if len(xs) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		b, settled, err := s.plan(ctx, xs)
		if err != nil {
			return err
		}
		err = s.Store.Settle(ctx, b)
		if trading.ErrorCode(err) == trading.ECONFLICT && attempt < 3 {
			continue // another member settled some of these meanwhile: plan again
		}
		if err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		now := s.now()
		if s.Settled != nil {
			s.Settled(settled, len(b.Trades), len(b.Transfers), now)
		}
		if s.Publisher == nil {
			return nil
		}
		out := make([]trading.Settlement, 0, len(xs))
		for _, x := range xs {
			st := trading.Settlement{ID: x.ID, Market: x.Market, Seq: x.Seq, AcceptedAt: x.AcceptedAt, SettledAt: now, Trace: x.Trace}
			for _, e := range x.Events {
				if e.Trade == nil {
					continue
				}
				st.Trades = append(st.Trades, *e.Trade)
				mu, err := s.marketUnits(ctx, x.Market)
				if err != nil {
					return fmt.Errorf("fees of %s: %w", x.ID, err)
				}
				f, err := TradeFees(*e.Trade, mu.def, mu.units, s.Fees)
				if err != nil {
					return err
				}
				st.Fees = append(st.Fees, f)
			}
			out = append(out, st)
		}
		return s.Publisher.PublishSettlements(ctx, out)
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// plan computes the batch for the executions not settled yet.
func (s *Service) plan(ctx context.Context, xs []trading.Execution) (Batch, []trading.Execution, error) {
	// Each market and each order is read once.
	var markets, ids []string
	seenMarket, seenOrder := map[string]bool{}, map[string]bool{}
	add := func(list *[]string, seen map[string]bool, v string) {
		if !seen[v] {
			seen[v] = true
			*list = append(*list, v)
		}
	}
	for _, x := range xs {
		add(&markets, seenMarket, x.Market)
		add(&ids, seenOrder, x.OrderID)
		for _, e := range x.Events {
			add(&ids, seenOrder, e.OrderID)
			if e.Trade != nil {
				add(&ids, seenOrder, e.Trade.MakerOrderID)
			}
		}
	}
	// The two reads are independent: run them at once (two connections, one wait).
	var from map[string]uint64
	var perr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		from, perr = s.Store.Progress(ctx, markets)
	}()
	orders, err := s.Store.OrdersByID(ctx, ids)
	<-read
	if err == nil {
		err = perr
	}
	if err != nil {
		return Batch{}, nil, err
	}
	b := Batch{From: from, To: map[string]uint64{}}
	for m, v := range from {
		b.To[m] = v
	}
	changed := map[string]bool{}
	positions := map[[2]string]*trading.Position{}
	var settled []trading.Execution
	for _, x := range xs {
		if x.Seq <= b.To[x.Market] {
			continue
		}
		b.To[x.Market] = x.Seq
		mu, err := s.marketUnits(ctx, x.Market)
		if err != nil && trading.ErrorCode(err) != trading.ENOTFOUND {
			return Batch{}, nil, err
		}
		settled = append(settled, x)
		for _, e := range x.Events {
			if err := s.applyEvent(&b, x, e, mu, orders, changed, positions); err != nil {
				return Batch{}, nil, err
			}
		}
	}
	for id := range changed {
		b.Orders = append(b.Orders, orders[id])
	}
	for _, p := range positions {
		b.Positions = append(b.Positions, *p)
	}
	return b, settled, nil
}

func (s *Service) applyEvent(b *Batch, x trading.Execution, e trading.ExecEvent, mu marketUnits,
	orders map[string]trading.Order, changed map[string]bool, positions map[[2]string]*trading.Position) error {
	at := x.ExecutedAt
	finish := func(o trading.Order, st trading.OrderStatus, reason string) {
		if o.Status.Final() {
			return
		}
		o.Status, o.Reason, o.UpdatedAt = st, reason, at
		orders[o.ID] = o
		changed[o.ID] = true
		b.Transfers = append(b.Transfers, ledger.ReleaseRest(o.ID, o.Account, o.HoldAsset))
	}
	switch e.Type {
	case trading.ExecAccepted:
		o, ok := orders[e.OrderID]
		if ok && o.Status == trading.StatusPending {
			o.Status, o.UpdatedAt = trading.StatusOpen, at
			orders[o.ID] = o
			changed[o.ID] = true
		}
	case trading.ExecRejected:
		// A rejected cancel changes nothing; a rejected new order ends it. A duplicate id
		// rejection means the order already rests: it is not the order's fate.
		if x.Command != trading.OpNew || e.Reason == "duplicate_id" {
			return nil
		}
		if o, ok := orders[e.OrderID]; ok {
			finish(o, trading.StatusRejected, e.Reason)
		}
	case trading.ExecCancelled:
		if o, ok := orders[e.OrderID]; ok {
			finish(o, trading.StatusCancelled, e.Reason)
		}
	case trading.ExecTrade:
		t := e.Trade
		if t == nil {
			return fmt.Errorf("execution %s: trade event without trade", x.ID)
		}
		maker, mok := orders[t.MakerOrderID]
		taker, tok := orders[t.TakerOrderID]
		if !mok || !tok {
			return fmt.Errorf("execution %s: trade %s names unknown orders", x.ID, t.ID)
		}
		tr, fees, buyerPos, sellerPos, err := tradeTransfer(*t, maker, taker, mu.def, mu.units, s.Fees)
		if err != nil {
			return err
		}
		recorded := *t
		recorded.Fees = &fees
		b.Trades = append(b.Trades, recorded)
		b.Transfers = append(b.Transfers, tr)
		for _, p := range []trading.Position{buyerPos, sellerPos} {
			k := [2]string{p.Account, p.Market}
			if positions[k] == nil {
				positions[k] = &trading.Position{Account: p.Account, Market: p.Market}
			}
			positions[k].Base += p.Base
			positions[k].QuoteNet += p.QuoteNet
		}
		fill := func(o trading.Order, remaining int64) {
			o.Filled += t.Quantity
			o.UpdatedAt = at
			o.Status = trading.StatusPartiallyFilled
			orders[o.ID] = o
			changed[o.ID] = true
			if remaining == 0 || o.Filled >= o.Quantity {
				finish(o, trading.StatusFilled, "")
			}
		}
		fill(maker, e.MakerRemaining)
		fill(orders[t.TakerOrderID], e.Remaining)
	}
	return nil
}

// feeOf is bps basis points of amount rounded up, toward the venue, so that no trade pays
// less than the rate (the smallest pay one minor unit), and never more than amount. The
// product is taken in 128 bits, so it cannot overflow.
func feeOf(amount, bps int64) int64 {
	if amount <= 0 || bps <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(amount), uint64(min(bps, 10000)))
	q, r := bits.Div64(hi, lo, 10000)
	if r != 0 {
		q++
	}
	return int64(q)
}

// tradeAmounts are a trade's notional and base amount and the fees of the buyer (in base)
// and the seller (in quote); false when an amount is out of range.
func tradeAmounts(t trading.Trade, u trading.Units, fees Fees) (notional, base, feeBase, feeQuote int64, ok bool) {
	buyerFee, sellerFee := fees.TakerBps, fees.MakerBps
	if t.TakerSide == trading.Sell {
		buyerFee, sellerFee = fees.MakerBps, fees.TakerBps
	}
	notional, ok1 := u.Notional(t.Price, t.Quantity)
	base, ok2 := u.Base(t.Quantity)
	return notional, base, feeOf(base, buyerFee), feeOf(notional, sellerFee), ok1 && ok2
}

// TradeFees is what TradeTransfer charges each side of t, by liquidity role.
func TradeFees(t trading.Trade, m trading.MarketDef, u trading.Units, fees Fees) (trading.TradeFee, error) {
	_, _, feeBase, feeQuote, ok := tradeAmounts(t, u, fees)
	if !ok {
		return trading.TradeFee{}, fmt.Errorf("trade %s: amounts out of range", t.ID)
	}
	fa := feeAmounts(t, feeBase, feeQuote)
	makerAsset, takerAsset := t.FeeAssets(m)
	return trading.TradeFee{TradeID: t.ID, MakerFee: fa.Maker, MakerAsset: makerAsset, TakerFee: fa.Taker, TakerAsset: takerAsset}, nil
}

// feeAmounts are the maker's and the taker's fees of t given the buyer's (in base) and the
// seller's (in quote).
func feeAmounts(t trading.Trade, feeBase, feeQuote int64) trading.FeeAmounts {
	if t.TakerSide == trading.Sell {
		return trading.FeeAmounts{Maker: feeBase, Taker: feeQuote}
	}
	return trading.FeeAmounts{Maker: feeQuote, Taker: feeBase}
}

// TradeTransfer is the ledger transfer of one trade: the buyer pays price*quantity in quote
// from the hold of its order and receives the base quantity less its fee; the seller delivers
// the base quantity from its order's hold and receives the notional less its fee; fees go to
// ledger.Fees. The buyer's hold was taken at its order's book price, so the fill also releases
// (book price - trade price) * quantity of it. It returns the position changes of buyer and
// seller.
func TradeTransfer(t trading.Trade, maker, taker trading.Order, m trading.MarketDef, u trading.Units, fees Fees) (ledger.Transfer, trading.Position, trading.Position, error) {
	tr, _, buyer, seller, err := tradeTransfer(t, maker, taker, m, u, fees)
	return tr, buyer, seller, err
}

// tradeTransfer is TradeTransfer with the fees it charged, which settlement records with the
// trade: the very amounts of the transfer's fee postings.
func tradeTransfer(t trading.Trade, maker, taker trading.Order, m trading.MarketDef, u trading.Units, fees Fees) (ledger.Transfer, trading.FeeAmounts, trading.Position, trading.Position, error) {
	buy, sell := taker, maker
	if t.TakerSide == trading.Sell {
		buy, sell = maker, taker
	}
	notional, base, feeBase, feeQuote, ok := tradeAmounts(t, u, fees)
	reserved, ok2 := u.Notional(buy.BookPrice, t.Quantity)
	if !ok || !ok2 || reserved < notional {
		return ledger.Transfer{}, trading.FeeAmounts{}, trading.Position{}, trading.Position{}, fmt.Errorf("trade %s: amounts out of range", t.ID)
	}
	tr := ledger.Transfer{ID: "trade:" + t.ID, Kind: ledger.KindTrade,
		Postings: []ledger.Posting{
			{Account: buy.Account, Asset: m.Quote, Amount: -notional},
			{Account: sell.Account, Asset: m.Quote, Amount: notional - feeQuote},
			{Account: sell.Account, Asset: m.Base, Amount: -base},
			{Account: buy.Account, Asset: m.Base, Amount: base - feeBase},
		},
		Holds: []ledger.HoldOp{
			{Hold: buy.ID, Account: buy.Account, Asset: m.Quote, Amount: -reserved},
			{Hold: sell.ID, Account: sell.Account, Asset: m.Base, Amount: -base},
		},
	}
	if feeQuote > 0 {
		tr.Postings = append(tr.Postings, ledger.Posting{Account: ledger.Fees, Asset: m.Quote, Amount: feeQuote})
	}
	if feeBase > 0 {
		tr.Postings = append(tr.Postings, ledger.Posting{Account: ledger.Fees, Asset: m.Base, Amount: feeBase})
	}
	return tr, feeAmounts(t, feeBase, feeQuote),
		trading.Position{Account: buy.Account, Market: m.Symbol, Base: base - feeBase, QuoteNet: -notional},
		trading.Position{Account: sell.Account, Market: m.Symbol, Base: -base, QuoteNet: notional - feeQuote},
		nil
}
