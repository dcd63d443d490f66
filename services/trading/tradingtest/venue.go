// Package tradingtest is an in-memory trading venue implementing the trading services
// (OrderService, MarketService, AccountService, RiskAdmin) behind one mutex: price-time
// matching, balance holds and fills. It serves the HTTP adapter's tests and lets the API run
// in one process before, or without, the real order-flow backend. It is not the matching
// engine: no journal, no Kafka, no persistence.
package tradingtest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/cantondex/platform/services/trading"
)

var (
	_ trading.OrderService   = (*Venue)(nil)
	_ trading.MarketService  = (*Venue)(nil)
	_ trading.AccountService = (*Venue)(nil)
	_ trading.RiskAdmin      = (*Venue)(nil)
)

type market struct {
	def        trading.MarketDef
	base       trading.Asset
	quote      trading.Asset
	units      trading.Units
	bids, asks []*trading.Order
	killed     bool
}

// notional and baseAmount ignore overflow: validation keeps prices and quantities within the
// market's limits, far from it.
func (m *market) notional(price, qty int64) int64 { v, _ := m.units.Notional(price, qty); return v }
func (m *market) baseAmount(qty int64) int64      { v, _ := m.units.Base(qty); return v }

type balance struct{ total, held int64 }

// Venue is the in-memory venue. The zero value is not usable: call NewVenue.
type Venue struct {
	mu        sync.Mutex
	now       func() time.Time
	seq       uint64
	assets    map[string]trading.Asset
	markets   map[string]*market
	orders    map[string]*trading.Order
	holds     map[string]int64 // order id -> amount still held for it
	byClient  map[string]string
	acctOrds  map[string][]string
	balances  map[string]map[string]*balance
	positions map[string]map[string]*trading.Position
	trades    []trading.Trade
	acctTrds  map[string][]int
	funding   map[string]bool
	killed    map[string]bool
}

// NewVenue returns a venue with assets USD (6 decimals), BTC and ETH (8 decimals) and no
// markets. now is the clock (time.Now when nil).
func NewVenue(now func() time.Time) *Venue {
	if now == nil {
		now = time.Now
	}
	v := &Venue{
		now: now, assets: map[string]trading.Asset{}, markets: map[string]*market{},
		orders: map[string]*trading.Order{}, holds: map[string]int64{}, byClient: map[string]string{},
		acctOrds: map[string][]string{}, balances: map[string]map[string]*balance{},
		positions: map[string]map[string]*trading.Position{}, acctTrds: map[string][]int{},
		funding: map[string]bool{}, killed: map[string]bool{},
	}
	for _, a := range []trading.Asset{{Symbol: "USD", Scale: 6}, {Symbol: "BTC", Scale: 8}, {Symbol: "ETH", Scale: 8}} {
		v.assets[a.Symbol] = a
	}
	return v
}

// DemoMarket is the market the platform seeds: BTC-USD, price step 0.01, quantity step 0.0001.
func DemoMarket() trading.MarketDef {
	return trading.MarketDef{Symbol: "BTC-USD", Base: "BTC", Quote: "USD", TickSize: "0.01", LotSize: "0.0001",
		MinPrice: 1, MaxPrice: 100_000_000_00, MinQty: 1, MaxQty: 1_000_000}
}

func errf(code, format string, args ...any) error { return trading.Errorf(code, format, args...) }

func (v *Venue) CreateMarket(_ context.Context, d trading.MarketDef) (trading.MarketDef, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	base, ok1 := v.assets[d.Base]
	quote, ok2 := v.assets[d.Quote]
	if !ok1 || !ok2 || d.Base == d.Quote {
		return trading.MarketDef{}, errf(trading.EINVALID, "base and quote must be two known assets")
	}
	if d.Symbol != d.Base+"-"+d.Quote {
		return trading.MarketDef{}, errf(trading.EINVALID, "symbol must be BASE-QUOTE")
	}
	if _, ok := v.markets[d.Symbol]; ok {
		return trading.MarketDef{}, errf(trading.ECONFLICT, "market %s exists", d.Symbol)
	}
	units, err := trading.NewUnits(d, base, quote)
	if err != nil {
		return trading.MarketDef{}, err
	}
	if d.MinPrice <= 0 || d.MaxPrice < d.MinPrice || d.MinQty <= 0 || d.MaxQty < d.MinQty {
		return trading.MarketDef{}, errf(trading.EINVALID, "price and quantity limits must be positive and ordered")
	}
	d.CreatedAt = v.now().UTC()
	v.markets[d.Symbol] = &market{def: d, base: base, quote: quote, units: units}
	return d, nil
}

