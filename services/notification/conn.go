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

// conn is one WebSocket connection: its reader runs on the handler's goroutine, its writer on
// one more. Streams deliver into queue without blocking (Offer).
type conn struct {
	s  *Server
	ws *websocket.Conn

	// The send queue: frames waiting for the writer, at most s.cfg.QueueSize. A slice that
	// grows with use (an idle connection holds none) and a wake-up for the writer.
	qmu   sync.Mutex
	queue [][]byte
	spare [][]byte
	wake  chan struct{}

	killOnce sync.Once
	kill     chan struct{} // closed when the server decides to close
	code     websocket.StatusCode
	reason   string

	mu      sync.Mutex
	p       auth.Principal
	authed  bool
	expires time.Time // zero: no expiry (API key)
	renewed chan struct{}

	subs   map[string]bool // reader goroutine only
	errors int
}

// Offer implements Sink.
func (c *conn) Offer(frame []byte) bool {
	select {
	case <-c.kill:
		return true // closing: nothing more is sent, and nothing to report
	default:
	}
	c.qmu.Lock()
	if len(c.queue) >= c.s.cfg.QueueSize {
		c.qmu.Unlock()
		return false
	}
	c.queue = append(c.queue, frame)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns the queued frames, leaving the queue empty.
func (c *conn) take() [][]byte {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	out := c.queue
	c.queue, c.spare = c.spare[:0], nil
	if cap(c.queue) > 64 && len(out) < 16 {
		c.queue = nil // a burst is over: give its memory back
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

func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.killOnce.Do(func() {
		c.code, c.reason = code, reason
		close(c.kill)
	})
}

func (c *conn) setPrincipal(p auth.Principal, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p, c.authed, c.expires = p, true, expires
	if c.renewed != nil {
		select {
		case c.renewed <- struct{}{}:
		default:
		}
	}
}

func (c *conn) principal() (auth.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p, c.authed
}

func (c *conn) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	c.renewed = make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.write(ctx)
	}()
	c.send(c.hello())
	c.read(ctx)
	cancel()
	wg.Wait()
	for name := range c.subs {
		c.s.hub.Unsubscribe(name, c)
	}
}

// write sends queued frames, pings, and closes the connection when told to.
func (c *conn) write(ctx context.Context) {
	defer c.ws.CloseNow()
	ping := time.NewTicker(c.s.cfg.PingInterval)
	defer ping.Stop()
	authTimer := time.NewTimer(c.s.cfg.AuthTimeout)
	defer authTimer.Stop()
	var expiry <-chan time.Time
	var expiryTimer *time.Timer
	arm := func() {
		if expiryTimer != nil {
			expiryTimer.Stop()
			expiry = nil
		}
		c.mu.Lock()
		exp, authed := c.expires, c.authed
		c.mu.Unlock()
		if authed {
			authTimer.Stop()
		}
		if !exp.IsZero() {
			expiryTimer = time.NewTimer(exp.Sub(c.s.cfg.Now()))
			expiry = expiryTimer.C
		}
	}
	arm()
	defer func() {
		if expiryTimer != nil {
			expiryTimer.Stop()
		}
	}()
	for {
		// A decision to close wins over anything queued.
		select {
		case <-c.kill:
			c.finish()
			return
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-c.kill:
			c.finish()
			return
		case <-c.s.stop:
			c.closeWith(CloseGoingAway, "server shutting down")
		case <-c.renewed:
			arm()
		case <-authTimer.C:
			if _, ok := c.principal(); !ok {
				c.closeWith(CloseAuthTimeout, "authentication required")
			}
		case <-expiry:
			c.closeWith(CloseTokenExpired, "access token expired")
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, c.s.cfg.WriteTimeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		case <-c.wake:
			batch := c.take()
			for _, f := range batch {
				select {
				case <-c.kill:
					c.finish()
					return
				default:
				}
				wctx, cancel := context.WithTimeout(ctx, c.s.cfg.WriteTimeout)
				err := c.ws.Write(wctx, websocket.MessageText, f)
				cancel()
				if err != nil {
					return
				}
			}
			c.s.sent.Add(float64(len(batch)))
			c.recycle(batch)
		}
	}
}

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
