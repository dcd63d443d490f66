package memory

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/trading"
)

// venue is the non-ledger state, guarded by Store.mu.
type venue struct {
	assets    map[string]trading.Asset
	markets   map[string]trading.MarketDef
	kills     map[string]bool // scope + "/" + name
	orders    map[string]*orderRow
	open      map[string]int    // account -> orders not final
	byClient  map[string]string // account + "\x00" + client id -> order id
	trades    []trading.Trade   // in settlement order; cursor = index+1
	tradeIDs  map[string]bool
	positions map[string]*trading.Position // account + "\x00" + market
	progress  map[string]uint64            // market -> last settled seq
	snapshots map[string]snapshot          // engine snapshots by key
}

type orderRow struct {
	trading.Order
	published bool
}

type snapshot struct {
	data []byte
}

func newVenue() venue {
	return venue{
		assets: map[string]trading.Asset{}, markets: map[string]trading.MarketDef{}, kills: map[string]bool{},
		orders: map[string]*orderRow{}, open: map[string]int{}, byClient: map[string]string{}, tradeIDs: map[string]bool{},
		positions: map[string]*trading.Position{}, progress: map[string]uint64{}, snapshots: map[string]snapshot{},
	}
}

// Assets returns the assets by symbol.
func (s *Store) Assets(context.Context) ([]trading.Asset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]trading.Asset, 0, len(s.assets))
	for _, a := range s.assets {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out, nil
}

// CreateAsset adds an asset; an existing symbol with the same scale is accepted again.
func (s *Store) CreateAsset(_ context.Context, a trading.Asset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.assets[a.Symbol]; ok {
		if old != a {
			return trading.Errorf(trading.ECONFLICT, "asset %s exists with another scale", a.Symbol)
		}
		return nil
	}
	s.assets[a.Symbol] = a
	return nil
}

// Markets returns the markets by symbol.
func (s *Store) Markets(context.Context) ([]trading.MarketDef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]trading.MarketDef, 0, len(s.markets))
	for _, m := range s.markets {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out, nil
}

// Market returns one market.
func (s *Store) Market(_ context.Context, symbol string) (trading.MarketDef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.markets[symbol]
	if !ok {
		return m, trading.Errorf(trading.ENOTFOUND, "market %s not found", symbol)
	}
	return m, nil
}

// CreateMarket adds a market; ECONFLICT when the symbol exists.
func (s *Store) CreateMarket(_ context.Context, m trading.MarketDef) (trading.MarketDef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.markets[m.Symbol]; ok {
		return trading.MarketDef{}, trading.Errorf(trading.ECONFLICT, "market %s already exists", m.Symbol)
	}
	s.markets[m.Symbol] = m
	return m, nil
}

// SetHalted halts or reopens a market.
func (s *Store) SetHalted(_ context.Context, symbol string, halted bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.markets[symbol]
	if !ok {
		return trading.Errorf(trading.ENOTFOUND, "market %s not found", symbol)
	}
	m.Halted = halted
	s.markets[symbol] = m
	return nil
}

// KillSwitches reports the account's and the market's kill switches.
func (s *Store) KillSwitches(_ context.Context, account, market string) (bool, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kills["account/"+account], s.kills["market/"+market], nil
}

// SetKillSwitch turns a kill switch on or off.
func (s *Store) SetKillSwitch(_ context.Context, scope, name string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kills[scope+"/"+name] = on
	return nil
}

// CreateOrder records o and applies hold atomically (see exchange.Store).
func (s *Store) CreateOrder(_ context.Context, o trading.Order, hold ledger.Transfer) (trading.Order, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ck := o.Account + "\x00" + o.ClientOrderID
	if o.ClientOrderID != "" {
		if id, ok := s.byClient[ck]; ok {
			return s.orders[id].Order, true, nil
		}
	}
	if _, ok := s.orders[o.ID]; ok {
		return trading.Order{}, false, trading.Errorf(trading.ECONFLICT, "order %s already exists", o.ID)
	}
	if _, err := s.applyLocked(hold); err != nil {
		return trading.Order{}, false, err
	}
	s.orders[o.ID] = &orderRow{Order: o}
	s.open[o.Account]++
	if o.ClientOrderID != "" {
		s.byClient[ck] = o.ID
	}
	return o, false, nil
}

// OrderByClientID returns the account's order with that client order id.
func (s *Store) OrderByClientID(_ context.Context, account, clientID string) (trading.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byClient[account+"\x00"+clientID]; ok {
		return s.orders[id].Order, nil
	}
	return trading.Order{}, trading.Errorf(trading.ENOTFOUND, "order not found")
}

