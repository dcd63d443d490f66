// Package trading holds the platform's domain vocabulary: markets, orders, trades, balances,
// and the services the order flow offers. It has no dependencies beyond the standard library
// and services/decimal; adapters (postgres, kafka, http) and service packages (risk,
// settlement, matching) depend on it, never the other way round.
//
// Inside the platform prices are integers in ticks and quantities integers in lots of their
// market; asset amounts are integers in the asset's minor units. Decimal strings appear only at
// the edges (decimal.Parse/decimal.Format with the scales below).
package trading

import (
	"context"
	"time"
)

// Side of an order.
type Side string

const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

// OrderType is limit or market.
type OrderType string

const (
	Limit  OrderType = "limit"
	Market OrderType = "market"
)

// TimeInForce of an order.
type TimeInForce string

const (
	GTC TimeInForce = "GTC"
	IOC TimeInForce = "IOC"
	FOK TimeInForce = "FOK"
)

// OrderStatus is where an order is in its life.
type OrderStatus string

const (
	StatusPending         OrderStatus = "pending" // accepted by risk, not yet seen by the book
	StatusOpen            OrderStatus = "open"
	StatusPartiallyFilled OrderStatus = "partially_filled"
	StatusFilled          OrderStatus = "filled"
	StatusCancelled       OrderStatus = "cancelled"
	StatusRejected        OrderStatus = "rejected"
)

// Final reports whether no more events can change the order.
func (s OrderStatus) Final() bool {
	return s == StatusFilled || s == StatusCancelled || s == StatusRejected
}

// Asset is something held in accounts (BTC, USD). Amounts are in minor units: 10^-Scale.
type Asset struct {
	Symbol string
	Scale  int
}

// MarketDef is a market: what it trades and its steps. Price = ticks * TickSize (in quote),
// quantity = lots * LotSize (in base). TickSize and LotSize are decimal strings ("0.01").
type MarketDef struct {
	Symbol    string // "BTC-USD"
	Base      string // "BTC"
	Quote     string // "USD"
	TickSize  string
	LotSize   string
	MinPrice  int64 // ticks
	MaxPrice  int64 // ticks
	MinQty    int64 // lots
	MaxQty    int64 // lots
	Halted    bool
	CreatedAt time.Time
}