func (v *Venue) marketLocked(symbol string) (*market, error) {
	m, ok := v.markets[symbol]
	if !ok {
		return nil, errf(trading.ENOTFOUND, "market not found")
	}
	return m, nil
}

func (v *Venue) Markets(context.Context) ([]trading.MarketDef, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]trading.MarketDef, 0, len(v.markets))
	for _, m := range v.markets {
		out = append(out, m.def)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out, nil
}

func (v *Venue) Market(_ context.Context, symbol string) (trading.MarketDef, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, err := v.marketLocked(symbol)
	if err != nil {
		return trading.MarketDef{}, err
	}
	return m.def, nil
}

func (v *Venue) SetHalted(_ context.Context, symbol string, halted bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, err := v.marketLocked(symbol)
	if err == nil {
		m.def.Halted = halted
	}
	return err
}

func (v *Venue) SetMarketKillSwitch(_ context.Context, symbol string, on bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, err := v.marketLocked(symbol)
	if err == nil {
		m.killed = on
	}
	return err
}

func (v *Venue) SetAccountKillSwitch(_ context.Context, account string, on bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.killed[account] = on
	return nil
}

func levels(side []*trading.Order, depth int) []trading.Level {
	var out []trading.Level
	for _, o := range side {
		if n := len(out); n > 0 && out[n-1].Price == o.Price {
			out[n-1].Quantity += o.Remaining()
			out[n-1].Orders++
			continue
		}
		if len(out) == depth {
			break
		}
		out = append(out, trading.Level{Price: o.Price, Quantity: o.Remaining(), Orders: 1})
	}
	return out
}

func (v *Venue) Book(_ context.Context, symbol string, depth int) (trading.Book, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, err := v.marketLocked(symbol)
	if err != nil {
		return trading.Book{}, err
	}
	return trading.Book{Market: symbol, Bids: levels(m.bids, depth), Asks: levels(m.asks, depth), Seq: v.seq}, nil
}

func (v *Venue) MarketTrades(_ context.Context, symbol string, limit int) ([]trading.Trade, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, err := v.marketLocked(symbol); err != nil {
		return nil, err
	}
	var out []trading.Trade
	for i := len(v.trades) - 1; i >= 0 && len(out) < limit; i-- {
		if v.trades[i].Market == symbol {
			out = append(out, v.trades[i])
		}
	}
	return out, nil
}

func (v *Venue) Ticker(_ context.Context, symbol string) (trading.Ticker, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m, err := v.marketLocked(symbol)
	if err != nil {
		return trading.Ticker{}, err
	}
	t := trading.Ticker{Market: symbol}
	if len(m.bids) > 0 {
		t.BestBid = m.bids[0].Price
	}
	if len(m.asks) > 0 {
		t.BestAsk = m.asks[0].Price
	}
	since := v.now().Add(-24 * time.Hour)
	for _, tr := range v.trades {
		if tr.Market != symbol {
			continue
		}
		t.Last = tr.Price
		if tr.ExecutedAt.Before(since) {
			continue
		}
		t.Volume24h += tr.Quantity
		t.High24h = max(t.High24h, tr.Price)
		if t.Low24h == 0 || tr.Price < t.Low24h {
			t.Low24h = tr.Price
		}
	}
	return t, nil
}

func (v *Venue) Assets(context.Context) ([]trading.Asset, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]trading.Asset, 0, len(v.assets))
	for _, a := range v.assets {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out, nil
}

func (v *Venue) bal(account, asset string) *balance {
	m := v.balances[account]
	if m == nil {
		m = map[string]*balance{}
		v.balances[account] = m
	}
	b := m[asset]
	if b == nil {
		b = &balance{}
		m[asset] = b
	}
	return b
}

func (v *Venue) Balances(_ context.Context, account string) ([]trading.Balance, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []trading.Balance
	for asset, b := range v.balances[account] {
		out = append(out, trading.Balance{Account: account, Asset: asset, Total: b.total, Held: b.held, Available: b.total - b.held})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Asset < out[j].Asset })
	return out, nil
}

