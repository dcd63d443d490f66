package notification_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/auth"
	authmem "github.com/cantondex/platform/services/auth/memory"
	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/notification"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/trading"
	"github.com/cantondex/platform/services/trading/tradingtest"
)

type env struct {
	t      *testing.T
	url    string
	auth   *auth.Service
	hub    *notification.Hub
	feed   *notification.Feed
	srv    *notification.Server
	venue  *tradingtest.Venue
	offset atomic.Int64 // added to the auth clock
}

func newEnv(t *testing.T, cfg notification.ServerConfig) *env {
	t.Helper()
	e := &env{t: t}
	rc, err := redis.OpenEmbedded("test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })
	now := func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }
	e.auth, err = auth.NewService(authmem.NewStore(), gateway.Nonces{Store: rc.NewIdempotencyStore(time.Minute)}, auth.Config{
		TokenKey: bytes.Repeat([]byte("t"), 32), SealKey: bytes.Repeat([]byte("s"), 32),
		Hash: auth.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}, Now: now, AccessTTL: 10 * time.Minute,
	})
	require.NoError(t, err)
	e.venue = tradingtest.NewVenue(nil)
	_, err = e.venue.CreateMarket(context.Background(), tradingtest.DemoMarket())
	require.NoError(t, err)
	e.hub = notification.NewHub(notification.HubOptions{})
	e.hub.Start(map[string]int64{"trades/0": 0, "settlements/0": 0, "alerts/0": 0})
	e.feed = &notification.Feed{Hub: e.hub, Markets: e.venue, Balances: e.venue, Assets: e.venue}
	cfg.Now = now
	e.srv, err = notification.NewServer(e.hub, e.auth, e.venue, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(notification.Path, e.srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		e.srv.Shutdown()
		ts.Close()
	})
	e.url = "ws" + strings.TrimPrefix(ts.URL, "http") + notification.Path
	return e
}

// user registers a trader and returns their id and an access token.
func (e *env) user(name string) (string, string) {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.auth.CreateUser(ctx, name+"@example.com", "a long password "+name, auth.RoleTrader)
	require.NoError(e.t, err)
	tok, err := e.auth.Login(ctx, name+"@example.com", "a long password "+name, "192.0.2.1")
	require.NoError(e.t, err)
	return u.ID, tok.AccessToken
}

func (e *env) login(name string) string {
	e.t.Helper()
	tok, err := e.auth.Login(context.Background(), name+"@example.com", "a long password "+name, "192.0.2.1")
	require.NoError(e.t, err)
	return tok.AccessToken
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

type msg struct {
	Type     string            `json:"type"`
	ID       *int64            `json:"id"`
	Stream   string            `json:"stream"`
	Channel  string            `json:"channel"`
	Seqs     map[string]uint64 `json:"seqs"`
	Src      string            `json:"src"`
	TS       int64             `json:"ts"`
	Seq      uint64            `json:"seq"`
	Replayed int               `json:"replayed"`
	Account  string            `json:"account"`
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Data     json.RawMessage   `json:"data"`
}

func (e *env) dial(header http.Header) (*client, *http.Response, error) {
	return e.dialWith(header, nil)
}

// dialSmall connects with a 4 KB receive buffer, so a client that stops reading fills the
// server's queue quickly.
func (e *env) dialSmall(header http.Header) (*client, *http.Response, error) {
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	return e.dialWith(header, &http.Client{Transport: &http.Transport{DialContext: d.DialContext}})
}

func (e *env) dialWith(header http.Header, hc *http.Client) (*client, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{HTTPHeader: header, HTTPClient: hc})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: e.t, ws: ws}
	e.t.Cleanup(func() { ws.CloseNow() })
	return c, resp, nil
}

func (e *env) connect(token string) *client {
	e.t.Helper()
	c, _, err := e.dial(http.Header{"Authorization": {"Bearer " + token}})
	require.NoError(e.t, err)
	w := c.next()
	require.Equal(e.t, "welcome", w.Type)
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	require.NoError(c.t, c.ws.Write(context.Background(), websocket.MessageText, b))
}

func (c *client) next() msg {
	c.t.Helper()
	m, err := c.read(5 * time.Second)
	require.NoError(c.t, err)
	return m
}

func (c *client) read(timeout time.Duration) (msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return msg{}, err
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		return msg{}, fmt.Errorf("%w: %s", err, b)
	}
	return m, nil
}

// closeCode reads until the connection ends and returns its close code.
func (c *client) closeCode(timeout time.Duration) websocket.StatusCode {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, err := c.read(time.Until(deadline))
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
	return -1
}

