package notification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

// conn is one WebSocket connection. Its reader is the one goroutine it always has; a
// writer runs only while there is something to write (queued frames, the close), and the
// heartbeat and the deadlines are timers, so an idle connection holds one goroutine's stack.
// Streams deliver into queue without blocking (Offer).
type conn struct {
	s  *Server
	ws *websocket.Conn
	// ctx ends when the reader does: the writes and pings made under it stop.
	ctx    context.Context
	cancel context.CancelFunc

	// The send queue: frames waiting for the writer, at most s.cfg.QueueSize. A slice that
	// grows with use (an idle connection holds none).
	qmu     sync.Mutex
	queue   [][]byte
	spare   [][]byte
	writing bool           // a writer runs (it drains queue, then ends)
	dead    bool           // the reader ended: no writer starts any more
	writers sync.WaitGroup // the writer, while one runs

	killOnce sync.Once
	kill     chan struct{} // closed when the server decides to close
	code     websocket.StatusCode
	reason   string

	mu      sync.Mutex
	p       auth.Principal
	authed  bool
	expires time.Time // zero: no expiry (API key)
	// The timers: the heartbeat, the wait for authentication, the token's expiry.
	ping, authTimer, expiry *time.Timer

	subs   map[string]bool // reader goroutine only
	errors int
}

func newConn(s *Server, ws *websocket.Conn, ctx context.Context) *conn {
	c := &conn{s: s, ws: ws, kill: make(chan struct{}), subs: map[string]bool{}}
	c.ctx, c.cancel = context.WithCancel(ctx)
	return c
}

// Offer implements Sink.
func (c *conn) Offer(frame []byte) bool {
	select {
	case <-c.kill:
		return true // closing: nothing more is sent, and nothing to report
	default:
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.queue) >= c.s.cfg.QueueSize {
		return false
	}
	c.queue = append(c.queue, frame)
	c.startWriter()
	return true
}

// startWriter starts the writer unless one runs; qmu is held.
func (c *conn) startWriter() {
	if c.writing || c.dead {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.write()
}

// take returns the queued frames, leaving the queue empty; none (and the writer ends) when
// there are none. qmu is held.
func (c *conn) take() [][]byte {
	out := c.queue
	c.queue, c.spare = c.spare[:0], nil
	if cap(c.queue) > 64 && len(out) < 16 {
		c.queue = nil // a burst is over: give its memory back
	}
	if len(out) == 0 {
		c.queue, c.spare = nil, nil // idle: hold no slice
	}
	return out
}

// recycle hands a drained batch back as the next spare.
func (c *conn) recycle(b [][]byte) {
	clear(b)
	c.qmu.Lock()
	if c.spare == nil && cap(b) <= 64 {
		c.spare = b[:0]
	}
	c.qmu.Unlock()
}

// Overflow implements Sink.
func (c *conn) Overflow() { c.closeWith(CloseSlowConsumer, "slow consumer: send queue full") }

// closeWith decides to close the connection: the writer sends the close frame.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.killOnce.Do(func() {
		c.code, c.reason = code, reason
		close(c.kill)
		c.qmu.Lock()
		c.startWriter()
		c.qmu.Unlock()
	})
}

func (c *conn) killed() bool {
	select {
	case <-c.kill:
		return true
	default:
		return false
	}
}

// setPrincipal records who the connection is, until when, and (re)arms the expiry.
func (c *conn) setPrincipal(p auth.Principal, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p, c.authed, c.expires = p, true, expires
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	if c.expiry != nil {
		c.expiry.Stop()
		c.expiry = nil
	}
	if !expires.IsZero() {
		c.expiry = time.AfterFunc(expires.Sub(c.s.cfg.Now()), func() {
			c.closeWith(CloseTokenExpired, "access token expired")
		})
	}
}

func (c *conn) principal() (auth.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p, c.authed
}

