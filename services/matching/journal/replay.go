package journal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/cantondex/platform/services/matching"
)

// MaxLine is the longest journal line accepted; longer lines are rejected as malformed.
const MaxLine = 1 << 20

// Replayer routes journal commands to one book per market and writes their events as JSON
// Lines. Each line's number is its command's sequence number. It is deterministic: markets are
// kept in symbol order and no map iteration reaches its output.
type Replayer struct {
	books   map[string]*matching.Book
	symbols []string          // sorted
	route   map[string]string // resting order id -> market
	events  []matching.Event
	buf     []byte
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
		r.symbols = append(r.symbols, m.Symbol)
	}
	if len(r.symbols) == 0 {
		return nil, errors.New("no markets")
	}
	slices.Sort(r.symbols)
	return r, nil
}

// Book returns the book of a market, or nil.
func (r *Replayer) Book(symbol string) *matching.Book { return r.books[symbol] }

// Run replays every line of in, writing events to out. Only write errors and read errors stop
// it; bad lines become rejected events.
func (r *Replayer) Run(in io.Reader, out io.Writer) error {
	br := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriterSize(out, 64<<10)
	var seq uint64
	var long []byte // a line longer than the reader's buffer, being assembled
	tooLong := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if tooLong = tooLong || len(long)+len(line) > MaxLine; !tooLong {
				long = append(long, line...)
			}
			continue
		}
		if long != nil || tooLong {
			line = append(long, line...)
			long = nil
		}
		if len(line) > 0 || tooLong {
			seq++
			body := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			if tooLong || len(body) > MaxLine {
				tooLong = false
				r.write(bw, r.rejectLine(seq, "", fmt.Sprintf("line longer than %d bytes", MaxLine)))
			} else {
				r.write(bw, r.Line(seq, body))
			}
		}
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			_ = bw.Flush()
			return fmt.Errorf("read journal line %d: %w", seq+1, err)
		}
	}
}

func (r *Replayer) write(w *bufio.Writer, b []byte) { _, _ = w.Write(b) }

// Line applies one journal line with sequence seq and returns its events encoded as JSON
// Lines. The returned slice is reused by the next call.
func (r *Replayer) Line(seq uint64, line []byte) []byte {
	w, err := Decode(line)
	if err != nil {
		return r.rejectLine(seq, w.ID, err.Error())
	}
	symbol := w.Market
	if w.Op != "new" {
		symbol = r.route[w.ID]
	} else if prev, ok := r.route[w.ID]; ok && prev != symbol {
		// The id rests in another market: ids are unique across the venue.
		return r.reject(seq, symbol, w.ID, matching.ReasonDuplicateID)
	}
	book := r.books[symbol]
	if book == nil {
		if w.Op == "new" {
			return r.reject(seq, symbol, w.ID, matching.ReasonUnknownMarket)
		}
		return r.reject(seq, "", w.ID, matching.ReasonUnknownOrder)
	}
	c, reason := w.Command(book.Market(), seq)
	if reason != "" {
		return r.reject(seq, symbol, w.ID, reason)
	}
	r.events = book.Apply(c, r.events[:0])
	for _, e := range r.events {
		switch e.Type {
		case matching.EvAccepted:
			r.route[e.ID] = symbol
		case matching.EvCancelled:
			delete(r.route, e.ID)
		case matching.EvTrade:
			if e.MakerRemaining == 0 {
				delete(r.route, e.MakerID)
			}
			if e.Remaining == 0 {
				delete(r.route, e.TakerID)
			}
		}
	}
	r.buf = r.buf[:0]
	for i := range r.events {
		r.buf = AppendEvent(r.buf, book.Market(), &r.events[i])
		r.buf = append(r.buf, '\n')
	}
	return r.buf
}

func (r *Replayer) reject(seq uint64, symbol, id string, reason matching.Reason) []byte {
	e := matching.Event{Type: matching.EvRejected, Seq: seq, ID: id, Reason: reason}
	var m *matching.Market
	if b := r.books[symbol]; b != nil {
		m = b.Market()
	}
	r.buf = append(AppendEvent(r.buf[:0], m, &e), '\n')
	return r.buf
}

