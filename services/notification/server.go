package notification

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

// Path is where the stream is served, under the API.
const Path = "/api/v1/stream"

// Close codes the server ends a connection with (RFC 6455 leaves 4000-4999 to applications).
const (
	CloseTokenExpired  websocket.StatusCode = 4001 // the access token expired and no auth message renewed it
	CloseAuthTimeout   websocket.StatusCode = 4002 // no valid auth message in AuthTimeout after connecting
	CloseAuthFailed    websocket.StatusCode = 4003 // an auth message named another user, or its session ended
	CloseSlowConsumer  websocket.StatusCode = 4008 // the send queue filled: the client reads slower than its streams
	CloseTooManyErrors websocket.StatusCode = 4009 // too many invalid messages
	CloseGoingAway                          = websocket.StatusGoingAway
)

// Headers of a connect request signed with an API key (the gateway's).
const (
	headerKey       = "X-CDX-Key"
	headerTimestamp = "X-CDX-Timestamp"
	headerSignature = "X-CDX-Signature"
)

// Authenticator checks credentials as the gateway does (services/auth).
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (auth.Principal, error)
	VerifySigned(ctx context.Context, keyID, timestamp, signature, method, pathAndQuery string, body []byte) (auth.Principal, error)
}

// ServerConfig tunes the endpoint; zero values take the defaults.
type ServerConfig struct {
	// OriginPatterns are the browser origins allowed besides the request's own host: the
	// gateway's CORS origins ("https://app.example.com").
	OriginPatterns []string
	// QueueSize is the frames one connection may have waiting (default 1024); a connection
	// whose queue is full is closed with CloseSlowConsumer.
	QueueSize int
	// MaxConnsPerUser (default 16), MaxConns per replica (default 50,000) and
	// MaxSubscriptions per connection (default 64).
	MaxConnsPerUser, MaxConns, MaxSubscriptions int
	// AuthTimeout is how long an unauthenticated connection may wait for its auth message
	// (default 10s); PingInterval how often the server pings (default 20s); WriteTimeout how
	// long one write may take (default 10s).
	AuthTimeout, PingInterval, WriteTimeout time.Duration
	// MaxErrors is how many invalid client messages a connection may send (default 20).
	MaxErrors int
	Now       func() time.Time
}

func (c ServerConfig) withDefaults() ServerConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.QueueSize, 1024)
	def(&c.MaxConnsPerUser, 16)
	def(&c.MaxConns, 50_000)
	def(&c.MaxSubscriptions, 64)
	def(&c.MaxErrors, 20)
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	dur(&c.AuthTimeout, 10*time.Second)
	dur(&c.PingInterval, 20*time.Second)
	dur(&c.WriteTimeout, 10*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Server is the WebSocket endpoint of one replica.
type Server struct {
	hub     *Hub
	auth    Authenticator
	markets Markets
	cfg     ServerConfig
	log     *slog.Logger

	mu      sync.Mutex
	perUser map[string]int
	conns   int
	live    map[*conn]struct{} // the connections Shutdown closes
	wg      sync.WaitGroup
	closing bool // under mu: Shutdown began, no connection joins wg any more

	connected prometheus.Gauge
	closed    *prometheus.CounterVec
	sent      prometheus.Counter
}

// NewServer returns the endpoint; reg may be nil.
func NewServer(hub *Hub, a Authenticator, markets Markets, cfg ServerConfig, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if hub == nil || a == nil || markets == nil {
		return nil, errors.New("notification: missing dependency")
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{hub: hub, auth: a, markets: markets, cfg: cfg.withDefaults(), log: log, perUser: map[string]int{}, live: map[*conn]struct{}{}}
	s.connected = prometheus.NewGauge(prometheus.GaugeOpts{Name: "cantondex_stream_connections", Help: "Open WebSocket connections."})
	s.closed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cantondex_stream_closed_total", Help: "WebSocket connections closed by the server, by close code."}, []string{"code"})
	s.sent = prometheus.NewCounter(prometheus.CounterOpts{Name: "cantondex_stream_frames_sent_total", Help: "Frames written to WebSocket clients."})
	if reg != nil {
		for _, c := range []prometheus.Collector{s.connected, s.closed, s.sent} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Shutdown closes every connection with CloseGoingAway and waits for them.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.closing = true
	live := make([]*conn, 0, len(s.live))
	for c := range s.live {
		live = append(live, c)
	}
	s.mu.Unlock()
	for _, c := range live {
		c.closeWith(CloseGoingAway, "server shutting down")
	}
	s.wg.Wait()
}

// join adds a connection to those Shutdown waits for and closes, unless Shutdown began: a
// connection accepted meanwhile is not joined (the caller closes it), so wg.Add never races
// wg.Wait.
func (s *Server) join(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	s.live[c] = struct{}{}
	return true
}

func (s *Server) leave(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, c)
}

// Connections is how many connections are open.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}

// ServeHTTP upgrades a GET of Path to a WebSocket. Credentials in the request (a bearer
// token, or an API key signature over "GET" and the path with its query, empty body) are
// checked before the upgrade and answered with 401 or 403 as the REST API does; a
// connection without any must send an auth message first.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		httpError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET with a WebSocket upgrade")
		return
	}
	if r.URL.Query().Has("token") || r.URL.Query().Has("access_token") {
		httpError(w, http.StatusBadRequest, "invalid", "credentials are never accepted in the URL: use the Authorization header or an auth message")
		return
	}
	var p auth.Principal
	var expires time.Time
	authed := false
	ctx := r.Context()
	switch bearer, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); {
	case isBearer:
		var err error
		if p, expires, err = s.token(ctx, bearer); err != nil {
			s.authError(w, err)
			return
		}
		authed = true
	case r.Header.Get(headerKey) != "":
		var err error
		p, err = s.auth.VerifySigned(ctx, r.Header.Get(headerKey), r.Header.Get(headerTimestamp), r.Header.Get(headerSignature),
			http.MethodGet, r.URL.RequestURI(), nil)
		if err != nil {
			s.authError(w, err)
			return
		}
		authed = true
	}
	if authed && !p.Can(auth.ScopeRead) {
		httpError(w, http.StatusForbidden, "forbidden", "API key lacks the read scope")
		return
	}
	if !s.admit(p.UserID, authed) {
		httpError(w, http.StatusTooManyRequests, "rate_limited", "too many stream connections")
		return
	}
	admitted := true
	defer func() {
		if admitted {
			s.release(p.UserID, authed)
		}
	}()
	// The connection outlives any request timeout of the HTTP server it came through.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		return // Accept answered (403 for a foreign origin, 426/400 for a bad upgrade)
	}
	ws.SetReadLimit(4096)
	// The connection's life is its own: the request's context ends when this handler returns.
	c := newConn(s, ws, context.WithoutCancel(ctx))
	if authed {
		c.setPrincipal(p, expires)
	}
	if !s.join(c) {
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	admitted = false
	s.connected.Inc()
	// The reader runs on a goroutine of its own and the handler returns: the HTTP server's
	// goroutine, its stack and its per-connection state go (the hijacked socket stays).
	go func() {
		defer s.wg.Done()
		defer s.connected.Dec()
		defer s.leave(c)
		c.run()
		c.mu.Lock()
		user := c.p.UserID
		c.mu.Unlock()
		if authed {
			s.release(user, true)
		} else {
			s.release(user, user != "")
		}
	}()
}

