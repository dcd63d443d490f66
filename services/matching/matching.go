// Package matching is the venue's order book engine: one Book per market, owned by a single
// goroutine, matching by price-time priority with trades at the resting (maker) order's price.
//
// The package is pure. It has no Kafka, PostgreSQL, clock or randomness, and no map iteration
// order reaches an output, so the same commands always give the same events, byte for byte.
// Inside the engine prices are integers in ticks and quantities integers in lots; decimal
// strings exist only at the edges (Market.ParsePrice, Market.AppendPrice and friends).
//
// A caller feeds Commands to Book.Apply together with a reusable event slice; Apply appends the
// events the command caused, in the order they happened, and allocates nothing in steady state.
// Book.Snapshot and Restore save and reload a book so that a restored book fed the remaining
// commands produces exactly the events of an uninterrupted run.
package matching

import "strings"

// Side of an order. The zero value is invalid.
type Side uint8

const (
	Buy  Side = 1
	Sell Side = 2
)

func (s Side) String() string {
	switch s {
	case Buy:
		return "buy"
	case Sell:
		return "sell"
	}
	return "invalid"
}

// Opposite returns the other side.
func (s Side) Opposite() Side {
	if s == Buy {
		return Sell
	}
	return Buy
}

// OrderType is limit or market. The zero value is invalid.
type OrderType uint8

const (
	Limit OrderType = 1
	// MarketOrder takes whatever liquidity there is at any price and never rests.
	MarketOrder OrderType = 2
)

func (t OrderType) String() string {
	switch t {
	case Limit:
		return "limit"
	case MarketOrder:
		return "market"
	}
	return "invalid"
}

// TIF is an order's time in force. The zero value is GTC.
type TIF uint8

const (
	// GTC rests whatever does not trade at once.
	GTC TIF = 0
	// IOC trades what it can at once and cancels the rest (reason unfilled).
	IOC TIF = 1
	// FOK trades its whole quantity at once or is rejected (fok_unfillable) without trading.
	FOK TIF = 2
)

func (t TIF) String() string {
	switch t {
	case GTC:
		return "GTC"
	case IOC:
		return "IOC"
	case FOK:
		return "FOK"
	}
	return "invalid"
}

// STP is the self-trade prevention mode of an incoming order: what happens when it would trade
// against a resting order of the same account. The incoming order's mode decides.
//
// The zero value, STPCancelNewest, cancels the incoming order's remaining quantity and leaves the
// resting order alone. It is the default because it never removes liquidity someone else may be
// relying on (the resting order keeps its queue place), its effect is confined to the order the
// trader is sending now, and it is the default of most venues (CME, Coinbase, Binance's
// EXPIRE_TAKER).
type STP uint8

const (
	// STPCancelNewest cancels the incoming order; the resting order stays. Matching stops.
	STPCancelNewest STP = 0
	// STPCancelOldest cancels the resting order and lets the incoming order go on matching.
	STPCancelOldest STP = 1
	// STPCancelBoth cancels the resting order and the incoming order. Matching stops.
	STPCancelBoth STP = 2
)

func (m STP) String() string {
	switch m {
	case STPCancelNewest:
		return "cancel_newest"
	case STPCancelOldest:
		return "cancel_oldest"
	case STPCancelBoth:
		return "cancel_both"
	}
	return "invalid"
}

// Op is what a command asks for. The zero value is invalid.
type Op uint8

const (
	OpNew    Op = 1
	OpCancel Op = 2
	OpModify Op = 3
)

func (o Op) String() string {
	switch o {
	case OpNew:
		return "new"
	case OpCancel:
		return "cancel"
	case OpModify:
		return "modify"
	}
	return "invalid"
}

// Command is one input to a book. Seq is the caller's sequence number (for example the Kafka
// offset or journal line); every event the command causes carries it.
//
// OpNew uses every field (Price is ignored for market orders). OpCancel uses ID. OpModify uses
// ID, Price and Qty, where 0 means "unchanged": Qty is the new open (unfilled) quantity.
// Reducing Qty at the same price keeps the order's queue place; a price change or a larger Qty
// sends it to the back of the queue at its (new) price, where it may trade at once if it
// crosses the book.
//
// The book keeps the ID and Account strings of resting orders (it does not copy them) and hands
// them back in events.
type Command struct {
	Op       Op
	Seq      uint64
	ID       string
	Account  string
	Side     Side
	Type     OrderType
	TIF      TIF
	PostOnly bool
	STP      STP
	Price    int64 // ticks
	Qty      int64 // lots
}

// EventType says what happened. The zero value is invalid.
type EventType uint8