func (c *client) subscribe(id int64, stream string, resume map[string]any) msg {
	c.t.Helper()
	m := map[string]any{"op": "subscribe", "id": id, "stream": stream}
	if resume != nil {
		m["resume"] = resume
	}
	c.send(m)
	return c.next()
}

// trades is the origin of the execution of seq: trades/0 at offset seq-1.
func trades(seq uint64) notification.Origin {
	return notification.Origin{Src: "trades/0", Offset: int64(seq) - 1}
}

func execution(seq uint64, maker, taker string) trading.Execution {
	id := "BTC-USD:" + strconv.FormatUint(seq, 10)
	at := time.Unix(1_700_000_000, 0).UTC()
	return trading.Execution{ID: id, Market: "BTC-USD", Seq: seq, Command: trading.OpNew, OrderID: "t" + id, ExecutedAt: at,
		Events: []trading.ExecEvent{
			{Type: trading.ExecAccepted, OrderID: "t" + id, Account: taker, Remaining: 3},
			{Type: trading.ExecTrade, OrderID: "t" + id, Account: taker, Remaining: 1, MakerRemaining: 0, Trade: &trading.Trade{
				ID: id + ":1", Market: "BTC-USD", Price: 6500000, Quantity: 2, MakerOrderID: "m" + id, TakerOrderID: "t" + id,
				MakerAccount: maker, TakerAccount: taker, TakerSide: trading.Buy, Seq: seq, ExecutedAt: at}},
		},
		Book: &trading.BookChange{UpdateID: seq, Asks: []trading.LevelQty{{Price: 6500000, Quantity: 0}}, Checksum: 7},
	}
}

func TestOwnEventsOnly(t *testing.T) {
	e := newEnv(t, notification.ServerConfig{})
	alice, at := e.user("alice")
	bob, bt := e.user("bob")
	carol, ct := e.user("carol")
	ca, cb, cc := e.connect(at), e.connect(bt), e.connect(ct)
	for _, p := range []struct {
		c  *client
		id string
	}{{ca, alice}, {cb, bob}, {cc, carol}} {
		r := p.c.subscribe(1, notification.AccountStream(p.id), nil)
		require.Equal(t, "subscribed", r.Type, "%+v", r)
	}
	r := ca.subscribe(2, notification.AccountStream(bob), nil)
	assert.Equal(t, "error", r.Type)
	assert.Equal(t, "forbidden", r.Code)

	// Alice buys from bob; carol is not involved. The fills come with the settlement, which
	// says the fees.
	x := execution(1, bob, alice)
	require.NoError(t, e.feed.Execution(context.Background(), trades(1), x))
	require.NoError(t, e.feed.Settlement(context.Background(), notification.Origin{Src: "settlements/0"}, trading.Settlement{
		ID: x.ID, Market: x.Market, Seq: 1, Trades: []trading.Trade{*x.Events[1].Trade},
		Fees: []trading.TradeFee{{TradeID: "BTC-USD:1:1", TakerFee: 40, TakerAsset: "BTC", MakerFee: 1300, MakerAsset: "USD"}}}))
	got := map[string][]msg{}
	for name, c := range map[string]*client{"alice": ca, "bob": cb} {
		for {
			m := c.next()
			got[name] = append(got[name], m)
			if m.Channel == notification.ChannelFills {
				break
			}
		}
	}
	var aliceFill, bobFill notification.Fill
	require.NoError(t, json.Unmarshal(got["alice"][len(got["alice"])-1].Data, &aliceFill))
	require.NoError(t, json.Unmarshal(got["bob"][len(got["bob"])-1].Data, &bobFill))
	str := func(s string) *string { return &s }
	assert.Equal(t, notification.Fill{TradeID: "BTC-USD:1:1", OrderID: "tBTC-USD:1", Market: "BTC-USD", Side: "buy", Liquidity: "taker",
		Price: "65000.00", Quantity: "0.0002", Fee: str("0.00000040"), FeeAsset: str("BTC"), ExecutedAt: "2023-11-14T22:13:20Z"}, aliceFill)
	assert.Equal(t, "mBTC-USD:1", bobFill.OrderID)
	assert.Equal(t, "maker", bobFill.Liquidity)
	assert.Equal(t, "sell", bobFill.Side)
	assert.Equal(t, "USD", *bobFill.FeeAsset)
	assert.Equal(t, "0.001300", *bobFill.Fee, "formatted in the asset's scale, as balances are")
	for _, m := range got["alice"] {
		assert.Equal(t, notification.AccountStream(alice), m.Stream)
	}
	for _, m := range got["bob"] {
		assert.Equal(t, notification.AccountStream(bob), m.Stream)
	}
	// Carol sees nothing: her next message is her own pong.
	cc.send(map[string]any{"op": "ping", "id": 9})
	assert.Equal(t, "pong", cc.next().Type)
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, notification.ServerConfig{AuthTimeout: 300 * time.Millisecond, MaxConnsPerUser: 2})
	alice, at := e.user("alice")

	_, resp, err := e.dial(http.Header{"Authorization": {"Bearer at1.forged.token"}})
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err = websocket.Dial(ctx, e.url+"?token="+at, nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a token in the URL is refused")

	// Auth by first message.
	c, _, err := e.dial(nil)
	require.NoError(t, err)
	assert.Equal(t, "welcome", c.next().Type)
	r := c.subscribe(1, notification.AccountStream(alice), nil)
	assert.Equal(t, "unauthorized", r.Code, "nothing before auth")
	c.send(map[string]any{"op": "auth", "id": 2, "token": "at1.bad"})
	assert.Equal(t, "unauthorized", c.next().Code)
	c.send(map[string]any{"op": "auth", "id": 3, "token": at})
	r = c.next()
	assert.Equal(t, "authenticated", r.Type)
	assert.Equal(t, alice, r.Account)
	assert.Equal(t, "subscribed", c.subscribe(4, notification.AccountStream(alice), nil).Type)

	// Invalid messages get clear errors.
	c.send(map[string]any{"op": "subscribe", "id": 5, "stream": "orders:everyone"})
	assert.Equal(t, "invalid", c.next().Code)
	c.send(map[string]any{"op": "subscribe", "id": 6, "stream": "book:NOPE-USD"})
	assert.Equal(t, "not_found", c.next().Code)
	c.send(map[string]any{"op": "dance", "id": 7})
	assert.Equal(t, "invalid", c.next().Code)
	require.NoError(t, c.ws.Write(context.Background(), websocket.MessageText, []byte(`{"op":"ping","extra":1}`)))
	assert.Equal(t, "invalid", c.next().Code)

	// Connection limit per user: c and one more; the third is refused.
	_ = e.connect(at)
	_, resp, err = e.dial(http.Header{"Authorization": {"Bearer " + at}})
	require.Error(t, err)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)

	// No auth message: closed with the documented code.
	silent, _, err := e.dial(nil)
	require.NoError(t, err)
	assert.Equal(t, notification.CloseAuthTimeout, silent.closeCode(5*time.Second))
}