// run serves the connection on the caller's goroutine (its reader) until it ends.
func (c *conn) run() {
	c.mu.Lock()
	if !c.authed {
		c.authTimer = time.AfterFunc(c.s.cfg.AuthTimeout, func() {
			if _, ok := c.principal(); !ok {
				c.closeWith(CloseAuthTimeout, "authentication required")
			}
		})
	}
	c.ping = time.AfterFunc(c.s.cfg.PingInterval, c.heartbeat)
	c.mu.Unlock()
	c.send(c.hello())
	c.read(c.ctx)
	c.cancel()
	c.qmu.Lock()
	c.dead = true
	c.qmu.Unlock()
	c.mu.Lock()
	for _, t := range []*time.Timer{c.ping, c.authTimer, c.expiry} {
		if t != nil {
			t.Stop()
		}
	}
	c.mu.Unlock()
	c.writers.Wait()
	c.ws.CloseNow()
	for name := range c.subs {
		c.s.hub.Unsubscribe(name, c)
	}
}

// heartbeat pings the client (on the timer's goroutine: the library orders it with the
// writer's frames) and arms the next; a client that does not answer within WriteTimeout is
// dropped.
func (c *conn) heartbeat() {
	if c.ctx.Err() != nil || c.killed() {
		return
	}
	pctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.WriteTimeout)
	err := c.ws.Ping(pctx)
	cancel()
	if err != nil {
		c.ws.CloseNow()
		return
	}
	c.mu.Lock()
	c.ping.Reset(c.s.cfg.PingInterval)
	c.mu.Unlock()
}

// write sends the queued frames until there are none, then ends; when the server decided to
// close, it sends the close frame instead. A failed write drops the connection.
func (c *conn) write() {
	defer c.writers.Done()
	for {
		if c.killed() {
			c.finish()
			return
		}
		c.qmu.Lock()
		batch := c.take()
		if len(batch) == 0 {
			c.writing = false
			c.qmu.Unlock()
			return
		}
		c.qmu.Unlock()
		for _, f := range batch {
			if c.killed() {
				c.finish()
				return
			}
			wctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.WriteTimeout)
			err := c.ws.Write(wctx, websocket.MessageText, f)
			cancel()
			if err != nil {
				c.ws.CloseNow()
				return
			}
		}
		c.s.sent.Add(float64(len(batch)))
		c.recycle(batch)
	}
}

// finish sends the close frame the server decided on. The writer that does it stays
// "writing", so no other starts.
func (c *conn) finish() {
	c.s.closed.WithLabelValues(strings.TrimSpace(c.code.String())).Inc()
	_ = c.ws.Close(c.code, c.reason)
}

// Client messages.
type clientMsg struct {
	Op     string `json:"op"`
	ID     *int64 `json:"id,omitempty"`
	Token  string `json:"token,omitempty"`
	Stream string `json:"stream,omitempty"`
	// Resume is the last seq the client saw per source of the stream.
	Resume map[string]uint64 `json:"resume,omitempty"`
}

// Server replies.
type reply struct {
	Type      string            `json:"type"`
	ID        *int64            `json:"id,omitempty"`
	Stream    string            `json:"stream,omitempty"`
	Seqs      map[string]uint64 `json:"seqs,omitempty"`
	Replayed  *int              `json:"replayed,omitempty"`
	Account   string            `json:"account,omitempty"`
	ExpiresAt *string           `json:"expires_at,omitempty"`
	Code      string            `json:"code,omitempty"`
	Message   string            `json:"message,omitempty"`
}

func encode(r reply) []byte {
	b, _ := json.Marshal(r)
	return b
}

func (c *conn) send(frame []byte) {
	if !c.Offer(frame) {
		c.Overflow()
	}
}

func (c *conn) hello() []byte {
	r := reply{Type: "welcome"}
	if p, ok := c.principal(); ok {
		r.Account = p.UserID
		c.mu.Lock()
		if !c.expires.IsZero() {
			e := c.expires.UTC().Format(time.RFC3339)
			r.ExpiresAt = &e
		}
		c.mu.Unlock()
	}
	return encode(r)
}

func (c *conn) fail(id *int64, code, msg string) {
	c.send(encode(reply{Type: "error", ID: id, Code: code, Message: msg}))
	if code == "invalid" {
		if c.errors++; c.errors >= c.s.cfg.MaxErrors {
			c.closeWith(CloseTooManyErrors, "too many invalid messages")
		}
	}
}

