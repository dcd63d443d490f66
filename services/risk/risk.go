// Package risk holds the venue's risk rules. Pre-trade, Check runs the checks cheapest first
// (kill switches, market open, quantity and notional bounds, price band around the reference
// price, open-order count) and says what to reserve; the order-entry path then reserves it
// atomically in the ledger, which is the available-balance check. Post-trade, Monitor watches
// positions and exposure after settlements and raises alerts on breaches.
package risk

import (
	"github.com/cantondex/platform/services/trading"
)

// Limits are the venue-wide pre-trade limits. Zero values take the defaults of DefaultLimits.
type Limits struct {
	MaxOpenOrders int   // per account
	PriceBandBps  int64 // a limit price may be this far from the reference price (basis points)
	MaxNotional   int64 // per order, quote minor units; 0 = no bound
	// MarketProtectionBps bounds market orders: a market buy becomes an IOC limit this far
	// above the reference (and reserves at that price), a market sell this far below.
	MarketProtectionBps int64
	// MaxExposure is the post-trade bound on an account's open exposure in a market, quote
	// minor units at the last price; 0 = no alerts.
	MaxExposure int64
}

// DefaultLimits are the limits a local run uses.
func DefaultLimits() Limits {
	return Limits{MaxOpenOrders: 500, PriceBandBps: 2000, MarketProtectionBps: 500}
}

// OpenOrderLimit is the open-order limit per account, defaults applied.
func (l Limits) OpenOrderLimit() int { return l.withDefaults().MaxOpenOrders }

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxOpenOrders == 0 {
		l.MaxOpenOrders = d.MaxOpenOrders
	}
	if l.PriceBandBps == 0 {
		l.PriceBandBps = d.PriceBandBps
	}
	if l.MarketProtectionBps == 0 {
		l.MarketProtectionBps = d.MarketProtectionBps
	}
	return l
}

// Input is what the pre-trade checks look at.
type Input struct {
	Order         trading.PlaceOrder
	Market        trading.MarketDef
	Base, Quote   trading.Asset
	Units         trading.Units
	AccountKilled bool
	MarketKilled  bool
	RefPrice      int64 // ticks: last trade (or best opposite price); 0 when unknown
	OpenOrders    int
}

// Decision is what an accepted order reserves and how the book sees it.
type Decision struct {
	Asset  string // reserved asset: quote for buys, base for sells
	Amount int64  // minor units
	// BookPrice is the limit price sent to the book: the order's own for limit orders, the
	// protection price for market orders (which go to the book as IOC limits).
	BookPrice int64
	BookTIF   trading.TimeInForce
}

func reject(code, format string, args ...any) error { return trading.Errorf(code, format, args...) }

// Check runs the pre-trade checks and returns what to reserve.
func Check(l Limits, in Input) (Decision, error) {
	l = l.withDefaults()
	o, m := in.Order, in.Market
	if in.AccountKilled {
		return Decision{}, reject(trading.EFORBIDDEN, "trading is disabled for this account")
	}
	if in.MarketKilled || m.Halted {
		return Decision{}, reject(trading.EUNAVAILABLE, "market %s is halted", m.Symbol)
	}
	if o.Quantity <= 0 || (m.MinQty > 0 && o.Quantity < m.MinQty) || (m.MaxQty > 0 && o.Quantity > m.MaxQty) {
		return Decision{}, reject(trading.EINVALID, "quantity outside the market's bounds")
	}
	d := Decision{BookPrice: o.Price, BookTIF: o.TimeInForce}
	switch o.Type {
	case trading.Limit:
		if o.Price <= 0 || (m.MinPrice > 0 && o.Price < m.MinPrice) || (m.MaxPrice > 0 && o.Price > m.MaxPrice) {
			return Decision{}, reject(trading.EINVALID, "price outside the market's bounds")
		}
		if in.RefPrice > 0 {
			band := in.RefPrice * l.PriceBandBps / 10000
			if o.Price > in.RefPrice+band || o.Price < in.RefPrice-band {
				return Decision{}, reject(trading.EINVALID, "price more than %d bps from the reference price", l.PriceBandBps)
			}
		}
	case trading.Market:
		if o.Price != 0 || o.PostOnly {
			return Decision{}, reject(trading.EINVALID, "market orders take no price and cannot be post-only")
		}
		if in.RefPrice <= 0 {
			return Decision{}, reject(trading.EUNAVAILABLE, "no reference price for a market order yet")
		}
		band := in.RefPrice * l.MarketProtectionBps / 10000
		if o.Side == trading.Buy {
			d.BookPrice = in.RefPrice + band
		} else {
			d.BookPrice = max(in.RefPrice-band, 1)
		}
		if m.MaxPrice > 0 {
			d.BookPrice = min(d.BookPrice, m.MaxPrice)
		}
		if m.MinPrice > 0 {
			d.BookPrice = max(d.BookPrice, m.MinPrice)
		}
		if o.TimeInForce != trading.FOK {
			d.BookTIF = trading.IOC
		}
	default:
		return Decision{}, reject(trading.EINVALID, "order type must be limit or market")
	}
	notional, ok := in.Units.Notional(d.BookPrice, o.Quantity)
	if !ok || (l.MaxNotional > 0 && notional > l.MaxNotional) {
		return Decision{}, reject(trading.EINVALID, "order notional too large")
	}
	if in.OpenOrders >= l.MaxOpenOrders {
		return Decision{}, reject(trading.ECONFLICT, "too many open orders (limit %d)", l.MaxOpenOrders)
	}
	switch o.Side {
	case trading.Buy:
		d.Asset, d.Amount = in.Quote.Symbol, notional
	case trading.Sell:
		base, ok := in.Units.Base(o.Quantity)
		if !ok {
			return Decision{}, reject(trading.EINVALID, "quantity too large")
		}
		d.Asset, d.Amount = in.Base.Symbol, base
	default:
		return Decision{}, reject(trading.EINVALID, "side must be buy or sell")
	}
	return d, nil
}

// State is what the pre-trade checks read from storage for one order, in one query.
type State struct {
	AccountKilled bool
	MarketKilled  bool
	OpenOrders    int
	LastPrice     int64 // ticks; 0 before the market's first trade
}