func TestOriginCheck(t *testing.T) {
	e := newEnv(t, notification.ServerConfig{OriginPatterns: []string{"https://app.example.com"}})
	_, at := e.user("alice")
	_, resp, err := e.dial(http.Header{"Authorization": {"Bearer " + at}, "Origin": {"https://evil.example"}})
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, _, err = e.dial(http.Header{"Authorization": {"Bearer " + at}, "Origin": {"https://app.example.com"}})
	require.NoError(t, err)
}

func TestAPIKeyConnect(t *testing.T) {
	e := newEnv(t, notification.ServerConfig{})
	alice, _ := e.user("alice")
	ctx := context.Background()
	read, err := e.auth.CreateAPIKey(ctx, alice, "bot", []auth.Scope{auth.ScopeRead})
	require.NoError(t, err)
	tradeOnly, err := e.auth.CreateAPIKey(ctx, alice, "trader", []auth.Scope{auth.ScopeTrade})
	require.NoError(t, err)
	signed := func(k auth.NewAPIKey) http.Header {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		return http.Header{"X-Cdx-Key": {k.ID}, "X-Cdx-Timestamp": {ts},
			"X-Cdx-Signature": {auth.Sign(k.Secret, ts, "GET", notification.Path, nil)}}
	}
	h := signed(read)
	c, _, err := e.dial(h)
	require.NoError(t, err)
	w := c.next()
	assert.Equal(t, alice, w.Account)
	assert.Equal(t, "subscribed", c.subscribe(1, notification.AccountStream(alice), nil).Type)
	_, resp, err := e.dial(h)
	require.Error(t, err, "the same signature twice")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, resp, err = e.dial(signed(tradeOnly))
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "read scope required")
}