// rejectLine is the event for a line that could not be decoded: reason malformed, the line
// number and what was wrong.
func (r *Replayer) rejectLine(seq uint64, id, detail string) []byte {
	b := append(r.buf[:0], `{"type":"rejected","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"line":`...)
	b = strconv.AppendUint(b, seq, 10)
	if id != "" {
		b = appendField(b, "id", id)
	}
	b = appendField(b, "reason", string(matching.ReasonMalformed))
	b = appendField(b, "detail", detail)
	r.buf = append(b, "}\n"...)
	return r.buf
}

// AppendEvent appends e as a JSON object (without newline). m gives the decimal precision and
// market symbol; it may be nil for rejections outside any market.
func AppendEvent(b []byte, m *matching.Market, e *matching.Event) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, e.Type.String()...)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	if m != nil {
		b = appendField(b, "market", m.Symbol)
	}
	// num appends a decimal field: a price in ticks or a quantity in lots.
	num := func(name string, v int64, isPrice bool) {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":"`...)
		if isPrice {
			b = m.AppendPrice(b, v)
		} else {
			b = m.AppendQty(b, v)
		}
		b = append(b, '"')
	}
	price := func(name string, v int64) { num(name, v, true) }
	qty := func(name string, v int64) { num(name, v, false) }
	switch e.Type {
	case matching.EvRejected:
		b = appendField(b, "id", e.ID)
		b = appendField(b, "reason", string(e.Reason))
	case matching.EvTrade:
		b = appendField(b, "maker_id", e.MakerID)
		b = appendField(b, "taker_id", e.TakerID)
		b = appendField(b, "maker_account", e.MakerAccount)
		b = appendField(b, "taker_account", e.TakerAccount)
		b = appendField(b, "side", e.Side.String())
		price("price", e.Price)
		qty("qty", e.Qty)
		qty("remaining", e.Remaining)
		qty("maker_remaining", e.MakerRemaining)
	default:
		b = appendField(b, "id", e.ID)
		b = appendField(b, "account", e.Account)
		b = appendField(b, "side", e.Side.String())
		if e.Price != 0 {
			price("price", e.Price)
		}
		qty("qty", e.Qty)
		qty("remaining", e.Remaining)
		if e.Reason != "" {
			b = appendField(b, "reason", string(e.Reason))
		}
	}
	return append(b, '}')
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return appendJSONString(b, value)
}

// appendJSONString appends s as a JSON string, escaping quotes, backslashes, control
// characters and invalid UTF-8 (as U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// WriteBooks writes each market's book, in symbol order, as one JSON line:
// {"type":"book","market":"BTC-USD","seq":12,"bids":[{"price":"100.50","qty":"2.0000","orders":1}],"asks":[]}
// with levels from best to worst.
func (r *Replayer) WriteBooks(w io.Writer) error {
	var levels []matching.Level
	for _, sym := range r.symbols {
		book := r.books[sym]
		m := book.Market()
		b := append(r.buf[:0], `{"type":"book"`...)
		b = appendField(b, "market", sym)
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, book.LastSeq(), 10)
		for _, side := range []matching.Side{matching.Buy, matching.Sell} {
			name := `,"bids":[`
			if side == matching.Sell {
				name = `,"asks":[`
			}
			b = append(b, name...)
			levels = book.Depth(side, 0, levels[:0])
			for i, l := range levels {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"price":"`...)
				b = m.AppendPrice(b, l.Price)
				b = append(b, `","qty":"`...)
				b = m.AppendQty(b, l.Qty)
				b = append(b, `","orders":`...)
				b = strconv.AppendInt(b, int64(l.Orders), 10)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		r.buf = append(b, "}\n"...)
		if _, err := w.Write(r.buf); err != nil {
			return err
		}
	}
	return nil
}
