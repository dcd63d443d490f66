// Package http is the api-gateway's REST API: Echo routes under /api/v1 over the trading
// services and the auth service. Echo stays inside this package; the rest of the platform
// sees Server, Config and the small interfaces below.
package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/platform/telemetry"
	"github.com/cantondex/platform/services/trading"
)

// Auth is what the API needs of the auth service.
type Auth interface {
	Register(ctx context.Context, email, password string) error
	Login(ctx context.Context, email, password, addr string) (auth.Tokens, error)
	Refresh(ctx context.Context, refreshToken string) (auth.Tokens, error)
	Logout(ctx context.Context, refreshToken string) error
	ChangePassword(ctx context.Context, p auth.Principal, oldPassword, newPassword, addr string) error
	RequestPasswordReset(ctx context.Context, email, addr string) error
	ResetPassword(ctx context.Context, token, newPassword string) error
	Authenticate(ctx context.Context, accessToken string) (auth.Principal, error)
	VerifySigned(ctx context.Context, keyID, timestamp, signature, method, pathAndQuery string, body []byte) (auth.Principal, error)
	CreateAPIKey(ctx context.Context, userID, label string, scopes []auth.Scope) (auth.NewAPIKey, error)
	APIKeys(ctx context.Context, userID, cursor string, limit int) ([]auth.APIKey, string, error)
	RevokeAPIKey(ctx context.Context, userID, id string) error
	// User is the user (trading account) id; trading.ENOTFOUND when there is none.
	User(ctx context.Context, id string) (auth.User, error)
}

// Limiter admits requests per key; a refusal says how long to wait.
type Limiter interface {
	Allow(ctx context.Context, key string) (bool, time.Duration, error)
}

// Deps are the services the API serves.
type Deps struct {
	Auth     Auth
	Orders   trading.OrderService
	Markets  trading.MarketService
	Accounts trading.AccountService
	Risk     trading.RiskAdmin
	// Compliance serves KYC and the compliance API and audits admin actions; nil answers
	// those routes with 503.
	Compliance Compliance
	// Cases serves the officers' cases and reports; nil answers those routes with 503.
	Cases CaseWork
	// RequestLimiter counts every authenticated request, per user and per API key.
	RequestLimiter Limiter
	// AuthLimiter counts register, login and refresh attempts per client address.
	AuthLimiter Limiter
	// PublicLimiter counts unauthenticated reads (market data) per client address.
	PublicLimiter Limiter
	Registry      *prometheus.Registry
	Logger        *slog.Logger
	// Tracing, when on, records a server span per request (nil: off; the W3C trace context
	// of a request, or a fresh trace id, still reaches the logs and the Kafka headers).
	Tracing *telemetry.Tracing
}

// Config tunes the API.
type Config struct {
	BodyLimit   string   // largest request body, in Echo's notation ("64K")
	CORSOrigins []string // origins allowed to call from a browser; none by default
	// TrustedProxies are the networks whose X-Forwarded-For is believed: the client address
	// is the last one in it that is not a trusted proxy. With none, it is the connection's
	// peer and forwarding headers are ignored.
	TrustedProxies []*net.IPNet
	// DepositLimits is the largest deposit of an asset, as a decimal string by asset symbol;
	// DefaultDepositLimit applies to the others.
	DepositLimits       map[string]string
	DefaultDepositLimit string
}

// Server is the REST API.
type Server struct {
	echo   *echo.Echo
	deps   Deps
	cfg    Config
	log    *slog.Logger
	refs   *refCache
	routed map[string]bool // "/api/v1/..." patterns of the route table: the metric's route labels

	tracer       trace.Tracer
	requests     *prometheus.HistogramVec
	rateLimited  *prometheus.CounterVec
	authFailures *prometheus.CounterVec
}