// Order is an order as the platform records it.
type Order struct {
	ID            string // platform id
	ClientOrderID string // trader's idempotency key, unique per account
	Account       string
	Market        string
	Side          Side
	Type          OrderType
	TimeInForce   TimeInForce
	PostOnly      bool
	Price         int64 // ticks; 0 for market orders
	Quantity      int64 // lots
	Filled        int64 // lots
	Status        OrderStatus
	Reason        string // reject or cancel reason code
	// Set at entry by the risk checks: the limit price and time in force the book sees
	// (market orders go to the book as IOC limits at a protection price) and the asset the
	// order's hold is in.
	BookPrice int64
	BookTIF   TimeInForce
	HoldAsset string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Remaining is the quantity not yet filled.
func (o Order) Remaining() int64 { return o.Quantity - o.Filled }

// Trade is one fill between a resting (maker) and an incoming (taker) order, at the maker's
// price.
type Trade struct {
	ID           string // deterministic: derived from the input that caused it
	Market       string
	Price        int64 // ticks
	Quantity     int64 // lots
	MakerOrderID string
	TakerOrderID string
	MakerAccount string
	TakerAccount string
	TakerSide    Side
	Seq          uint64 // sequence of the input that caused the trade
	ExecutedAt   time.Time
	// Fees are what settlement charged the two sides, as the store recorded them with the
	// trade; nil on the engine's trades and on trades settled before fees were recorded.
	// Not part of the trade's events (Settlement.Fees carries them there).
	Fees *FeeAmounts `json:"-"`
}

// FeeAmounts are a trade's maker and taker fees, each in minor units of the asset that side
// received (Trade.FeeAssets).
type FeeAmounts struct {
	Maker, Taker int64
}

// FeeAssets are the assets the maker and the taker of t received in market m, the ones their
// fees are charged in: the buyer receives the base asset, the seller the quote asset.
func (t Trade) FeeAssets(m MarketDef) (maker, taker string) {
	if t.TakerSide == Sell {
		return m.Base, m.Quote
	}
	return m.Quote, m.Base
}

// Fee is the maker's (maker true) or the taker's fee of t in market m as settlement recorded
// it, with its asset; false when none was recorded.
func (t Trade) Fee(m MarketDef, maker bool) (int64, string, bool) {
	if t.Fees == nil {
		return 0, "", false
	}
	makerAsset, takerAsset := t.FeeAssets(m)
	if maker {
		return t.Fees.Maker, makerAsset, true
	}
	return t.Fees.Taker, takerAsset, true
}

// Balance of one account in one asset, in minor units. Available = Total - Held.
type Balance struct {
	Account   string
	Asset     string
	Total     int64
	Held      int64
	Available int64
}

// Position is an account's net holding of a market's base asset from trading, with the quote
// spent to get it, both in minor units.
type Position struct {
	Account  string
	Market   string
	Base     int64
	QuoteNet int64
}

// Level is one price level of a book, aggregated.
type Level struct {
	Price    int64 // ticks
	Quantity int64 // lots
	Orders   int
}

// Book is a depth snapshot of a market.
type Book struct {
	Market string
	Bids   []Level // best first
	Asks   []Level // best first
	Seq    uint64  // last input the snapshot reflects
	// UpdateID is the id of the last book change the snapshot reflects (BookChange.UpdateID).
	UpdateID uint64
}

// Ticker summarises a market's last 24 hours.
type Ticker struct {
	Market    string
	Last      int64 // ticks; 0 when no trade yet
	BestBid   int64
	BestAsk   int64
	Volume24h int64 // lots
	High24h   int64
	Low24h    int64
}

// PlaceOrder is a request to place an order, after the edge has parsed decimals.
type PlaceOrder struct {
	Account       string
	ClientOrderID string
	Market        string
	Side          Side
	Type          OrderType
	TimeInForce   TimeInForce
	PostOnly      bool
	Price         int64 // ticks; 0 for market orders
	Quantity      int64 // lots
}

// OrderFilter selects orders for listing. Cursor is opaque, from a previous page.
type OrderFilter struct {
	Account  string
	Market   string // "" for all
	OpenOnly bool
	Cursor   string
	Limit    int
}

// Page is one page of a listing; NextCursor is "" on the last page.
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// OrderService places, cancels and queries orders. A repeated ClientOrderID for the same
// account returns the existing order with no second effect. Orders of another account are
// ENOTFOUND.
type OrderService interface {
	PlaceOrder(ctx context.Context, req PlaceOrder) (Order, error)
	CancelOrder(ctx context.Context, account, orderID string) (Order, error)
	CancelAll(ctx context.Context, account, market string) (int, error)
	GetOrder(ctx context.Context, account, orderID string) (Order, error)
	ListOrders(ctx context.Context, f OrderFilter) (Page[Order], error)
}

// MarketService describes markets and their public data.
type MarketService interface {
	Markets(ctx context.Context) ([]MarketDef, error)
	Market(ctx context.Context, symbol string) (MarketDef, error)
	CreateMarket(ctx context.Context, m MarketDef) (MarketDef, error)
	SetHalted(ctx context.Context, symbol string, halted bool) error
	Book(ctx context.Context, symbol string, depth int) (Book, error)
	MarketTrades(ctx context.Context, symbol string, limit int) ([]Trade, error)
	Ticker(ctx context.Context, symbol string) (Ticker, error)
}

// AccountService covers balances, fills, funding and positions of an account.
type AccountService interface {
	Assets(ctx context.Context) ([]Asset, error)
	Balances(ctx context.Context, account string) ([]Balance, error)
	Positions(ctx context.Context, account string) ([]Position, error)
	AccountTrades(ctx context.Context, account, cursor string, limit int) (Page[Trade], error)
	// Deposit and Withdraw move funds in and out through the ledger, idempotent by id.
	Deposit(ctx context.Context, id, account, asset string, amount int64) error
	Withdraw(ctx context.Context, id, account, asset string, amount int64) error
}

// RiskAdmin controls the kill switches.
type RiskAdmin interface {
	SetAccountKillSwitch(ctx context.Context, account string, on bool) error
	SetMarketKillSwitch(ctx context.Context, market string, on bool) error
}