func (c *conn) read(ctx context.Context) {
	for {
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) && ctx.Err() == nil {
				c.s.log.Debug("stream read", "err", err)
			}
			return
		}
		if typ != websocket.MessageText {
			c.fail(nil, "invalid", "messages are JSON text")
			continue
		}
		var m clientMsg
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil || dec.More() {
			c.fail(nil, "invalid", "a message is one JSON object with the fields op, id, token, stream, resume")
			continue
		}
		c.handle(ctx, m)
	}
}

var streamRE = regexp.MustCompile(`^(account:[A-Za-z0-9_-]{1,64}|(book|trades|ticker):[A-Z0-9]{1,12}-[A-Z0-9]{1,12})$`)

func (c *conn) handle(ctx context.Context, m clientMsg) {
	p, authed := c.principal()
	switch m.Op {
	case "auth":
		np, exp, err := c.s.token(ctx, m.Token)
		switch {
		case trading.ErrorCode(err) == trading.EUNAUTHORIZED:
			if authed {
				c.closeWith(CloseAuthFailed, "access token refused")
				return
			}
			c.fail(m.ID, "unauthorized", trading.ErrorMessage(err))
			return
		case err != nil:
			c.s.log.Error("stream authentication", "err", err)
			c.fail(m.ID, "unavailable", "authentication unavailable")
			return
		case authed && np.UserID != p.UserID:
			c.closeWith(CloseAuthFailed, "a connection stays with one user")
			return
		case !authed && !c.s.claimUser(np.UserID):
			c.fail(m.ID, "limit", "too many stream connections for this user")
			c.closeWith(websocket.StatusPolicyViolation, "too many stream connections")
			return
		}
		c.setPrincipal(np, exp)
		r := reply{Type: "authenticated", ID: m.ID, Account: np.UserID}
		if !exp.IsZero() {
			e := exp.UTC().Format(time.RFC3339)
			r.ExpiresAt = &e
		}
		c.send(encode(r))
	case "subscribe":
		if !authed {
			c.fail(m.ID, "unauthorized", "authenticate first")
			return
		}
		if !streamRE.MatchString(m.Stream) {
			c.fail(m.ID, "invalid", "stream must be account:<your account id>, book:<market>, trades:<market> or ticker:<market>")
			return
		}
		if Private(m.Stream) && m.Stream != AccountStream(p.UserID) {
			c.fail(m.ID, "forbidden", "a connection may only watch its own account")
			return
		}
		if c.subs[m.Stream] {
			c.fail(m.ID, "invalid", "already subscribed to "+m.Stream)
			return
		}
		if len(c.subs) >= c.s.cfg.MaxSubscriptions {
			c.fail(m.ID, "limit", "too many subscriptions on this connection")
			return
		}
		if !Private(m.Stream) {
			_, market, _ := strings.Cut(m.Stream, ":")
			if _, err := c.s.markets.Market(ctx, market); trading.ErrorCode(err) == trading.ENOTFOUND {
				c.fail(m.ID, "not_found", "market not found")
				return
			} else if err != nil {
				c.s.log.Error("stream market lookup", "err", err)
				c.fail(m.ID, "unavailable", "market lookup unavailable")
				return
			}
		}
		if m.Resume != nil && len(m.Resume) == 0 {
			c.fail(m.ID, "invalid", "resume names the last seq seen per source, as the subscription's seqs do")
			return
		}
		out := c.s.hub.Subscribe(m.Stream, c, m.Resume, func(out Subscribed) []byte {
			n := out.Replayed
			r := reply{Type: "subscribed", ID: m.ID, Stream: m.Stream, Seqs: out.Seqs, Replayed: &n}
			if out.Resync {
				r.Type, r.Message = "resync", out.Why
			}
			return encode(r)
		})
		if out.Overflow {
			c.Overflow()
			return
		}
		c.subs[m.Stream] = true
	case "unsubscribe":
		if !c.subs[m.Stream] {
			c.fail(m.ID, "invalid", "not subscribed to "+m.Stream)
			return
		}
		c.s.hub.Unsubscribe(m.Stream, c)
		delete(c.subs, m.Stream)
		c.send(encode(reply{Type: "unsubscribed", ID: m.ID, Stream: m.Stream}))
	case "ping":
		c.send(encode(reply{Type: "pong", ID: m.ID}))
	default:
		c.fail(m.ID, "invalid", "op must be auth, subscribe, unsubscribe or ping")
	}
}
