// Package streamclient is a small client of the platform's WebSocket streams (the
// notification service) for the black-box suites and the commands: it connects with a bearer
// token in the Authorization header, subscribes, reads messages, and rebuilds a market's book
// from the REST snapshot and the book diffs, checking every update id and checksum.
package streamclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/coder/websocket"
)

// Msg is any server message; Raw is its bytes.
type Msg struct {
	Type     string            `json:"type"`
	ID       *int64            `json:"id"`
	Stream   string            `json:"stream"`
	Channel  string            `json:"channel"`
	Src      string            `json:"src"`
	Seq      uint64            `json:"seq"`
	Prev     uint64            `json:"prev"`
	TS       int64             `json:"ts"` // the record's log time, Unix ms
	Seqs     map[string]uint64 `json:"seqs"`
	Replayed int               `json:"replayed"`
	Account  string            `json:"account"`
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Data     json.RawMessage   `json:"data"`
	Raw      []byte            `json:"-"`
}

// Conn is one connection.
type Conn struct {
	WS      *websocket.Conn
	Welcome Msg
	nextID  int64
}

// Dial connects to url with token (in the Authorization header; "" for none) and reads the
// welcome message. hc may be nil.
func Dial(ctx context.Context, url, token string, hc *http.Client) (*Conn, error) {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	c := &Conn{WS: ws}
	if c.Welcome, err = c.Next(ctx); err != nil {
		ws.CloseNow()
		return nil, err
	}
	if c.Welcome.Type != "welcome" {
		ws.CloseNow()
		return nil, fmt.Errorf("first message %q, want welcome", c.Welcome.Type)
	}
	return c, nil
}

// Close closes the connection normally.
func (c *Conn) Close() error { return c.WS.Close(websocket.StatusNormalClosure, "") }

// Send writes v as JSON.
func (c *Conn) Send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.WS.Write(ctx, websocket.MessageText, b)
}

// Next reads one message.
func (c *Conn) Next(ctx context.Context) (Msg, error) {
	_, b, err := c.WS.Read(ctx)
	if err != nil {
		return Msg{}, err
	}
	var m Msg
	if err := json.Unmarshal(b, &m); err != nil {
		return Msg{}, fmt.Errorf("decode %s: %w", b, err)
	}
	m.Raw = b
	return m, nil
}

// Resume is where a subscription resumes: the last seq seen per source.
type Resume map[string]uint64

// Positions follows streams as a client must: from each subscription's seqs, every event's
// seq per source. It is what a client resumes from, on any replica.
type Positions map[string]Resume

// Start records a subscription's answer (subscribed or resync).
func (p Positions) Start(m Msg) {
	r := Resume{}
	for src, q := range m.Seqs {
		r[src] = q
	}
	p[m.Stream] = r
}

// Track records an event: gap is true when the server says a message from its source came
// between the last one seen and this one (prev after the last seq), dup when it is not after
// the last seq seen.
func (p Positions) Track(m Msg) (gap, dup bool) {
	r := p[m.Stream]
	if r == nil {
		r = Resume{}
		p[m.Stream] = r
	}
	last, ok := r[m.Src]
	if !ok {
		return true, false // a source the subscription did not name
	}
	if m.Seq <= last {
		return false, true
	}
	r[m.Src] = m.Seq
	return m.Prev > last, false
}

// Subscribe sends a subscribe command and returns its answer (subscribed, resync or error).
// Events of other streams read meanwhile are passed to other (which may be nil).
func (c *Conn) Subscribe(ctx context.Context, stream string, resume Resume, other func(Msg)) (Msg, error) {
	c.nextID++
	id := c.nextID
	cmd := map[string]any{"op": "subscribe", "id": id, "stream": stream}
	if resume != nil {
		cmd["resume"] = resume
	}
	if err := c.Send(ctx, cmd); err != nil {
		return Msg{}, err
	}
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return Msg{}, err
		}
		if m.ID != nil && *m.ID == id {
			return m, nil
		}
		if other != nil {
			other(m)
		}
	}
}

// CloseCode is the close code of the error a read returned (-1 if none).
func CloseCode(err error) websocket.StatusCode { return websocket.CloseStatus(err) }

// BookDiff is the data of a book event.
type BookDiff struct {
	Market   string      `json:"market"`
	UpdateID uint64      `json:"update_id"`
	Bids     [][2]string `json:"bids"`
	Asks     [][2]string `json:"asks"`
	Checksum uint32      `json:"checksum"`
}