// New builds the API's handler.
func New(deps Deps, cfg Config) (*Server, error) {
	if deps.Auth == nil || deps.Orders == nil || deps.Markets == nil || deps.Accounts == nil || deps.Risk == nil ||
		deps.RequestLimiter == nil || deps.AuthLimiter == nil || deps.PublicLimiter == nil {
		return nil, errors.New("http: missing dependency")
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "64K"
	}
	if cfg.DefaultDepositLimit == "" {
		cfg.DefaultDepositLimit = DefaultDepositLimit
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if _, ok := deps.Logger.Handler().(telemetry.Handler); !ok {
		deps.Logger = slog.New(telemetry.NewHandler(deps.Logger.Handler())) // the context's ids on every line
	}
	s := &Server{echo: echo.New(), deps: deps, cfg: cfg, log: deps.Logger, refs: newRefCache(),
		tracer: deps.Tracing.Tracer("github.com/cantondex/platform/services/gateway/http")}
	s.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cantondex_http_request_duration_seconds",
		Help:    "REST API requests by route, method and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route", "method", "status"})
	s.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cantondex_http_rate_limited_total",
		Help: "REST API requests refused by a rate limit (429), by route.",
	}, []string{"route"})
	s.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cantondex_http_auth_failures_total",
		Help: "REST API requests refused for authentication (401 unauthorized) or authorisation (403 forbidden).",
	}, []string{"reason"})
	for _, c := range []prometheus.Collector{s.requests, s.rateLimited, s.authFailures} {
		if err := deps.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	s.authFailures.WithLabelValues("unauthorized")
	s.authFailures.WithLabelValues("forbidden")

	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	chain := []echo.MiddlewareFunc{s.requestIDs, s.observe, s.recoverPanic, securityHeaders, textOnly}
	if len(cfg.CORSOrigins) > 0 {
		chain = append(chain, middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: cfg.CORSOrigins,
			AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodDelete},
			AllowHeaders: []string{"Authorization", "Content-Type", headerKey, headerTimestamp, headerSignature},
		}))
	}
	chain = append(chain, middleware.BodyLimit(cfg.BodyLimit))
	// The chain is built once, around whichever handler the router chose for the request
	// (c.Handler(): a route's, or the not-found one), not per request as Echo builds what Use
	// is given (one closure per middleware per request). It must stay the only Use.
	var front echo.HandlerFunc = func(c echo.Context) error { return c.Handler()(c) }
	for i := len(chain) - 1; i >= 0; i-- {
		front = chain[i](front)
	}
	e.Use(func(echo.HandlerFunc) echo.HandlerFunc { return front })
	s.routed = map[string]bool{}
	for _, r := range s.routes(deps.Registry) {
		s.routed["/api/v1"+r.path] = true
		s.rateLimited.WithLabelValues("/api/v1" + r.path) // every route's series starts at zero
	}
	s.register(e.Group("/api/v1"), deps.Registry)
	return s, nil
}

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve serves on l until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-done
	return nil
}

// access says who may call a route.
type access int

const (
	public  access = iota
	read           // a session, or an API key with the read scope
	trade          // a session, or an API key with the trade scope
	session        // a session only (an access token, not an API key)
	admin          // an admin's session
	officer        // a compliance officer's or an admin's session
)

type route struct {
	method, path string
	access       access
	handler      echo.HandlerFunc
}

func (s *Server) routes(reg *prometheus.Registry) []route {
	// Health, readiness and metrics are served on the operations listener, not here.
	return []route{
		{"GET", "/openapi.json", public, serveOpenAPI},
		{"GET", "/asyncapi.json", public, serveAsyncAPI},

		{"POST", "/auth/register", public, s.registerUser},
		{"POST", "/auth/login", public, s.login},
		{"POST", "/auth/refresh", public, s.refresh},
		{"POST", "/auth/logout", public, s.logout},
		{"POST", "/auth/password", session, s.changePassword},
		{"POST", "/auth/password-reset", public, s.requestPasswordReset},
		{"POST", "/auth/password-reset/confirm", public, s.confirmPasswordReset},

		{"POST", "/api-keys", session, s.createAPIKey},
		{"GET", "/api-keys", session, s.listAPIKeys},
		{"DELETE", "/api-keys/:id", session, s.revokeAPIKey},

		{"GET", "/markets", public, s.listMarkets},
		{"GET", "/markets/:market", public, s.getMarket},
		{"GET", "/markets/:market/book", public, s.book},
		{"GET", "/markets/:market/trades", public, s.marketTrades},
		{"GET", "/markets/:market/ticker", public, s.ticker},

		{"POST", "/orders", trade, s.placeOrder},
		{"GET", "/orders", read, s.listOrders},
		{"DELETE", "/orders", trade, s.cancelAll},
		{"GET", "/orders/:id", read, s.getOrder},
		{"DELETE", "/orders/:id", trade, s.cancelOrder},

		{"GET", "/balances", read, s.balances},
		{"GET", "/trades", read, s.fills},
		{"GET", "/portfolio", read, s.portfolio},

		{"POST", "/admin/deposits", admin, s.deposit},
		{"POST", "/admin/withdrawals", admin, s.withdraw},
		{"POST", "/admin/markets", admin, s.createMarket},
		{"POST", "/admin/markets/:market/halt", admin, s.haltMarket},
		{"POST", "/admin/markets/:market/kill-switch", admin, s.killMarket},
		{"POST", "/admin/accounts/:account/kill-switch", admin, s.killAccount},

		{"POST", "/kyc", session, s.submitKYC},
		{"GET", "/kyc", read, s.getKYC},
		{"GET", "/compliance/kyc", officer, s.listKYC},
		{"GET", "/compliance/kyc/:account", officer, s.accountKYC},
		{"POST", "/compliance/kyc/:account/review", officer, s.decideKYC("review")},
		{"POST", "/compliance/kyc/:account/approve", officer, s.decideKYC("approve")},
		{"POST", "/compliance/kyc/:account/reject", officer, s.decideKYC("reject")},
		{"GET", "/compliance/audit", officer, s.auditTrail},
		{"GET", "/compliance/cases", officer, s.listCases},
		{"GET", "/compliance/cases/:id", officer, s.getCase},
		{"POST", "/compliance/cases/:id/assign", officer, s.actOnCase("assign")},
		{"POST", "/compliance/cases/:id/dismiss", officer, s.actOnCase("dismiss")},
		{"POST", "/compliance/cases/:id/escalate", officer, s.actOnCase("escalate")},
		{"POST", "/compliance/cases/:id/report", officer, s.actOnCase("report")},
		{"GET", "/compliance/cases/:id/report", officer, s.caseReport},
	}
}