// Order returns the account's order id; another account's order is ENOTFOUND.
func (s *Store) Order(_ context.Context, account, id string) (trading.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok || o.Account != account {
		return trading.Order{}, trading.Errorf(trading.ENOTFOUND, "order not found")
	}
	return o.Order, nil
}

// OrdersByID returns the orders with the given ids that exist, by id.
func (s *Store) OrdersByID(_ context.Context, ids []string) (map[string]trading.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]trading.Order, len(ids))
	for _, id := range ids {
		if o, ok := s.orders[id]; ok {
			out[id] = o.Order
		}
	}
	return out, nil
}

// Orders lists an account's orders, newest first; the cursor is the last id of a page.
func (s *Store) Orders(_ context.Context, f trading.OrderFilter) (trading.Page[trading.Order], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []trading.Order
	for _, o := range s.orders {
		if o.Account != f.Account || (f.Market != "" && o.Market != f.Market) || (f.OpenOnly && o.Status.Final()) {
			continue
		}
		if f.Cursor != "" && o.ID >= f.Cursor {
			continue
		}
		all = append(all, o.Order)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	var p trading.Page[trading.Order]
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
		p.NextCursor = all[len(all)-1].ID
	}
	p.Items = all
	return p, nil
}

// OpenOrderCount counts the account's orders that are not final.
func (s *Store) OpenOrderCount(_ context.Context, account string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[account], nil
}

// Unpublished returns pending, unmarked orders created before before, oldest first.
func (s *Store) Unpublished(_ context.Context, before time.Time, limit int) ([]trading.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []trading.Order
	for _, o := range s.orders {
		if !o.published && o.Status == trading.StatusPending && o.CreatedAt.Before(before) {
			out = append(out, o.Order)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// MarkPublished marks orders as published to the orders log.
func (s *Store) MarkPublished(_ context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if o, ok := s.orders[id]; ok {
			o.published = true
		}
	}
	return nil
}

// AccountTrades lists trades the account took part in, newest first.
func (s *Store) AccountTrades(_ context.Context, account, cursor string, limit int) (trading.Page[trading.Trade], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := len(s.trades)
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || n > len(s.trades) {
			return trading.Page[trading.Trade]{}, trading.Errorf(trading.EINVALID, "bad cursor")
		}
		end = n
	}
	var p trading.Page[trading.Trade]
	for i := end - 1; i >= 0; i-- {
		t := s.trades[i]
		if t.MakerAccount != account && t.TakerAccount != account {
			continue
		}
		if len(p.Items) == limit {
			p.NextCursor = strconv.Itoa(i + 1)
			break
		}
		p.Items = append(p.Items, t)
	}
	return p, nil
}

// MarketTrades returns a market's latest trades, newest first.
func (s *Store) MarketTrades(_ context.Context, market string, limit int) ([]trading.Trade, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []trading.Trade
	for i := len(s.trades) - 1; i >= 0 && len(out) < limit; i-- {
		if s.trades[i].Market == market {
			out = append(out, s.trades[i])
		}
	}
	return out, nil
}

// MarketStats fills the last price and the volume, high and low since since.
func (s *Store) MarketStats(_ context.Context, market string, since time.Time) (trading.Ticker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := trading.Ticker{Market: market}
	for i := len(s.trades) - 1; i >= 0; i-- {
		tr := s.trades[i]
		if tr.Market != market {
			continue
		}
		if t.Last == 0 {
			t.Last = tr.Price
		}
		if tr.ExecutedAt.Before(since) {
			break
		}
		if since.IsZero() {
			break // only the last price was asked for
		}
		t.Volume24h += tr.Quantity
		t.High24h = max(t.High24h, tr.Price)
		if t.Low24h == 0 || tr.Price < t.Low24h {
			t.Low24h = tr.Price
		}
	}
	return t, nil
}

// Positions returns the account's positions by market.
func (s *Store) Positions(_ context.Context, account string) ([]trading.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []trading.Position
	for _, p := range s.positions {
		if p.Account == account {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Market < out[j].Market })
	return out, nil
}

// PreTrade reads what the pre-trade checks need for an order.
func (s *Store) PreTrade(_ context.Context, account, market string) (risk.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := risk.State{AccountKilled: s.kills["account/"+account], MarketKilled: s.kills["market/"+market], OpenOrders: s.open[account]}
	for i := len(s.trades) - 1; i >= 0; i-- {
		if s.trades[i].Market == market {
			st.LastPrice = s.trades[i].Price
			break
		}
	}
	return st, nil
}