// Snapshot is GET /markets/{market}/book.
type Snapshot struct {
	Market       string  `json:"market"`
	Bids         []Level `json:"bids"`
	Asks         []Level `json:"asks"`
	LastUpdateID uint64  `json:"last_update_id"`
}

// Level is a level of the REST book.
type Level struct {
	Price    string `json:"price"`
	Quantity string `json:"quantity"`
}

// Book is a client's copy of a market's book.
type Book struct {
	Market           string
	TickSize, LotSiz string
	UpdateID         uint64
	bids, asks       map[string]string
	Checked          int // diffs whose checksum matched
}

// NewBook starts a book from a snapshot.
func NewBook(s Snapshot, tickSize, lotSize string) *Book {
	b := &Book{Market: s.Market, TickSize: tickSize, LotSiz: lotSize, UpdateID: s.LastUpdateID, bids: map[string]string{}, asks: map[string]string{}}
	for _, l := range s.Bids {
		b.bids[l.Price] = l.Quantity
	}
	for _, l := range s.Asks {
		b.asks[l.Price] = l.Quantity
	}
	return b
}

// ErrGap is returned by Apply for a diff that does not follow the book's update id.
var ErrGap = errors.New("book diff does not follow")

// Apply applies a diff: one already reflected (update id at or below the book's) is ignored
// (false); the next one is applied and its checksum checked; any other is ErrGap.
func (b *Book) Apply(d BookDiff) (bool, error) {
	if d.UpdateID <= b.UpdateID {
		return false, nil
	}
	if d.UpdateID != b.UpdateID+1 {
		return false, fmt.Errorf("%w: update %d after %d", ErrGap, d.UpdateID, b.UpdateID)
	}
	for _, side := range []struct {
		m  map[string]string
		ls [][2]string
	}{{b.bids, d.Bids}, {b.asks, d.Asks}} {
		for _, l := range side.ls {
			if zero(l[1]) {
				delete(side.m, l[0])
			} else {
				side.m[l[0]] = l[1]
			}
		}
	}
	b.UpdateID = d.UpdateID
	got, err := b.Checksum()
	if err != nil {
		return true, err
	}
	if got != d.Checksum {
		return true, fmt.Errorf("checksum after update %d: book %d, diff %d", d.UpdateID, got, d.Checksum)
	}
	b.Checked++
	return true, nil
}

func zero(q string) bool { return strings.Trim(q, "0.") == "" }

// Levels returns the book's sides, best first.
func (b *Book) Levels() (bids, asks []Level) {
	for p, q := range b.bids {
		bids = append(bids, Level{p, q})
	}
	for p, q := range b.asks {
		asks = append(asks, Level{p, q})
	}
	num := func(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }
	slices.SortFunc(bids, func(x, y Level) int { return cmpF(num(y.Price), num(x.Price)) })
	slices.SortFunc(asks, func(x, y Level) int { return cmpF(num(x.Price), num(y.Price)) })
	return bids, asks
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Checksum computes the documented CRC-32 of the book's top 10 levels a side.
func (b *Book) Checksum() (uint32, error) {
	bids, asks := b.Levels()
	var s []byte
	for i, side := range [][]Level{bids, asks} {
		if i == 1 {
			s = append(s, '|')
		}
		for j, l := range side {
			if j == 10 {
				break
			}
			if j > 0 {
				s = append(s, ',')
			}
			p, err := steps(l.Price, b.TickSize)
			if err != nil {
				return 0, err
			}
			q, err := steps(l.Quantity, b.LotSiz)
			if err != nil {
				return 0, err
			}
			s = strconv.AppendInt(s, p, 10)
			s = append(s, ':')
			s = strconv.AppendInt(s, q, 10)
		}
	}
	return crc32.ChecksumIEEE(s), nil
}

// steps is how many steps of size v is ("65000.01" of "0.01": 6500001).
func steps(v, size string) (int64, error) {
	_, frac, _ := strings.Cut(size, ".")
	scale := len(frac)
	val, err := scaled(v, scale)
	if err != nil {
		return 0, err
	}
	unit, err := scaled(size, scale)
	if err != nil || unit <= 0 {
		return 0, fmt.Errorf("step size %q", size)
	}
	return val / unit, nil
}

func scaled(v string, scale int) (int64, error) {
	ip, fp, _ := strings.Cut(v, ".")
	if len(fp) > scale {
		return 0, fmt.Errorf("%q has more than %d decimals", v, scale)
	}
	fp += strings.Repeat("0", scale-len(fp))
	return strconv.ParseInt(ip+fp, 10, 64)
}