func TestTokenExpiry(t *testing.T) {
	e := newEnv(t, notification.ServerConfig{})
	_, _ = e.user("alice")
	_, _ = e.user("bob")
	// Tokens issued "10 minutes minus 2 seconds ago" expire in under 2 s.
	e.offset.Store(int64(-10*time.Minute + 2*time.Second))
	short := e.login("alice")
	shortBob := e.login("bob")
	e.offset.Store(0)
	fresh := e.login("alice")

	expiring := e.connect(short)
	renewed := e.connect(shortBob)
	renewed.send(map[string]any{"op": "auth", "id": 1, "token": e.login("bob")})
	assert.Equal(t, "authenticated", renewed.next().Type)

	assert.Equal(t, notification.CloseTokenExpired, expiring.closeCode(10*time.Second))
	// The renewed connection lives on past the first token's expiry.
	renewed.send(map[string]any{"op": "ping", "id": 2})
	assert.Equal(t, "pong", renewed.next().Type)

	// Re-authenticating as someone else ends the connection.
	renewed.send(map[string]any{"op": "auth", "id": 3, "token": fresh})
	assert.Equal(t, notification.CloseAuthFailed, renewed.closeCode(5*time.Second))
}

func TestResumeAcrossReconnect(t *testing.T) {
	e := newEnv(t, notification.ServerConfig{})
	_, at := e.user("alice")
	c := e.connect(at)
	r := c.subscribe(1, notification.TradesStream("BTC-USD"), nil)
	require.Equal(t, "subscribed", r.Type)
	last := r.Seqs
	require.Equal(t, map[string]uint64{"trades/0": notification.Seq(0, 0) - 1}, last)
	for i := range 5 {
		require.NoError(t, e.feed.Execution(context.Background(), trades(uint64(i+1)), execution(uint64(i+1), "m", "t")))
	}
	var seen []uint64
	for range 5 {
		m := c.next()
		require.Equal(t, "trades/0", m.Src)
		seen = append(seen, m.Seq)
		last[m.Src] = m.Seq
	}
	c.ws.CloseNow()
	for i := 5; i < 12; i++ {
		require.NoError(t, e.feed.Execution(context.Background(), trades(uint64(i+1)), execution(uint64(i+1), "m", "t")))
	}
	c = e.connect(at)
	r = c.subscribe(1, notification.TradesStream("BTC-USD"), seqsOf(last))
	require.Equal(t, "subscribed", r.Type, r.Message)
	assert.Equal(t, 7, r.Replayed)
	for range 7 {
		seen = append(seen, c.next().Seq)
	}
	// One trade per execution, the execution at offset seq-1: the trade is its record's fourth
	// message (after the acceptance and two order updates).
	for i, q := range seen {
		require.Equal(t, notification.Seq(int64(i), 3), q, "no gap, no duplicate at %d", i)
	}
	// A position this replica does not hold: told to resync, then live.
	c2 := e.connect(at)
	r = c2.subscribe(1, notification.TradesStream("BTC-USD"), map[string]any{"trades/0": 3})
	assert.Equal(t, "resync", r.Type)
	assert.Equal(t, notification.Seq(11, 3), r.Seqs["trades/0"], "fresh: after the newest message")
	c2.send(map[string]any{"op": "subscribe", "id": 2, "stream": notification.BookStream("BTC-USD"), "resume": map[string]any{}})
	assert.Equal(t, "invalid", c2.next().Code, "an empty resume is refused")
}

func seqsOf(m map[string]uint64) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// A client that stops reading is closed with CloseSlowConsumer once its queue fills; a
// client on the same stream that reads gets every message.
func TestSlowConsumerDisconnected(t *testing.T) {
	e := newEnv(t, notification.ServerConfig{QueueSize: 256})
	_, at := e.user("alice")
	_, bt := e.user("bob")
	slow, _, err := e.dialSmall(http.Header{"Authorization": {"Bearer " + at}})
	require.NoError(t, err)
	require.Equal(t, "welcome", slow.next().Type)
	fast := e.connect(bt)
	require.Equal(t, "subscribed", slow.subscribe(1, "book:BTC-USD", nil).Type)
	require.Equal(t, "subscribed", fast.subscribe(1, "book:BTC-USD", nil).Type)
	big := []byte(`"` + strings.Repeat("x", 1<<10) + `"`)
	const n = 3000 // 3 MB: more than the slow client's socket buffers hold
	done := make(chan error, 1)
	go func() {
		var last uint64
		for last < n {
			m, err := fast.read(20 * time.Second)
			if err != nil {
				done <- err
				return
			}
			if m.Seq != last+1 {
				done <- fmt.Errorf("fast reader: seq %d after %d", m.Seq, last)
				return
			}
			last = m.Seq
		}
		done <- nil
	}()
	for i := range n {
		e.hub.Publish("book:BTC-USD", "book", notification.Pos{Src: "trades/0", Seq: uint64(i + 1)}, big)
		if i%8 == 0 {
			time.Sleep(time.Millisecond) // a pace a reading client keeps
		}
	}
	require.NoError(t, <-done)
	code := slow.closeCode(30 * time.Second)
	assert.Equal(t, notification.CloseSlowConsumer, code)
}
