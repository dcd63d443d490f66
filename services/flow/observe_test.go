package flow_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/exchange"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/matchingsvc"
	"github.com/cantondex/platform/services/memory"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/platform/telemetry"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/risk"
	"github.com/cantondex/platform/services/settlement"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// syncBuffer is a log sink written by many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// stack is the whole platform in one process, as cmd/cantondex runs it: the gateway over
// order entry and the engine, settlement and risk consuming over a Kafka-protocol broker,
// every part logging to one JSON sink.
type stack struct {
	api      string
	ex       *exchange.Service
	logs     *syncBuffer
	settled  chan trading.Settlement // what the risk consumer sees
	tokenKey string
	sealKey  string
}

func newStack(t *testing.T, tr *telemetry.Tracing) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{logs: &syncBuffer{}, settled: make(chan trading.Settlement, 100),
		tokenKey: base64.StdEncoding.EncodeToString(random(32)), sealKey: base64.StdEncoding.EncodeToString(random(32))}
	log := platform.NewLoggerTo(s.logs, platform.Config{Service: "cantondex", LogFormat: "json", LogLevel: slog.LevelDebug})

	broker, err := kafka.StartEmbedded("")
	require.NoError(t, err)
	require.NoError(t, kafka.EnsureTopics(ctx, broker.Cluster(), topics.All()))
	rdb, err := redis.OpenEmbedded("obs")
	require.NoError(t, err)
	store := memory.New()

	var runs []func(context.Context) error
	var closers []func() error
	kafkaFor := func(name string) (*flow.Kafka, *flow.Producer) {
		k := flow.NewKafka(catalog.MustLookup(name), broker.Cluster(), "", nil, log.With("component", name))
		k.Tracing = tr
		p, err := k.StartProducer()
		require.NoError(t, err)
		closers = append(closers, p.Close)
		return k, p
	}
	_, entry := kafkaFor(catalog.APIGateway)
	s.ex = exchange.New(store, entry, rdb.Books(), risk.DefaultLimits(), log)
	require.NoError(t, flow.SeedDemo(ctx, s.ex))

	k, p := kafkaFor(catalog.MatchingEngine)
	m := &matchingsvc.Service{Store: store, Publisher: p, Depth: rdb.Books(), Log: k.Log}
	mg, err := flow.MatchingGroup(k, m)
	require.NoError(t, err)
	k, p = kafkaFor(catalog.SettlementCoordinator)
	sg, err := flow.SettlementGroup(k, &settlement.Service{Store: store, Publisher: p, Log: k.Log})
	require.NoError(t, err)
	k, p = kafkaFor(catalog.RiskManagement)
	rm := &risk.Monitor{Store: store, Publisher: p, Limits: risk.DefaultLimits(), Log: k.Log}
	rg, err := flow.RiskGroup(k, rm)
	require.NoError(t, err)
	inner := rg.Handle
	rg.Handle = func(ctx context.Context, msgs []kafka.Message) error {
		for _, msg := range msgs {
			if st, err := kafka.DecodeSettlement(msg); err == nil {
				select {
				case s.settled <- st:
				default:
				}
			}
		}
		return inner(ctx, msgs)
	}
	runs = append(runs, m.Run, mg.Run, sg.Run, rg.Run)

	gc, err := gateway.ConfigFromEnv(env(map[string]string{"HTTP_ADDR": "127.0.0.1:0", "AUTH_TOKEN_KEY": s.tokenKey, "AUTH_SEAL_KEY": s.sealKey}))
	require.NoError(t, err)
	g, err := gateway.New(ctx, gc, gateway.Backend{Orders: s.ex, Markets: s.ex, Accounts: s.ex, Risk: s.ex, Redis: rdb, Tracing: tr}, nil, log)
	require.NoError(t, err)
	s.api = g.URL()
	runs = append(runs, g.Serve)

	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		g.Close()
		for _, c := range closers {
			_ = c()
		}
		rdb.Close()
		broker.Close()
	})
	return s
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// exchange is one request and its answer.
type exchangeRec struct {
	route  string
	status int
	reqID  string
	body   string
}

type client struct {
	t    *testing.T
	s    *stack
	seen []exchangeRec
}