const (
	// EvAccepted: a new order passed validation. Price is its limit (0 for market orders), Qty
	// and Remaining its quantity. It rests afterwards unless later events of the same command
	// fill or cancel it.
	EvAccepted EventType = 1
	// EvRejected: the command changed nothing. Reason says why; ID is the command's id.
	EvRejected EventType = 2
	// EvTrade: MakerID traded with TakerID, Qty lots at Price (the maker's price). Side is the
	// taker's (aggressor's) side, Remaining the taker's open quantity after the trade and
	// MakerRemaining the maker's.
	EvTrade EventType = 3
	// EvCancelled: order ID lost Qty open lots and is gone from the book. Reason is
	// ReasonUserCancel, ReasonUnfilled (IOC and market residue) or ReasonSelfTrade.
	EvCancelled EventType = 4
	// EvModified: order ID now has Price and open quantity Qty (= Remaining before any trade the
	// modification causes).
	EvModified EventType = 5
)

func (t EventType) String() string {
	switch t {
	case EvAccepted:
		return "accepted"
	case EvRejected:
		return "rejected"
	case EvTrade:
		return "trade"
	case EvCancelled:
		return "cancelled"
	case EvModified:
		return "modified"
	}
	return "invalid"
}

// Reason is a stable lowercase code explaining a rejection or a cancellation.
type Reason string

// Reject reasons.
const (
	ReasonMalformed         Reason = "malformed"            // unknown op, side, type, tif or stp mode; empty id or account; post-only market order
	ReasonInvalidPrice      Reason = "invalid_price"        // zero or negative, or not a number
	ReasonInvalidQuantity   Reason = "invalid_quantity"     // zero or negative, or not a number
	ReasonTickSize          Reason = "tick_size"            // price not a multiple of the tick
	ReasonLotSize           Reason = "lot_size"             // quantity not a multiple of the lot
	ReasonPriceOutOfRange   Reason = "price_out_of_range"   // outside the market's min/max price
	ReasonQtyOutOfRange     Reason = "qty_out_of_range"     // outside the market's min/max quantity
	ReasonDuplicateID       Reason = "duplicate_id"         // an order with this id rests in the book
	ReasonUnknownOrder      Reason = "unknown_order"        // cancel or modify of an id not resting in the book
	ReasonPostOnlyWouldTake Reason = "post_only_would_take" // post-only order (or modification) would cross
	ReasonFOKUnfillable     Reason = "fok_unfillable"       // FOK order cannot fill completely at once
	ReasonNoLiquidity       Reason = "no_liquidity"         // market order against an empty side
	ReasonUnknownMarket     Reason = "unknown_market"       // used by routers above the book
)

// Cancel reasons.
const (
	ReasonUserCancel Reason = "user_cancel" // a cancel command
	ReasonUnfilled   Reason = "unfilled"    // IOC or market order residue
	ReasonSelfTrade  Reason = "self_trade"  // self-trade prevention
)

// Event is one output of a book. Which fields are set depends on Type (see the EventType
// constants); the strings are those the commands supplied, so events cost no allocation.
type Event struct {
	Type      EventType
	Seq       uint64 // of the command that caused the event
	ID        string // order id (accepted, rejected, cancelled, modified)
	Account   string // account of ID (not set on rejections)
	Side      Side   // side of ID; for trades the taker's side
	Price     int64  // ticks
	Qty       int64  // lots
	Remaining int64  // lots still open for ID (for trades: the taker)
	Reason    Reason

	// Trades only.
	MakerID        string
	TakerID        string
	MakerAccount   string
	TakerAccount   string
	MakerRemaining int64
}

// Level is one aggregated price level.
type Level struct {
	Price  int64 // ticks
	Qty    int64 // lots
	Orders int
}

// OrderState is what the book knows about a resting order.
type OrderState struct {
	ID       string
	Account  string
	Side     Side
	Price    int64 // ticks
	Qty      int64 // open lots
	PostOnly bool
	STP      STP
}

// ParseSide reads "buy" or "sell".
func ParseSide(s string) (Side, bool) {
	switch s {
	case "buy":
		return Buy, true
	case "sell":
		return Sell, true
	}
	return 0, false
}

// ParseOrderType reads "limit" or "market".
func ParseOrderType(s string) (OrderType, bool) {
	switch s {
	case "limit":
		return Limit, true
	case "market":
		return MarketOrder, true
	}
	return 0, false
}

// ParseTIF reads "GTC", "IOC" or "FOK" (any case); "" is GTC.
func ParseTIF(s string) (TIF, bool) {
	switch strings.ToUpper(s) {
	case "", "GTC":
		return GTC, true
	case "IOC":
		return IOC, true
	case "FOK":
		return FOK, true
	}
	return 0, false
}

// ParseSTP reads "cancel_newest", "cancel_oldest" or "cancel_both"; "" is the default,
// cancel_newest.
func ParseSTP(s string) (STP, bool) {
	switch s {
	case "", "cancel_newest":
		return STPCancelNewest, true
	case "cancel_oldest":
		return STPCancelOldest, true
	case "cancel_both":
		return STPCancelBoth, true
	}
	return 0, false
}
