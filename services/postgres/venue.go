package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/ledger"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/trading"
)

var (
	_ settlement.Store    = (*Store)(nil)
	_ exchange.BatchStore = (*Store)(nil)
)

// Assets returns the assets by symbol.
func (s *Store) Assets(ctx context.Context) ([]trading.Asset, error) {
	rows, err := s.q().Query(ctx, `SELECT symbol, scale FROM assets ORDER BY symbol`)
	if err != nil {
		return nil, translate(err, "assets")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[trading.Asset])
	return out, translate(err, "assets")
}

// CreateAsset adds an asset; an existing symbol with the same scale is accepted again.
func (s *Store) CreateAsset(ctx context.Context, a trading.Asset) error {
	tag, err := s.q().Exec(ctx, `INSERT INTO assets (symbol, scale) VALUES ($1, $2) ON CONFLICT (symbol) DO NOTHING`, a.Symbol, a.Scale)
	if err != nil {
		return translate(err, "asset")
	}
	if tag.RowsAffected() == 0 {
		var scale int
		if err := s.q().QueryRow(ctx, `SELECT scale FROM assets WHERE symbol = $1`, a.Symbol).Scan(&scale); err != nil {
			return translate(err, "asset")
		}
		if scale != a.Scale {
			return trading.Errorf(trading.ECONFLICT, "asset %s exists with another scale", a.Symbol)
		}
	}
	return nil
}

const marketCols = `symbol, base, quote, tick_size, lot_size, min_price, max_price, min_qty, max_qty, halted, created_at`

func scanMarket(row pgx.Row) (trading.MarketDef, error) {
	var m trading.MarketDef
	err := row.Scan(&m.Symbol, &m.Base, &m.Quote, &m.TickSize, &m.LotSize, &m.MinPrice, &m.MaxPrice, &m.MinQty, &m.MaxQty, &m.Halted, &m.CreatedAt)
	return m, err
}

// Markets returns the markets by symbol.
func (s *Store) Markets(ctx context.Context) ([]trading.MarketDef, error) {
	rows, err := s.q().Query(ctx, `SELECT `+marketCols+` FROM markets ORDER BY symbol`)
	if err != nil {
		return nil, translate(err, "markets")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (trading.MarketDef, error) { return scanMarket(r) })
	return out, translate(err, "markets")
}

// Market returns one market.
func (s *Store) Market(ctx context.Context, symbol string) (trading.MarketDef, error) {
	m, err := scanMarket(s.q().QueryRow(ctx, `SELECT `+marketCols+` FROM markets WHERE symbol = $1`, symbol))
	return m, translate(err, "market "+symbol)
}

// CreateMarket adds a market; ECONFLICT when the symbol exists.
func (s *Store) CreateMarket(ctx context.Context, m trading.MarketDef) (trading.MarketDef, error) {
	_, err := s.q().Exec(ctx, `INSERT INTO markets (`+marketCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		m.Symbol, m.Base, m.Quote, m.TickSize, m.LotSize, m.MinPrice, m.MaxPrice, m.MinQty, m.MaxQty, m.Halted, m.CreatedAt)
	return m, translate(err, "market "+m.Symbol)
}

// SetHalted halts or reopens a market.
func (s *Store) SetHalted(ctx context.Context, symbol string, halted bool) error {
	tag, err := s.q().Exec(ctx, `UPDATE markets SET halted = $2 WHERE symbol = $1`, symbol, halted)
	if err == nil && tag.RowsAffected() == 0 {
		return trading.Errorf(trading.ENOTFOUND, "market %s not found", symbol)
	}
	return translate(err, "market "+symbol)
}

// KillSwitches reports the account's and the market's kill switches.
func (s *Store) KillSwitches(ctx context.Context, account, market string) (bool, bool, error) {
	var acct, mkt bool
	err := s.q().QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM kill_switches WHERE scope = 'account' AND name = $1),
		EXISTS (SELECT 1 FROM kill_switches WHERE scope = 'market' AND name = $2)`, account, market).Scan(&acct, &mkt)
	return acct, mkt, translate(err, "kill switches")
}

// SetKillSwitch turns a kill switch on or off.
func (s *Store) SetKillSwitch(ctx context.Context, scope, name string, on bool) error {
	var err error
	if on {
		_, err = s.q().Exec(ctx, `INSERT INTO kill_switches (scope, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, scope, name)
	} else {
		_, err = s.q().Exec(ctx, `DELETE FROM kill_switches WHERE scope = $1 AND name = $2`, scope, name)
	}
	return translate(err, "kill switch")
}