func (c *client) call(method, path string, hdr map[string]string, in any) exchangeRec {
	c.t.Helper()
	var body []byte
	switch v := in.(type) {
	case nil:
	case []byte:
		body = v
	default:
		var err error
		body, err = json.Marshal(v)
		require.NoError(c.t, err)
	}
	req, err := http.NewRequest(method, c.s.api+path, bytes.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := exchangeRec{route: method + " " + path, status: resp.StatusCode, reqID: resp.Header.Get("X-Request-Id"), body: string(raw)}
	c.seen = append(c.seen, r)
	return r
}

func (c *client) field(r exchangeRec, name string) string {
	c.t.Helper()
	var m map[string]any
	require.NoError(c.t, json.Unmarshal([]byte(r.body), &m), "%s: %s", r.route, r.body)
	v, _ := m[name].(string)
	require.NotEmpty(c.t, v, "%s: no %s in %s", r.route, name, r.body)
	return v
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// user registers and logs in; it returns the login's answer.
func (c *client) user(email, password string) exchangeRec {
	creds := map[string]string{"email": email, "password": password}
	require.Equal(c.t, http.StatusAccepted, c.call("POST", "/auth/register", nil, creds).status)
	r := c.call("POST", "/auth/login", nil, creds)
	require.Equal(c.t, http.StatusOK, r.status, r.body)
	return r
}

func (c *client) deposit(account string) {
	ctx := context.Background()
	require.NoError(c.t, c.s.ex.Deposit(ctx, "dep-usd-"+account, account, "USD", 1_000_000*1_000_000))
	require.NoError(c.t, c.s.ex.Deposit(ctx, "dep-btc-"+account, account, "BTC", 10*100_000_000))
}

func order(side string) map[string]any {
	return map[string]any{"market": "BTC-USD", "side": side, "type": "limit", "price": "100.00", "quantity": "0.0100"}
}

func (c *client) waitSettlement(t *testing.T) trading.Settlement {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case st := <-c.s.settled:
			if len(st.Trades) > 0 {
				return st
			}
		case <-timeout:
			t.Fatal("no settlement with a trade reached the risk consumer")
		}
	}
}

// One order's path is one trace: the gateway's server span for POST /orders, the engine's
// span for its command (orders), settlement's for the execution (trades) and risk's for the
// settlement (settlements), each the child of the one before, over a real Kafka protocol.
func TestOneTraceFromTheAPIToSettlement(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s := newStack(t, &telemetry.Tracing{Provider: tp, Enabled: true})
	c := &client{t: t, s: s}

	maker := c.field(c.user("maker@traders.test", "Maker-Password-1"), "access_token")
	makerID := c.field(c.seen[len(c.seen)-1], "user_id")
	taker := c.field(c.user("taker@traders.test", "Taker-Password-1"), "access_token")
	takerID := c.field(c.seen[len(c.seen)-1], "user_id")
	c.deposit(makerID)
	c.deposit(takerID)
	r := c.call("POST", "/orders", bearer(maker), order("sell"))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	// The client's own trace context is continued.
	r = c.call("POST", "/orders", map[string]string{"Authorization": "Bearer " + taker,
		"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, order("buy"))
	require.Equal(t, http.StatusCreated, r.status, r.body)

	st := c.waitSettlement(t)
	want := "4bf92f3577b34da6a3ce929d0e0e4736"
	require.Contains(t, st.Trace, want, "the settlement record's header carries the taker request's trace")

	// Spans end after their batch: wait for risk's.
	byName := map[string]sdktrace.ReadOnlySpan{}
	require.Eventually(t, func() bool {
		for _, sp := range rec.Ended() {
			if sp.SpanContext().TraceID().String() == want {
				byName[sp.Name()] = sp
			}
		}
		return len(byName) == 4
	}, 30*time.Second, 20*time.Millisecond)
	gw, engine, settle, riskSpan := byName["POST /api/v1/orders"], byName["orders process"], byName["trades process"], byName["settlements process"]
	require.NotNil(t, gw, "gateway span")
	require.NotNil(t, engine, "engine span")
	require.NotNil(t, settle, "settlement span")
	assert.Equal(t, trace.SpanKindServer, gw.SpanKind())
	assert.Equal(t, "00f067aa0ba902b7", gw.Parent().SpanID().String(), "the gateway continues the client's span")
	assert.Equal(t, gw.SpanContext().SpanID(), engine.Parent().SpanID(), "engine under the gateway")
	assert.Equal(t, engine.SpanContext().SpanID(), settle.Parent().SpanID(), "settlement under the engine")
	assert.Equal(t, settle.SpanContext().SpanID(), riskSpan.Parent().SpanID(), "risk under settlement")
	assert.Equal(t, trace.SpanKindConsumer, settle.SpanKind())

	// The maker's order is a trace of its own.
	var makerTraces int
	for _, sp := range rec.Ended() {
		if sp.Name() == "POST /api/v1/orders" && sp.SpanContext().TraceID().String() != want {
			makerTraces++
		}
	}
	assert.Equal(t, 1, makerTraces)
}

// With tracing off the trace context still flows: a request without one gets a trace id,
// every line logged while it is handled carries it and the request id, and the records its
// order causes carry it on to settlement.
func TestTraceIDsWithTracingOff(t *testing.T) {
	s := newStack(t, nil)
	c := &client{t: t, s: s}
	maker := c.field(c.user("m2@traders.test", "Maker-Password-2"), "access_token")
	makerID := c.field(c.seen[len(c.seen)-1], "user_id")
	taker := c.field(c.user("t2@traders.test", "Taker-Password-2"), "access_token")
	takerID := c.field(c.seen[len(c.seen)-1], "user_id")
	c.deposit(makerID)
	c.deposit(takerID)
	require.Equal(t, http.StatusCreated, c.call("POST", "/orders", bearer(maker), order("sell")).status)
	r := c.call("POST", "/orders", bearer(taker), order("buy"))
	require.Equal(t, http.StatusCreated, r.status)
	require.Len(t, r.reqID, 32)
	st := c.waitSettlement(t)
	assert.Contains(t, st.Trace, "00-"+r.reqID+"-", "a fresh request's trace id is its request id's, carried to settlement")

	// A line logged inside a request (the reset mailer's) carries both ids.
	reset := c.call("POST", "/auth/password-reset", nil, map[string]string{"email": "m2@traders.test"})
	require.Equal(t, http.StatusAccepted, reset.status, reset.body)
	var found bool
	for _, l := range s.logs.lines() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &rec), "every line is JSON: %s", l)
		if rec["request_id"] == reset.reqID {
			found = true
			assert.Equal(t, reset.reqID, rec["trace_id"], "line %s", l)
		}
	}
	assert.True(t, found, "no line of the reset request carries its request id")
}