func (v *Venue) Positions(_ context.Context, account string) ([]trading.Position, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []trading.Position
	for _, p := range v.positions[account] {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Market < out[j].Market })
	return out, nil
}

// page returns up to limit items of a newest-first listing of n items, starting at the cursor
// (an index into the reversed list).
func page(n int, cursor string, limit int) (from, to int, next string, err error) {
	if cursor != "" {
		from, err = strconv.Atoi(cursor)
		if err != nil || from < 0 || from > n {
			return 0, 0, "", errf(trading.EINVALID, "invalid cursor")
		}
	}
	to = min(n, from+limit)
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next, nil
}

func (v *Venue) AccountTrades(_ context.Context, account, cursor string, limit int) (trading.Page[trading.Trade], error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	idx := v.acctTrds[account]
	from, to, next, err := page(len(idx), cursor, limit)
	if err != nil {
		return trading.Page[trading.Trade]{}, err
	}
	out := trading.Page[trading.Trade]{Items: []trading.Trade{}, NextCursor: next}
	for i := from; i < to; i++ {
		out.Items = append(out.Items, v.trades[idx[len(idx)-1-i]])
	}
	return out, nil
}

func (v *Venue) fund(id, account, asset string, amount int64, sign int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.assets[asset]; !ok {
		return errf(trading.EINVALID, "unknown asset")
	}
	if amount <= 0 {
		return errf(trading.EINVALID, "amount must be positive")
	}
	if v.funding[id] {
		return nil
	}
	b := v.bal(account, asset)
	if sign < 0 && b.total-b.held < amount {
		return errf(trading.EINSUFFICIENT, "insufficient available balance")
	}
	b.total += sign * amount
	v.funding[id] = true
	return nil
}

func (v *Venue) Deposit(_ context.Context, id, account, asset string, amount int64) error {
	return v.fund(id, account, asset, amount, 1)
}

func (v *Venue) Withdraw(_ context.Context, id, account, asset string, amount int64) error {
	return v.fund(id, account, asset, amount, -1)
}

func (v *Venue) GetOrder(_ context.Context, account, id string) (trading.Order, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	o, ok := v.orders[id]
	if !ok || o.Account != account {
		return trading.Order{}, errf(trading.ENOTFOUND, "order not found")
	}
	return *o, nil
}

func (v *Venue) ListOrders(_ context.Context, f trading.OrderFilter) (trading.Page[trading.Order], error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var sel []*trading.Order
	ids := v.acctOrds[f.Account]
	for i := len(ids) - 1; i >= 0; i-- {
		o := v.orders[ids[i]]
		if (f.Market == "" || o.Market == f.Market) && (!f.OpenOnly || !o.Status.Final()) {
			sel = append(sel, o)
		}
	}
	from, to, next, err := page(len(sel), f.Cursor, f.Limit)
	if err != nil {
		return trading.Page[trading.Order]{}, err
	}
	out := trading.Page[trading.Order]{Items: []trading.Order{}, NextCursor: next}
	for _, o := range sel[from:to] {
		out.Items = append(out.Items, *o)
	}
	return out, nil
}

func (v *Venue) PlaceOrder(_ context.Context, r trading.PlaceOrder) (trading.Order, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ck := r.Account + "\x00" + r.ClientOrderID
	if r.ClientOrderID != "" {
		if id, ok := v.byClient[ck]; ok {
			return *v.orders[id], nil
		}
	}
	m, err := v.marketLocked(r.Market)
	if err != nil {
		return trading.Order{}, err
	}
	if err := validate(m, r); err != nil {
		return trading.Order{}, err
	}
	if m.def.Halted || m.killed {
		return trading.Order{}, errf(trading.EUNAVAILABLE, "market %s is halted", r.Market)
	}
	if v.killed[r.Account] {
		return trading.Order{}, errf(trading.EFORBIDDEN, "trading is disabled for this account")
	}
	// Hold what the order may spend.
	asset, hold := m.base.Symbol, m.baseAmount(r.Quantity)
	if r.Side == trading.Buy {
		asset = m.quote.Symbol
		if r.Type == trading.Limit {
			hold = m.notional(r.Price, r.Quantity)
		} else {
			hold = v.marketBuyCost(m, r.Quantity)
		}
	}
	b := v.bal(r.Account, asset)
	if b.total-b.held < hold {
		return trading.Order{}, errf(trading.EINSUFFICIENT, "insufficient available %s", asset)
	}
	v.seq++
	now := v.now().UTC()
	o := &trading.Order{
		ID: fmt.Sprintf("o-%d", v.seq), ClientOrderID: r.ClientOrderID, Account: r.Account, Market: r.Market,
		Side: r.Side, Type: r.Type, TimeInForce: r.TimeInForce, PostOnly: r.PostOnly, Price: r.Price,
		Quantity: r.Quantity, Status: trading.StatusOpen, CreatedAt: now, UpdatedAt: now,
	}
	v.orders[o.ID] = o
	v.acctOrds[r.Account] = append(v.acctOrds[r.Account], o.ID)
	if r.ClientOrderID != "" {
		v.byClient[ck] = o.ID
	}
	b.held += hold
	v.holds[o.ID] = hold
	v.match(m, o)
	return *o, nil
}