// Buffer sizes of a connection's socket. Client messages are small (4 KB at most, most
// under 200 bytes); a frame up to the write buffer goes out in one write.
const (
	readBufferSize  = 512
	writeBufferSize = 2048
)

// smallBuffers hands the WebSocket library, at the hijack, buffers of its own sizes instead
// of the HTTP server's 4 KB pair (which go with the HTTP server's connection state).
type smallBuffers struct{ http.ResponseWriter }

func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the client sent after its request are in the HTTP server's buffer: read first.
	var rd io.Reader = nc
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		rd = io.MultiReader(bytes.NewReader(bytes.Clone(b)), nc)
	}
	return nc, bufio.NewReadWriter(bufio.NewReaderSize(rd, readBufferSize), bufio.NewWriterSize(nc, writeBufferSize)), nil
}

func (s *Server) authError(w http.ResponseWriter, err error) {
	switch trading.ErrorCode(err) {
	case trading.EUNAUTHORIZED:
		httpError(w, http.StatusUnauthorized, "unauthorized", trading.ErrorMessage(err))
	case trading.EFORBIDDEN:
		httpError(w, http.StatusForbidden, "forbidden", trading.ErrorMessage(err))
	default:
		s.log.Error("stream authentication", "err", err)
		httpError(w, http.StatusServiceUnavailable, "unavailable", "authentication unavailable")
	}
}

// token authenticates an access token and reads its expiry (the token is verified first, so
// its claims can be trusted).
func (s *Server) token(ctx context.Context, token string) (auth.Principal, time.Time, error) {
	p, err := s.auth.Authenticate(ctx, token)
	if err != nil {
		return p, time.Time{}, err
	}
	return p, tokenExpiry(token), nil
}

// tokenExpiry reads the exp claim of a verified access token ("at1.<payload>.<mac>").
func tokenExpiry(token string) time.Time {
	rest, _ := strings.CutPrefix(token, "at1.")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(c.Exp, 0)
}

// admit counts a connection against the replica's and (when known) its user's limits.
func (s *Server) admit(user string, known bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns >= s.cfg.MaxConns || (known && s.perUser[user] >= s.cfg.MaxConnsPerUser) {
		return false
	}
	s.conns++
	if known {
		s.perUser[user]++
	}
	return true
}

// claimUser counts an already admitted connection against user's limit (auth by message).
func (s *Server) claimUser(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser[user] >= s.cfg.MaxConnsPerUser {
		return false
	}
	s.perUser[user]++
	return true
}

func (s *Server) release(user string, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns--
	if known {
		if s.perUser[user]--; s.perUser[user] <= 0 {
			delete(s.perUser, user)
		}
	}
}
