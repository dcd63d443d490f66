package surveillance

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cantondex/platform/services/matching"
	"github.com/cantondex/platform/services/matching/journal"
)

// Replayer runs journal commands through the matching engine, one book per market, and turns
// the engine's events into surveillance Events: accepted → new, modified → modify, cancelled →
// cancel (System unless the trader asked), trade → trade (TradeID "<seq>.<n>", the n-th trade
// of command seq), rejected → reject. BestBid and BestAsk are the touch before the command.
// Routing is that of journal.Replayer: cancels and modifies go to the market where their id
// rests.
type Replayer struct {
	books map[string]*matching.Book
	route map[string]string // resting order id -> market
	evs   []matching.Event
	out   []Event
}

// NewReplayer returns a replayer over fresh books for markets.
func NewReplayer(markets []matching.Market) (*Replayer, error) {
	r := &Replayer{books: map[string]*matching.Book{}, route: map[string]string{}}
	for _, m := range markets {
		if _, dup := r.books[m.Symbol]; dup {
			return nil, fmt.Errorf("market %s defined twice", m.Symbol)
		}
		b, err := matching.NewBook(m)
		if err != nil {
			return nil, err
		}
		r.books[m.Symbol] = b
	}
	if len(r.books) == 0 {
		return nil, errors.New("no markets")
	}
	return r, nil
}

// Book returns the book of a market, or nil.
func (r *Replayer) Book(symbol string) *matching.Book { return r.books[symbol] }

// Price writes ticks in the market's precision (Units).
func (r *Replayer) Price(market string, ticks int64) string {
	if b := r.books[market]; b != nil {
		return string(b.Market().AppendPrice(nil, ticks))
	}
	return strconv.FormatInt(ticks, 10) + " ticks"
}

// Qty writes lots in the market's precision (Units).
func (r *Replayer) Qty(market string, lots int64) string {
	if b := r.books[market]; b != nil {
		return string(b.Market().AppendQty(nil, lots))
	}
	return strconv.FormatInt(lots, 10) + " lots"
}

// Markets returns the market symbols, sorted.
func (r *Replayer) Markets() []string {
	s := make([]string, 0, len(r.books))
	for k := range r.books {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Apply executes command w (sequence seq, time ts) and returns its events. The slice is reused
// by the next call.
func (r *Replayer) Apply(seq uint64, ts time.Time, w *journal.Wire) []Event {
	r.out = r.out[:0]
	symbol := w.Market
	if w.Op != "new" {
		symbol = r.route[w.ID]
	} else if prev, ok := r.route[w.ID]; ok && prev != symbol {
		return r.reject(ts, w, symbol)
	}
	book := r.books[symbol]
	if book == nil {
		return r.reject(ts, w, symbol)
	}
	c, reason := w.Command(book.Market(), seq)
	if reason != "" {
		return r.reject(ts, w, symbol)
	}
	var bid, ask int64
	if l, ok := book.BestBid(); ok {
		bid = l.Price
	}
	if l, ok := book.BestAsk(); ok {
		ask = l.Price
	}
	r.evs = book.Apply(c, r.evs[:0])
	trades := 0
	for i := range r.evs {
		e := &r.evs[i]
		ev := Event{TS: ts, Market: symbol, OrderID: e.ID, Account: e.Account, Side: e.Side.String(),
			Price: e.Price, Qty: e.Qty, BestBid: bid, BestAsk: ask}
		switch e.Type {
		case matching.EvAccepted:
			r.route[e.ID] = symbol
			ev.Kind = KindNew
		case matching.EvModified:
			ev.Kind = KindModify
		case matching.EvCancelled:
			delete(r.route, e.ID)
			ev.Kind = KindCancel
			ev.System = e.Reason != matching.ReasonUserCancel
		case matching.EvRejected:
			ev.Kind = KindReject
			ev.Account = w.Account
		case matching.EvTrade:
			trades++
			if e.MakerRemaining == 0 {
				delete(r.route, e.MakerID)
			}
			if e.Remaining == 0 {
				delete(r.route, e.TakerID)
			}
			ev.Kind = KindTrade
			ev.TradeID = strconv.FormatUint(seq, 10) + "." + strconv.Itoa(trades)
			ev.MakerOrderID, ev.TakerOrderID = e.MakerID, e.TakerID
			ev.MakerAccount, ev.TakerAccount = e.MakerAccount, e.TakerAccount
			ev.Aggressor = e.Side.String()
			ev.OrderID, ev.Account = e.TakerID, e.TakerAccount
		default:
			continue
		}
		r.out = append(r.out, ev)
	}
	return r.out
}

// reject is the event of a command refused before it reached a book.
func (r *Replayer) reject(ts time.Time, w *journal.Wire, symbol string) []Event {
	r.out = append(r.out[:0], Event{TS: ts, Kind: KindReject, Account: w.Account, Market: symbol,
		OrderID: w.ID, Side: w.Side})
	return r.out
}