func validate(m *market, r trading.PlaceOrder) error {
	if r.Side != trading.Buy && r.Side != trading.Sell {
		return errf(trading.EINVALID, "side must be buy or sell")
	}
	if r.Quantity < m.def.MinQty || r.Quantity > m.def.MaxQty {
		return errf(trading.EINVALID, "quantity outside the market's limits")
	}
	switch r.Type {
	case trading.Limit:
		if r.Price < m.def.MinPrice || r.Price > m.def.MaxPrice {
			return errf(trading.EINVALID, "price outside the market's limits")
		}
		if r.TimeInForce != trading.GTC && r.TimeInForce != trading.IOC && r.TimeInForce != trading.FOK {
			return errf(trading.EINVALID, "time_in_force must be GTC, IOC or FOK")
		}
	case trading.Market:
		if r.Price != 0 || r.PostOnly || (r.TimeInForce != trading.IOC && r.TimeInForce != trading.FOK) {
			return errf(trading.EINVALID, "market orders take no price, are not post-only and are IOC or FOK")
		}
	default:
		return errf(trading.EINVALID, "type must be limit or market")
	}
	if r.PostOnly && r.TimeInForce != trading.GTC {
		return errf(trading.EINVALID, "post-only orders are GTC")
	}
	return nil
}

func (v *Venue) marketBuyCost(m *market, qty int64) int64 {
	var cost int64
	for _, o := range m.asks {
		q := min(qty, o.Remaining())
		cost += m.notional(o.Price, q)
		if qty -= q; qty == 0 {
			break
		}
	}
	return cost
}

func crosses(o, rest *trading.Order) bool {
	if o.Type == trading.Market {
		return true
	}
	if o.Side == trading.Buy {
		return rest.Price <= o.Price
	}
	return rest.Price >= o.Price
}

func (v *Venue) match(m *market, o *trading.Order) {
	book := &m.asks
	if o.Side == trading.Sell {
		book = &m.bids
	}
	if o.PostOnly && len(*book) > 0 && crosses(o, (*book)[0]) {
		v.finish(m, o, trading.StatusRejected, "post_only_would_cross")
		return
	}
	if o.TimeInForce == trading.FOK {
		avail := int64(0)
		for _, r := range *book {
			if !crosses(o, r) || avail >= o.Quantity {
				break
			}
			avail += r.Remaining()
		}
		if avail < o.Quantity {
			v.finish(m, o, trading.StatusCancelled, "fok_not_filled")
			return
		}
	}
	for len(*book) > 0 && o.Remaining() > 0 && crosses(o, (*book)[0]) {
		maker := (*book)[0]
		if maker.Account == o.Account {
			// Self-trade prevention: cancel the resting order.
			*book = (*book)[1:]
			v.finish(m, maker, trading.StatusCancelled, "self_trade_prevented")
			continue
		}
		q := min(o.Remaining(), maker.Remaining())
		v.fill(m, maker, o, maker.Price, q)
		if maker.Remaining() == 0 {
			*book = (*book)[1:]
			v.finish(m, maker, trading.StatusFilled, "")
		}
	}
	switch {
	case o.Remaining() == 0:
		v.finish(m, o, trading.StatusFilled, "")
	case o.Type == trading.Market || o.TimeInForce != trading.GTC:
		v.finish(m, o, trading.StatusCancelled, "unfilled_remainder")
	default:
		rest(m, o)
	}
}