const orderCols = `id, client_order_id, account, market, side, type, tif, post_only, price, quantity, filled, status, reason,
	book_price, book_tif, hold_asset, created_at, updated_at`

// orderColsO is orderCols qualified with the alias o, for joins.
var orderColsO = prefixed("o", orderCols)

// prefixed qualifies each of the comma-separated columns cols with alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func scanOrder(row pgx.Row) (trading.Order, error) {
	var o trading.Order
	err := row.Scan(&o.ID, &o.ClientOrderID, &o.Account, &o.Market, &o.Side, &o.Type, &o.TimeInForce, &o.PostOnly,
		&o.Price, &o.Quantity, &o.Filled, &o.Status, &o.Reason, &o.BookPrice, &o.BookTIF, &o.HoldAsset, &o.CreatedAt, &o.UpdatedAt)
	return o, err
}

func collectOrders(rows pgx.Rows, err error) ([]trading.Order, error) {
	if err != nil {
		return nil, translate(err, "orders")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (trading.Order, error) { return scanOrder(r) })
	return out, translate(err, "orders")
}

// CreateOrder records o and applies hold atomically (see exchange.Store). A hold that only
// reserves one amount under the order's id (what order entry sends) takes the one-round-trip
// create_order function; anything else runs the generic path in a transaction.
func (s *Store) CreateOrder(ctx context.Context, o trading.Order, hold ledger.Transfer) (trading.Order, bool, error) {
	if err := ledger.Validate(hold); err != nil {
		return trading.Order{}, false, err
	}
	if plainReserve(o, hold) {
		body, err := transferBody(hold)
		if err != nil {
			return trading.Order{}, false, err
		}
		var existing string
		err = s.q().QueryRow(ctx, `SELECT create_order($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			o.ID, o.ClientOrderID, o.Account, o.Market, o.Side, o.Type, o.TimeInForce, o.PostOnly, o.Price, o.Quantity,
			o.BookPrice, o.BookTIF, o.HoldAsset, o.CreatedAt, hold.Holds[0].Amount, body).Scan(&existing)
		if err != nil {
			return trading.Order{}, false, translate(err, "order")
		}
		if existing != "" {
			e, err := s.Order(ctx, o.Account, existing)
			return e, true, err
		}
		return o, false, nil
	}
	var existing *trading.Order
	err := s.InTx(ctx, func(s *Store) error {
		existing = nil
		tag, err := s.tx.Exec(ctx, `INSERT INTO orders (`+orderCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT (account, client_order_id) WHERE client_order_id <> '' DO NOTHING`,
			o.ID, o.ClientOrderID, o.Account, o.Market, o.Side, o.Type, o.TimeInForce, o.PostOnly, o.Price, o.Quantity, o.Filled,
			o.Status, o.Reason, o.BookPrice, o.BookTIF, o.HoldAsset, o.CreatedAt, o.UpdatedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			e, err := scanOrder(s.tx.QueryRow(ctx, `SELECT `+orderCols+` FROM orders WHERE account = $1 AND client_order_id = $2`, o.Account, o.ClientOrderID))
			existing = &e
			return err
		}
		if o.Status == trading.StatusPending {
			if _, err := s.tx.Exec(ctx, `INSERT INTO orders_unpublished (id, created_at) VALUES ($1, $2)`, o.ID, o.CreatedAt); err != nil {
				return err
			}
		}
		_, err = s.applyAll(ctx, []ledger.Transfer{hold})
		return err
	})
	if err != nil {
		return trading.Order{}, false, translate(err, "order")
	}
	if existing != nil {
		return *existing, true, nil
	}
	return o, false, nil
}

// plainReserve reports whether hold only reserves one amount under the new order's id (what
// order entry sends), so that create_order and create_orders can record it.
func plainReserve(o trading.Order, hold ledger.Transfer) bool {
	h := hold.Holds
	return len(hold.Postings) == 0 && len(h) == 1 && hold.ID == "hold:"+o.ID && h[0].Hold == o.ID &&
		h[0].Account == o.Account && h[0].Asset == o.HoldAsset && h[0].Amount > 0 && !h[0].Close && o.Filled == 0 &&
		o.Status == trading.StatusPending && o.CreatedAt.Equal(o.UpdatedAt)
}