// No secret reaches a log line or a response body, except the bodies whose purpose is to hand
// one out (the tokens of a login or refresh, an API key's secret at its creation).
func TestNoSecretInLogsOrErrorBodies(t *testing.T) {
	s := newStack(t, nil)
	c := &client{t: t, s: s}
	secrets := map[string]string{"AUTH_TOKEN_KEY": s.tokenKey, "AUTH_SEAL_KEY": s.sealKey}
	mayHold := map[int][]string{} // index in c.seen -> names of the secrets it hands out
	issued := func(names ...string) { mayHold[len(c.seen)-1] = names }

	// Start-up failures of the data tier, as main logs them, name no credential.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	secrets["db password"] = "Db-Pass-" + base64.RawURLEncoding.EncodeToString(random(9))
	secrets["redis auth token"] = "Redis-Token-" + base64.RawURLEncoding.EncodeToString(random(9))
	log := platform.NewLoggerTo(s.logs, platform.Config{Service: "cantondex", LogFormat: "json"})
	cfg, err := platform.LoadLocalConfig("cantondex", env(map[string]string{
		"DATABASE_URL":     "postgres://cdx_app:" + secrets["db password"] + "@127.0.0.1:1/cantondex?connect_timeout=1",
		"REDIS_URL":        "redis://127.0.0.1:1/0",
		"REDIS_AUTH_TOKEN": secrets["redis auth token"],
	}))
	require.NoError(t, err)
	_, err = postgres.Open(ctx, cfg.Postgres)
	require.Error(t, err)
	log.ErrorContext(ctx, "start", "err", err)
	_, err = redis.Open(ctx, cfg.Redis)
	require.Error(t, err)
	log.ErrorContext(ctx, "start", "err", err)

	secrets["password"] = "Alice-Password-" + base64.RawURLEncoding.EncodeToString(random(6))
	secrets["wrong password"] = "Wrong-Password-" + base64.RawURLEncoding.EncodeToString(random(6))
	secrets["new password"] = "Alice-New-Password-" + base64.RawURLEncoding.EncodeToString(random(6))
	email := "alice@traders.test"
	require.Equal(t, http.StatusAccepted, c.call("POST", "/auth/register", nil, map[string]string{"email": email, "password": secrets["password"]}).status)
	// Registering again (taken) and a weak or malformed attempt.
	c.call("POST", "/auth/register", nil, map[string]string{"email": email, "password": secrets["password"]})
	c.call("POST", "/auth/register", nil, []byte(`{"email":"x@traders.test","password":"`+secrets["wrong password"]+`","extra":1}`))
	r := c.call("POST", "/auth/login", nil, map[string]string{"email": email, "password": secrets["wrong password"]})
	require.Equal(t, http.StatusUnauthorized, r.status, r.body)
	c.call("POST", "/auth/login", nil, []byte(`{"email":"`+email+`","password":"`+secrets["wrong password"]+`"`)) // broken JSON
	r = c.call("POST", "/auth/login", nil, map[string]string{"email": email, "password": secrets["password"]})
	require.Equal(t, http.StatusOK, r.status, r.body)
	secrets["access token"], secrets["refresh token"] = c.field(r, "access_token"), c.field(r, "refresh_token")
	issued("access token", "refresh token")
	account := c.field(r, "user_id")
	c.deposit(account)

	r = c.call("POST", "/api-keys", bearer(secrets["access token"]), map[string]any{"label": "bot", "scopes": []string{"read", "trade"}})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	keyID, secret := c.field(r, "id"), c.field(r, "secret")
	secrets["api secret"] = secret
	issued("api secret")
	c.call("GET", "/api-keys", bearer(secrets["access token"]), nil)

	signed := func(method, path string, body []byte) exchangeRec {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		return c.call(method, path, map[string]string{"X-CDX-Key": keyID, "X-CDX-Timestamp": ts,
			"X-CDX-Signature": auth.Sign(secret, ts, method, "/api/v1"+path, body)}, body)
	}
	require.Equal(t, http.StatusOK, signed("GET", "/balances", nil).status)
	ob, _ := json.Marshal(order("sell"))
	r = signed("POST", "/orders", ob)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	// A replayed signature, a signature by the wrong secret and a tampered token.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := auth.Sign(secret, ts, "GET", "/api/v1/balances", nil)
	for range 2 {
		c.call("GET", "/balances", map[string]string{"X-CDX-Key": keyID, "X-CDX-Timestamp": ts, "X-CDX-Signature": sig}, nil)
	}
	c.call("GET", "/balances", map[string]string{"X-CDX-Key": keyID, "X-CDX-Timestamp": ts,
		"X-CDX-Signature": auth.Sign(secrets["wrong password"], ts, "GET", "/api/v1/balances", nil)}, nil)
	c.call("GET", "/balances", bearer(secrets["access token"]+"x"), nil)
	c.call("POST", "/orders", bearer(secrets["access token"]), []byte(`{"market":"BTC-USD","side":"sell","type":"limit","price":"`+secret+`","quantity":"1"}`))

	r = c.call("POST", "/auth/refresh", nil, map[string]string{"refresh_token": secrets["refresh token"]})
	require.Equal(t, http.StatusOK, r.status, r.body)
	secrets["access token 2"], secrets["refresh token 2"] = c.field(r, "access_token"), c.field(r, "refresh_token")
	issued("access token 2", "refresh token 2")
	c.call("POST", "/auth/password", bearer(secrets["access token 2"]), map[string]string{"current_password": secrets["wrong password"], "new_password": secrets["new password"]})
	r = c.call("POST", "/auth/password", bearer(secrets["access token 2"]), map[string]string{"current_password": secrets["password"], "new_password": secrets["new password"]})
	require.Less(t, r.status, 300, r.body)
	r = c.call("POST", "/auth/refresh", nil, map[string]string{"refresh_token": secrets["refresh token"]}) // reused
	require.Equal(t, http.StatusUnauthorized, r.status, r.body)
	require.Equal(t, http.StatusAccepted, c.call("POST", "/auth/password-reset", nil, map[string]string{"email": email}).status)
	c.call("POST", "/auth/password-reset/confirm", nil, map[string]string{"token": secrets["refresh token 2"], "new_password": secrets["password"]})
	c.call("POST", "/auth/logout", nil, map[string]string{"refresh_token": secrets["refresh token 2"]})

	// The flow runs: a crossing order settles (its consumers log with the same sink).
	bob := c.user("bob@traders.test", "Bob-Password-"+base64.RawURLEncoding.EncodeToString(random(6)))
	secrets["bob access token"], secrets["bob refresh token"] = c.field(bob, "access_token"), c.field(bob, "refresh_token")
	issued("bob access token", "bob refresh token")
	c.deposit(c.field(bob, "user_id"))
	require.Equal(t, http.StatusCreated, c.call("POST", "/orders", bearer(secrets["bob access token"]), order("buy")).status)
	c.waitSettlement(t)

	lines := s.logs.lines()
	require.Greater(t, len(lines), 5)
	for _, l := range lines {
		for name, v := range secrets {
			assert.NotContains(t, l, v, "the %s in a log line", name)
		}
	}
	for i, r := range c.seen {
		allowed := map[string]bool{} // values: a refresh in the same second reissues the same access token
		for _, n := range mayHold[i] {
			allowed[secrets[n]] = true
		}
		for name, v := range secrets {
			if !allowed[v] {
				assert.NotContains(t, r.body, v, "the %s in the answer to %s (%d)", name, r.route, r.status)
			}
		}
	}
}