func rest(m *market, o *trading.Order) {
	side := &m.bids
	better := func(a *trading.Order) bool { return a.Price < o.Price }
	if o.Side == trading.Sell {
		side = &m.asks
		better = func(a *trading.Order) bool { return a.Price > o.Price }
	}
	i := sort.Search(len(*side), func(i int) bool { return better((*side)[i]) })
	*side = append(*side, nil)
	copy((*side)[i+1:], (*side)[i:])
	(*side)[i] = o
}

func (v *Venue) fill(m *market, maker, taker *trading.Order, price, qty int64) {
	now := v.now().UTC()
	cost, base := m.notional(price, qty), m.baseAmount(qty)
	buy, sell := maker, taker
	if taker.Side == trading.Buy {
		buy, sell = taker, maker
	}
	spent := cost
	if buy.Type == trading.Limit {
		spent = m.notional(buy.Price, qty)
	}
	spent = min(spent, v.holds[buy.ID])
	bq := v.bal(buy.Account, m.quote.Symbol)
	bq.total -= cost
	bq.held -= spent
	v.holds[buy.ID] -= spent
	v.bal(buy.Account, m.base.Symbol).total += base
	sb := v.bal(sell.Account, m.base.Symbol)
	sb.total -= base
	sb.held -= base
	v.holds[sell.ID] -= base
	v.bal(sell.Account, m.quote.Symbol).total += cost
	v.position(buy.Account, m.def.Symbol, base, -cost)
	v.position(sell.Account, m.def.Symbol, -base, cost)
	for _, o := range []*trading.Order{maker, taker} {
		o.Filled += qty
		o.Status = trading.StatusPartiallyFilled
		o.UpdatedAt = now
	}
	v.trades = append(v.trades, trading.Trade{
		ID: fmt.Sprintf("t-%d-%d", v.seq, len(v.trades)+1), Market: m.def.Symbol, Price: price, Quantity: qty,
		MakerOrderID: maker.ID, TakerOrderID: taker.ID, MakerAccount: maker.Account, TakerAccount: taker.Account,
		TakerSide: taker.Side, Seq: v.seq, ExecutedAt: now,
	})
	n := len(v.trades) - 1
	v.acctTrds[maker.Account] = append(v.acctTrds[maker.Account], n)
	v.acctTrds[taker.Account] = append(v.acctTrds[taker.Account], n)
}

func (v *Venue) position(account, symbol string, base, quote int64) {
	m := v.positions[account]
	if m == nil {
		m = map[string]*trading.Position{}
		v.positions[account] = m
	}
	p := m[symbol]
	if p == nil {
		p = &trading.Position{Account: account, Market: symbol}
		m[symbol] = p
	}
	p.Base += base
	p.QuoteNet += quote
}

// finish ends an order: status, reason, and the release of whatever it still holds.
func (v *Venue) finish(m *market, o *trading.Order, status trading.OrderStatus, reason string) {
	asset := m.base.Symbol
	if o.Side == trading.Buy {
		asset = m.quote.Symbol
	}
	v.bal(o.Account, asset).held -= v.holds[o.ID]
	delete(v.holds, o.ID)
	o.Status, o.Reason, o.UpdatedAt = status, reason, v.now().UTC()
}

func (v *Venue) CancelOrder(_ context.Context, account, id string) (trading.Order, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	o, ok := v.orders[id]
	if !ok || o.Account != account {
		return trading.Order{}, errf(trading.ENOTFOUND, "order not found")
	}
	if o.Status.Final() {
		return trading.Order{}, errf(trading.ECONFLICT, "order is already %s", o.Status)
	}
	v.cancelLocked(o)
	return *o, nil
}

func (v *Venue) cancelLocked(o *trading.Order) {
	m := v.markets[o.Market]
	for _, side := range []*[]*trading.Order{&m.bids, &m.asks} {
		for i, r := range *side {
			if r == o {
				*side = append((*side)[:i], (*side)[i+1:]...)
				break
			}
		}
	}
	v.finish(m, o, trading.StatusCancelled, "cancelled_by_user")
}

func (v *Venue) CancelAll(_ context.Context, account, symbol string) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if symbol != "" {
		if _, err := v.marketLocked(symbol); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, id := range v.acctOrds[account] {
		o := v.orders[id]
		if !o.Status.Final() && (symbol == "" || o.Market == symbol) {
			v.cancelLocked(o)
			n++
		}
	}
	return n, nil
}