func (s *Server) register(g *echo.Group, reg *prometheus.Registry) {
	for _, r := range s.routes(reg) {
		h := r.handler
		if r.access == admin {
			h = s.audited(r.path, h)
		}
		switch {
		case r.access != public:
			h = s.authenticate(r.access, h)
		case r.method == http.MethodPost:
			h = s.limitByAddress(s.deps.AuthLimiter, h)
		default:
			h = s.limitByAddress(s.deps.PublicLimiter, h)
		}
		g.Add(r.method, r.path, h)
	}
}

// observe records each request's duration. Every label comes from a closed set, so no client
// can create series: the route is a pattern of the route table (or "unmatched"), the method
// one of the methods HTTP defines (or "OTHER"), the status the class of the one the server
// chose ("2xx" ... "5xx"). Refusals by a rate limit and for authentication are counted too.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if !s.routed[route] {
			route = "unmatched"
		}
		status := c.Response().Status
		s.requests.WithLabelValues(route, methodLabel(c.Request().Method), statusClass(status)).Observe(time.Since(start).Seconds())
		switch status {
		case http.StatusTooManyRequests:
			s.rateLimited.WithLabelValues(route).Inc()
		case http.StatusUnauthorized:
			s.authFailures.WithLabelValues("unauthorized").Inc()
		case http.StatusForbidden:
			s.authFailures.WithLabelValues("forbidden").Inc()
		}
		return nil
	}
}

// statusClass is a status code's class label: "2xx", "4xx", ...
func statusClass(code int) string {
	switch code / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	}
	return "other"
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// ipExtractor is where a request's client address comes from: the peer, or behind trusted
// proxies the forwarding header's last untrusted address. Only the networks listed are
// trusted (not Echo's default of loopback and private ranges).
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// requestIDRE is a well-formed request id: a client's X-Request-Id is kept only when it
// matches; otherwise the request gets a fresh one.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,64}$`)

// requestIDs gives each request its id (the client's X-Request-Id when well formed, else a
// fresh one, echoed in the response) and its trace: the W3C traceparent of the request when
// it has a valid one, else a new trace (with tracing off, one whose id is the fresh request
// id's bytes), and with tracing on a server span named by the route. Both ids go into the
// request's context, which handlers and services log with, so every line carries them.
func (s *Server) requestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(echo.HeaderXRequestID)
		var seed []byte
		if !requestIDRE.MatchString(id) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id, seed = hex.EncodeToString(b[:]), b[:]
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		ctx := telemetry.WithRequestID(req.Context(), id)
		if req.Header.Get("Traceparent") != "" {
			ctx = telemetry.Extract(ctx, propagation.HeaderCarrier(req.Header))
		}
		on := s.deps.Tracing.On()
		ctx = telemetry.EnsureTrace(ctx, seed, on)
		if !on {
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
		route := c.Path()
		if !s.routed[route] {
			route = "unmatched"
		}
		ctx, span := s.tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", methodLabel(req.Method)), attribute.String("http.route", route)))
		defer span.End()
		c.SetRequest(req.WithContext(ctx))
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return nil
	}
}

// textOnly refuses a request whose path or query holds invalid UTF-8 or control characters,
// before any of it reaches a handler or a store.
func textOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := c.Request().URL
		if u.RawQuery == "" {
			if !validText(u.Path) {
				return trading.Errorf(trading.EINVALID, "the path or query is not valid text")
			}
			return next(c)
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil || !validText(u.Path) {
			return trading.Errorf(trading.EINVALID, "the path or query is not valid text")
		}
		for k, vs := range q {
			if !validText(k) {
				return trading.Errorf(trading.EINVALID, "the query is not valid text")
			}
			for _, v := range vs {
				if !validText(v) {
					return trading.Errorf(trading.EINVALID, "query parameter %s is not valid text", strconv.Quote(k))
				}
			}
		}
		return next(c)
	}
}

func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = errors.New("panic")
			}
		}()
		return next(c)
	}
}

// securityHeader are the headers every answer carries, with their values as Header holds
// them (canonical names, one-value slices of full capacity, so an Add copies), shared by
// every response instead of allocated per response.
var securityHeader = func() http.Header {
	h := http.Header{}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	for k, v := range h {
		h[k] = v[:1:1]
	}
	return h
}()

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		for k, v := range securityHeader {
			h[k] = v
		}
		return next(c)
	}
}

// Routes lists the API's routes as "METHOD /path" with Echo's :param notation, for the
// OpenAPI conformance test.
func Routes() []string {
	var out []string
	for _, r := range (&Server{}).routes(prometheus.NewRegistry()) {
		out = append(out, r.method+" "+r.path)
	}
	return out
}