// CreateOrders implements exchange.BatchStore: the plain reservations are recorded by one
// create_orders statement (one round trip, one commit), anything else as CreateOrder does.
// The statement is retried on deadlocks and serialization failures.
func (s *Store) CreateOrders(ctx context.Context, os []exchange.NewOrder) ([]exchange.Recorded, error) {
	out := make([]exchange.Recorded, len(os))
	var plain []int
	for i, n := range os {
		if err := ledger.Validate(n.Hold); err != nil {
			out[i].Err = err
			continue
		}
		if plainReserve(n.Order, n.Hold) {
			plain = append(plain, i)
			continue
		}
		o, existed, err := s.CreateOrder(ctx, n.Order, n.Hold)
		out[i] = exchange.Recorded{Order: o, Existed: existed, Err: err}
	}
	if len(plain) == 0 {
		return out, nil
	}
	k := len(plain)
	ids, clients, accts, mkts, sides, types, tifs := make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k)
	bookTIFs, assets := make([]string, k), make([]string, k)
	postOnly := make([]bool, k)
	prices, qtys, bookPrices, amounts, limits := make([]int64, k), make([]int64, k), make([]int64, k), make([]int64, k), make([]int64, k)
	ats := make([]time.Time, k)
	bodies := make([][]byte, k)
	for j, i := range plain {
		o, h := os[i].Order, os[i].Hold
		body, err := transferBody(h)
		if err != nil {
			return nil, err
		}
		ids[j], clients[j], accts[j], mkts[j], sides[j], types[j], tifs[j] = o.ID, o.ClientOrderID, o.Account, o.Market, string(o.Side), string(o.Type), string(o.TimeInForce)
		bookTIFs[j], assets[j], postOnly[j] = string(o.BookTIF), o.HoldAsset, o.PostOnly
		prices[j], qtys[j], bookPrices[j], amounts[j], ats[j], bodies[j] = o.Price, o.Quantity, o.BookPrice, h.Holds[0].Amount, o.CreatedAt, body
		limits[j] = int64(os[i].OpenLimit)
	}
	var res []string
	err := Retry(ctx, func() error {
		return s.q().QueryRow(ctx, `SELECT create_orders($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			ids, clients, accts, mkts, sides, types, tifs, postOnly, prices, qtys, bookPrices, bookTIFs, assets, ats, amounts, bodies, limits).Scan(&res)
	})
	if err == nil && len(res) != k {
		err = fmt.Errorf("create_orders returned %d results for %d orders", len(res), k)
	}
	if err != nil {
		return nil, translate(err, "orders")
	}
	for j, i := range plain {
		switch r := res[j]; {
		case r == "":
			out[i].Order = os[i].Order
		case r == "!":
			out[i].Err = trading.Errorf(trading.EINSUFFICIENT, "insufficient funds")
		case r == "#":
			out[i].Err = trading.Errorf(trading.ECONFLICT, "too many open orders (limit %d)", os[i].OpenLimit)
		case strings.HasPrefix(r, "="):
			out[i].Order, out[i].Err = s.Order(ctx, os[i].Order.Account, r[1:])
			out[i].Existed = out[i].Err == nil
		default:
			return nil, fmt.Errorf("create_orders: unexpected result %q", r)
		}
	}
	return out, nil
}

// preTradeSQL reads risk.State for each (account, market, client order id) of $1, $2 and $3,
// in their order: kill switches, the open-order count (kept by counters, see migrations/0006)
// and the last trade price; then the id of the account's order with that client order id
// (empty when there is none). The query is the function pre_trade (migrations/0011), whose
// plan the session keeps.
const preTradeSQL = `SELECT * FROM pre_trade($1::text[], $2::text[], $3::text[])`

// PreTrade reads what the pre-trade checks need for an order in one query.
func (s *Store) PreTrade(ctx context.Context, account, market string) (risk.State, error) {
	sts, _, err := s.PreTradeAll(ctx, []string{account}, []string{market}, []string{""})
	if err != nil {
		return risk.State{}, err
	}
	return sts[0], nil
}

// PreTradeAll implements exchange.BatchStore: PreTrade for many orders in one query, with the
// orders that already have their client order ids.
func (s *Store) PreTradeAll(ctx context.Context, accounts, markets, clients []string) ([]risk.State, []string, error) {
	if len(accounts) != len(markets) || len(accounts) != len(clients) {
		return nil, nil, fmt.Errorf("pre-trade state: %d accounts for %d markets and %d client order ids", len(accounts), len(markets), len(clients))
	}
	rows, err := s.q().Query(ctx, preTradeSQL, accounts, markets, clients)
	if err != nil {
		return nil, nil, translate(err, "pre-trade state")
	}
	states, existing := make([]risk.State, 0, len(accounts)), make([]string, 0, len(accounts))
	for rows.Next() {
		var st risk.State
		var id string
		if err := rows.Scan(&st.AccountKilled, &st.MarketKilled, &st.OpenOrders, &st.LastPrice, &id); err != nil {
			rows.Close()
			return nil, nil, translate(err, "pre-trade state")
		}
		states, existing = append(states, st), append(existing, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, translate(err, "pre-trade state")
	}
	if len(states) != len(accounts) {
		return nil, nil, fmt.Errorf("pre-trade state: %d rows for %d orders", len(states), len(accounts))
	}
	return states, existing, nil
}

// OrderByClientID returns the account's order with that client order id.
func (s *Store) OrderByClientID(ctx context.Context, account, clientID string) (trading.Order, error) {
	o, err := scanOrder(s.q().QueryRow(ctx, `SELECT `+orderCols+` FROM orders WHERE account = $1 AND client_order_id = $2`, account, clientID))
	return o, translate(err, "order")
}

// Order returns the account's order id; another account's order is ENOTFOUND.
func (s *Store) Order(ctx context.Context, account, id string) (trading.Order, error) {
	o, err := scanOrder(s.q().QueryRow(ctx, `SELECT `+orderCols+` FROM orders WHERE id = $1 AND account = $2`, id, account))
	return o, translate(err, "order")
}

// OrdersByID returns the orders with the given ids that exist, by id.
func (s *Store) OrdersByID(ctx context.Context, ids []string) (map[string]trading.Order, error) {
	// A join, not "id = ANY($1)": under a plan cached while the table was small, a sequential
	// scan would compare every order with every id.
	os, err := collectOrders(s.q().Query(ctx, `SELECT `+orderColsO+` FROM unnest($1::text[]) AS k(id) JOIN orders o ON o.id = k.id`, ids))
	if err != nil {
		return nil, err
	}
	out := make(map[string]trading.Order, len(os))
	for _, o := range os {
		out[o.ID] = o
	}
	return out, nil
}

// Orders lists an account's orders, newest first; the cursor is the last id of a page.
func (s *Store) Orders(ctx context.Context, f trading.OrderFilter) (trading.Page[trading.Order], error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	os, err := collectOrders(s.q().Query(ctx, `SELECT `+orderCols+` FROM orders
		WHERE account = $1 AND ($2 = '' OR market = $2) AND (NOT $3 OR status IN ('pending', 'open', 'partially_filled'))
		  AND ($4 = '' OR id < $4)
		ORDER BY id DESC LIMIT $5`, f.Account, f.Market, f.OpenOnly, f.Cursor, limit+1))
	if err != nil {
		return trading.Page[trading.Order]{}, err
	}
	p := trading.Page[trading.Order]{Items: os}
	if len(os) > limit {
		p.Items = os[:limit]
		p.NextCursor = os[limit-1].ID
	}
	return p, nil
}

// OpenOrderCount counts the account's orders that are not final.
func (s *Store) OpenOrderCount(ctx context.Context, account string) (int, error) {
	var n int
	err := s.q().QueryRow(ctx, `SELECT count(*) FROM orders WHERE account = $1 AND status IN ('pending', 'open', 'partially_filled')`, account).Scan(&n)
	return n, translate(err, "orders")
}

// Unpublished returns pending, unmarked orders created before before, oldest first.
func (s *Store) Unpublished(ctx context.Context, before time.Time, limit int) ([]trading.Order, error) {
	// An order the engine has seen (no longer pending) needs no publishing, whatever its mark.
	if _, err := s.q().Exec(ctx, `DELETE FROM orders_unpublished u USING orders o
		WHERE u.id = o.id AND u.created_at < $1 AND o.status <> 'pending'`, before); err != nil {
		return nil, translate(err, "orders")
	}
	return collectOrders(s.q().Query(ctx, `SELECT `+orderColsO+` FROM orders_unpublished u JOIN orders o ON o.id = u.id
		WHERE u.created_at < $1 AND o.status = 'pending' ORDER BY u.created_at LIMIT $2`, before, limit))
}

// MarkPublished marks orders as published to the orders log.
func (s *Store) MarkPublished(ctx context.Context, ids []string) error {
	_, err := s.q().Exec(ctx, `DELETE FROM orders_unpublished u USING unnest($1::text[]) AS k(id) WHERE u.id = k.id`, ids)
	return translate(err, "orders")
}

const tradeCols = `id, market, price, quantity, maker_order_id, taker_order_id, maker_account, taker_account, taker_side, seq, executed_at, maker_fee, taker_fee`

func collectTrades(rows pgx.Rows, err error) ([]trading.Trade, []int64, error) {
	if err != nil {
		return nil, nil, translate(err, "trades")
	}
	defer rows.Close()
	var out []trading.Trade
	var ns []int64
	for rows.Next() {
		var t trading.Trade
		var n int64
		var seq int64
		var makerFee, takerFee *int64 // NULL: settled before fees were recorded (0013)
		if err := rows.Scan(&n, &t.ID, &t.Market, &t.Price, &t.Quantity, &t.MakerOrderID, &t.TakerOrderID, &t.MakerAccount,
			&t.TakerAccount, &t.TakerSide, &seq, &t.ExecutedAt, &makerFee, &takerFee); err != nil {
			return nil, nil, translate(err, "trades")
		}
		t.Seq = uint64(seq)
		if makerFee != nil && takerFee != nil {
			t.Fees = &trading.FeeAmounts{Maker: *makerFee, Taker: *takerFee}
		}
		out, ns = append(out, t), append(ns, n)
	}
	return out, ns, translate(rows.Err(), "trades")
}

// AccountTrades lists trades the account took part in, newest first.
func (s *Store) AccountTrades(ctx context.Context, account, cursor string, limit int) (trading.Page[trading.Trade], error) {
	before := int64(1) << 62
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			return trading.Page[trading.Trade]{}, trading.Errorf(trading.EINVALID, "bad cursor")
		}
		before = n
	}
	ts, ns, err := collectTrades(s.q().Query(ctx, `SELECT n, `+tradeCols+` FROM trades
		WHERE (maker_account = $1 OR taker_account = $1) AND n < $2 ORDER BY n DESC LIMIT $3`, account, before, limit+1))
	if err != nil {
		return trading.Page[trading.Trade]{}, err
	}
	p := trading.Page[trading.Trade]{Items: ts}
	if len(ts) > limit {
		p.Items = ts[:limit]
		p.NextCursor = strconv.FormatInt(ns[limit-1], 10)
	}
	return p, nil
}

// MarketTrades returns a market's latest trades, newest first.
func (s *Store) MarketTrades(ctx context.Context, market string, limit int) ([]trading.Trade, error) {
	ts, _, err := collectTrades(s.q().Query(ctx, `SELECT n, `+tradeCols+` FROM trades WHERE market = $1 ORDER BY n DESC LIMIT $2`, market, limit))
	return ts, err
}

// MarketStats fills the last price and the volume, high and low since since.
func (s *Store) MarketStats(ctx context.Context, market string, since time.Time) (trading.Ticker, error) {
	t := trading.Ticker{Market: market}
	err := s.q().QueryRow(ctx, `SELECT coalesce((SELECT price FROM trades WHERE market = $1 ORDER BY n DESC LIMIT 1), 0)`, market).Scan(&t.Last)
	if err != nil || since.IsZero() {
		return t, translate(err, "trades")
	}
	err = s.q().QueryRow(ctx, `SELECT coalesce(sum(quantity), 0)::bigint, coalesce(max(price), 0), coalesce(min(price), 0)
		FROM trades WHERE market = $1 AND executed_at >= $2`, market, since).Scan(&t.Volume24h, &t.High24h, &t.Low24h)
	return t, translate(err, "trades")
}

// Positions returns the account's positions by market.
func (s *Store) Positions(ctx context.Context, account string) ([]trading.Position, error) {
	rows, err := s.q().Query(ctx, `SELECT account, market, base, quote_net FROM positions WHERE account = $1 ORDER BY market`, account)
	if err != nil {
		return nil, translate(err, "positions")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[trading.Position])
	return out, translate(err, "positions")
}

// Progress returns the last settled execution seq of each market (0 when none).
func (s *Store) Progress(ctx context.Context, markets []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(markets))
	for _, m := range markets {
		out[m] = 0
	}
	rows, err := s.q().Query(ctx, `SELECT market, seq FROM settlement_progress WHERE market = ANY($1)`, markets)
	if err != nil {
		return nil, translate(err, "progress")
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		var seq int64
		if err := rows.Scan(&m, &seq); err != nil {
			return nil, translate(err, "progress")
		}
		out[m] = uint64(seq)
	}
	return out, translate(rows.Err(), "progress")
}

// Settle writes a settlement batch atomically (see settlement.Store).
func (s *Store) Settle(ctx context.Context, b settlement.Batch) error {
	return translate(s.InTx(ctx, func(s *Store) error {
		markets := make([]string, 0, len(b.From))
		for m := range b.From {
			markets = append(markets, m)
		}
		// One round trip: lock and read the markets' progress, write the batch's orders,
		// trades, positions and new progress, and record its ledger transfers. A progress that
		// moved meanwhile (another member settled these) fails the whole transaction.
		batch := &pgx.Batch{}
		batch.Queue(`SELECT market, seq FROM settlement_progress WHERE market = ANY($1) ORDER BY market FOR UPDATE`, markets)
		if n := len(b.Orders); n > 0 {
			ids, statuses, reasons := make([]string, n), make([]string, n), make([]string, n)
			filled, updated := make([]int64, n), make([]time.Time, n)
			for i, o := range b.Orders {
				ids[i], statuses[i], reasons[i], filled[i], updated[i] = o.ID, string(o.Status), o.Reason, o.Filled, o.UpdatedAt
			}
			batch.Queue(`UPDATE orders o SET status = d.status, reason = d.reason, filled = d.filled, updated_at = d.updated_at
				FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) AS d(id, status, reason, filled, updated_at)
				WHERE o.id = d.id`, ids, statuses, reasons, filled, updated)
		}
		if n := len(b.Trades); n > 0 {
			ids, mkts, makers, takers, makerAccts, takerAccts, sides := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			prices, qtys, seqs, ats := make([]int64, n), make([]int64, n), make([]int64, n), make([]time.Time, n)
			makerFees, takerFees := make([]*int64, n), make([]*int64, n)
			for i, t := range b.Trades {
				ids[i], mkts[i], makers[i], takers[i], makerAccts[i], takerAccts[i], sides[i] = t.ID, t.Market, t.MakerOrderID, t.TakerOrderID, t.MakerAccount, t.TakerAccount, string(t.TakerSide)
				prices[i], qtys[i], seqs[i], ats[i] = t.Price, t.Quantity, int64(t.Seq), t.ExecutedAt
				if t.Fees != nil {
					makerFees[i], takerFees[i] = &t.Fees.Maker, &t.Fees.Taker
				}
			}
			batch.Queue(`INSERT INTO trades (`+tradeCols+`)
				SELECT d.id, d.market, d.price, d.qty, d.maker, d.taker, d.maker_account, d.taker_account, d.side, d.seq, d.at, d.maker_fee, d.taker_fee
				FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::timestamptz[], $12::bigint[], $13::bigint[])
				  WITH ORDINALITY AS d(id, market, price, qty, maker, taker, maker_account, taker_account, side, seq, at, maker_fee, taker_fee, ord)
				ORDER BY d.ord
				ON CONFLICT (id) DO NOTHING`, ids, mkts, prices, qtys, makers, takers, makerAccts, takerAccts, sides, seqs, ats, makerFees, takerFees)
		}
		if n := len(b.Positions); n > 0 {
			accts, mkts, bases, quotes := make([]string, n), make([]string, n), make([]int64, n), make([]int64, n)
			for i, p := range b.Positions {
				accts[i], mkts[i], bases[i], quotes[i] = p.Account, p.Market, p.Base, p.QuoteNet
			}
			batch.Queue(`INSERT INTO positions (account, market, base, quote_net)
				SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
				ON CONFLICT (account, market) DO UPDATE SET base = positions.base + excluded.base, quote_net = positions.quote_net + excluded.quote_net`,
				accts, mkts, bases, quotes)
		}
		for m, v := range b.To {
			batch.Queue(`INSERT INTO settlement_progress (market, seq) VALUES ($1, $2)
				ON CONFLICT (market) DO UPDATE SET seq = excluded.seq`, m, int64(v))
		}
		var rec recording
		if len(b.Transfers) > 0 {
			var err error
			if rec, err = newRecording(b.Transfers); err != nil {
				return err
			}
			batch.Queue(rec.sql, rec.args...)
		}
		br := s.tx.SendBatch(ctx, batch)
		fresh, err := settleResults(br, b, len(batch.QueuedQueries)-1, len(b.Transfers) > 0)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil || len(fresh) == 0 {
			return err
		}
		_, err = s.applyRecorded(ctx, b.Transfers, fresh)
		return err
	}), "settlement")
}

// settleResults reads Settle's pipeline: the progress rows, which must equal b.From, then
// writes statements, then (when recorded) the ids of the transfers recorded now.
func settleResults(br pgx.BatchResults, b settlement.Batch, writes int, recorded bool) ([]string, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	cur := map[string]uint64{}
	for rows.Next() {
		var m string
		var seq int64
		if err := rows.Scan(&m, &seq); err != nil {
			rows.Close()
			return nil, err
		}
		cur[m] = uint64(seq)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for m, v := range b.From {
		if cur[m] != v {
			return nil, trading.Errorf(trading.ECONFLICT, "market %s progressed meanwhile", m)
		}
	}
	if recorded {
		writes--
	}
	for range writes {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	if !recorded {
		return nil, nil
	}
	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// LoadSnapshot returns the snapshot stored under key, or ENOTFOUND.
func (s *Store) LoadSnapshot(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := s.q().QueryRow(ctx, `SELECT data FROM engine_snapshots WHERE key = $1`, key).Scan(&data)
	return data, translate(err, "snapshot")
}

// SaveSnapshot stores data under key, replacing the previous snapshot.
func (s *Store) SaveSnapshot(ctx context.Context, key string, data []byte) error {
	_, err := s.q().Exec(ctx, `INSERT INTO engine_snapshots (key, data, saved_at) VALUES ($1, $2, now())
		ON CONFLICT (key) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at`, key, data)
	return translate(err, "snapshot")
}

// ResetFlow forgets the order flow's position in a Kafka log that is gone (an in-process
// broker from an earlier run): it cancels every order that is not final, releasing its hold,
// and drops the engine snapshots and settlement progress, which name offsets of that log.
// It returns how many orders it cancelled.
func (s *Store) ResetFlow(ctx context.Context, reason string, now time.Time) (int, error) {
	var n int
	err := s.InTx(ctx, func(s *Store) error {
		os, err := collectOrders(s.tx.Query(ctx, `SELECT `+orderCols+` FROM orders
			WHERE status IN ('pending', 'open', 'partially_filled') FOR UPDATE`))
		if err != nil {
			return err
		}
		n = len(os)
		if n > 0 {
			ts := make([]ledger.Transfer, n)
			ids := make([]string, n)
			for i, o := range os {
				ts[i], ids[i] = ledger.ReleaseRest(o.ID, o.Account, o.HoldAsset), o.ID
			}
			if _, err := s.applyAll(ctx, ts); err != nil {
				return err
			}
			if _, err := s.tx.Exec(ctx, `UPDATE orders o SET status = 'cancelled', reason = $2, updated_at = $3
				FROM unnest($1::text[]) AS k(id) WHERE o.id = k.id`, ids, reason, now); err != nil {
				return err
			}
		}
		if _, err := s.tx.Exec(ctx, `DELETE FROM engine_snapshots`); err != nil {
			return err
		}
		_, err = s.tx.Exec(ctx, `DELETE FROM settlement_progress`)
		return err
	})
	return n, translate(err, "reset")
}
