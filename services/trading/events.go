package trading

import (
	"hash/crc32"
	"strconv"
	"time"
)

// The order flow's messages. OrderCommand travels on the orders topic keyed by market; the
// matching engine answers each command with one Execution on the trades topic, keyed by market,
// that lists everything the command caused. Both are plain values; adapters encode them.

// CommandOp is what an OrderCommand asks.
type CommandOp string

const (
	OpNew    CommandOp = "new"
	OpCancel CommandOp = "cancel"
)

// OrderCommand is one input to a market's book.
type OrderCommand struct {
	Op          CommandOp   `json:"op"`
	OrderID     string      `json:"id"`
	Account     string      `json:"account"`
	Market      string      `json:"market"`
	Side        Side        `json:"side,omitempty"`
	Type        OrderType   `json:"type,omitempty"`
	TimeInForce TimeInForce `json:"tif,omitempty"`
	PostOnly    bool        `json:"post_only,omitempty"`
	Price       int64       `json:"price,omitempty"` // ticks
	Quantity    int64       `json:"qty,omitempty"`   // lots
	AcceptedAt  time.Time   `json:"at"`              // when risk accepted it (latency origin)
	// Trace is the W3C traceparent of the request that caused the command, carried in the
	// record's header (not its body); the engine's execution of it carries it on.
	Trace string `json:"-"`
}

// ExecType says what happened to an order.
type ExecType string

const (
	ExecAccepted  ExecType = "accepted"
	ExecRejected  ExecType = "rejected"
	ExecTrade     ExecType = "trade"
	ExecCancelled ExecType = "cancelled"
)

// ExecEvent is one thing a command caused. For trades Trade is set and OrderID is the taker.
type ExecEvent struct {
	Type      ExecType `json:"type"`
	OrderID   string   `json:"id"`
	Account   string   `json:"account,omitempty"`
	Remaining int64    `json:"remaining"` // the order's open lots after the event (taker's for trades)
	Reason    string   `json:"reason,omitempty"`
	Trade     *Trade   `json:"trade,omitempty"`
	// MakerRemaining is the maker's open lots after a trade.
	MakerRemaining int64 `json:"maker_remaining,omitempty"`
}

// Execution is the engine's answer to one command. ID is market and Seq; Seq is the position
// of the command in its market's input log, so a replay produces the same IDs and consumers
// dedupe by them.
type Execution struct {
	ID         string      `json:"id"`
	Market     string      `json:"market"`
	Seq        uint64      `json:"seq"`
	Command    CommandOp   `json:"op"`
	OrderID    string      `json:"order_id"`
	Events     []ExecEvent `json:"events"`
	AcceptedAt time.Time   `json:"accepted_at"`
	ExecutedAt time.Time   `json:"executed_at"`
	// Trace is the traceparent of the command's handling, in the record header (not the body).
	Trace string `json:"-"`
	// Book is what the command changed in its market's book; nil when it changed nothing
	// (a rejection, an IOC order that neither traded nor rested, a repeated cancel).
	Book *BookChange `json:"book,omitempty"`
}

// BookChange is one change of a market's book. UpdateID counts the book's changes: it is one
// more than the previous change's, and the depth the engine publishes (Book.UpdateID) is the
// id of the last change it reflects, so snapshot and changes line up exactly. Bids and Asks
// are the levels that changed with their new open quantity (0: the level is gone). Checksum
// is BookChecksum of the book after the change; BestBid and BestAsk are its touch (0: empty).
type BookChange struct {
	UpdateID uint64     `json:"u"`
	Bids     []LevelQty `json:"b,omitempty"`
	Asks     []LevelQty `json:"a,omitempty"`
	Checksum uint32     `json:"crc"`
	BestBid  int64      `json:"bb,omitempty"`
	BestAsk  int64      `json:"ba,omitempty"`
}

// LevelQty is a price level's open quantity.
type LevelQty struct {
	Price    int64 `json:"p"` // ticks
	Quantity int64 `json:"q"` // lots
}

// ChecksumLevels is how many levels a side BookChecksum covers.
const ChecksumLevels = 10

// BookChecksum is the CRC-32 (IEEE) of the top ChecksumLevels levels of each side, best
// first: bids then asks, each level written as "<price in ticks>:<quantity in lots>", levels
// joined by ",", the two sides joined by "|" (an empty book is "|"). For a market whose tick
// and lot sizes are powers of ten, ticks and lots are the REST API's decimal strings with
// the point and leading zeros removed.
func BookChecksum(bids, asks []Level) uint32 {
	var buf [2 * ChecksumLevels * 42]byte
	b := appendChecksumSide(buf[:0], bids)
	b = append(b, '|')
	b = appendChecksumSide(b, asks)
	return crc32.ChecksumIEEE(b)
}

func appendChecksumSide(b []byte, ls []Level) []byte {
	for i, l := range ls {
		if i == ChecksumLevels {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, l.Price, 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, l.Quantity, 10)
	}
	return b
}

// Settlement reports that an execution's effects are booked: its trades moved funds in the
// ledger and its orders' statuses and holds are up to date. Published on the settlements
// topic keyed by market, once per execution (again after a redelivery: dedupe by ID).
type Settlement struct {
	ID     string  `json:"id"` // the execution's
	Market string  `json:"market"`
	Seq    uint64  `json:"seq"`
	Trades []Trade `json:"trades,omitempty"`
	// Fees are the fees the trades were charged, one per trade in Trades' order (empty from
	// a settlement coordinator that predates them).
	Fees       []TradeFee `json:"fees,omitempty"`
	AcceptedAt time.Time  `json:"accepted_at"` // of the command, for order-to-settlement latency
	SettledAt  time.Time  `json:"settled_at"`
	// Trace is the traceparent of the execution's settlement, in the record header.
	Trace string `json:"-"`
}

// TradeFee is what the two sides of a trade paid, each in minor units of the asset it
// received (the buyer in base, the seller in quote).
type TradeFee struct {
	TradeID    string `json:"trade_id"`
	MakerFee   int64  `json:"maker_fee"`
	MakerAsset string `json:"maker_asset"`
	TakerFee   int64  `json:"taker_fee"`
	TakerAsset string `json:"taker_asset"`
}

// Alert is a risk breach, published on the alerts topic keyed by account.
type Alert struct {
	ID      string    `json:"id"` // deterministic: what caused it, so redelivery dedupes
	Kind    string    `json:"kind"`
	Account string    `json:"account"`
	Market  string    `json:"market"`
	Value   int64     `json:"value"`
	Limit   int64     `json:"limit"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Fill is one account's side of a trade as the API shows it, in GET /trades and on the
// stream's fills channel alike: ids, the side and liquidity role of the account, price and
// quantity as decimal strings in the market's steps, and the fee settlement charged the
// account, an amount of the asset it received formatted in that asset's scale (both nil when
// no fee was recorded: trades settled before fees were stored with them).
type Fill struct {
	TradeID    string  `json:"trade_id"`
	OrderID    string  `json:"order_id"`
	Market     string  `json:"market"`
	Side       string  `json:"side"`
	Liquidity  string  `json:"liquidity"`
	Price      string  `json:"price"`
	Quantity   string  `json:"quantity"`
	Fee        *string `json:"fee"`
	FeeAsset   *string `json:"fee_asset"`
	ExecutedAt string  `json:"executed_at"`
}
