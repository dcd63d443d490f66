package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/auth/memory"
	"github.com/cantondex/platform/services/gateway"
	gwhttp "github.com/cantondex/platform/services/gateway/http"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/trading"
	"github.com/cantondex/platform/services/trading/tradingtest"
)

type env struct {
	t      testing.TB
	srv    *httptest.Server
	auth   *auth.Service
	venue  *tradingtest.Venue
	admin  string // admin access token
	orders trading.OrderService
	redis  *redis.Client
	api    *gwhttp.Server
}

type option func(*gwhttp.Deps)

func newEnv(t testing.TB, perMinute int, opts ...option) *env {
	t.Helper()
	return newEnvConfig(t, perMinute, gwhttp.Config{BodyLimit: "4K"}, opts...)
}

func newEnvConfig(t testing.TB, perMinute int, cfg gwhttp.Config, opts ...option) *env {
	t.Helper()
	ctx := context.Background()
	rc, err := redis.OpenEmbedded("test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })
	a, err := auth.NewService(memory.NewStore(), gateway.Nonces{Store: rc.NewIdempotencyStore(time.Minute)}, auth.Config{
		TokenKey: bytes.Repeat([]byte("t"), 32), SealKey: bytes.Repeat([]byte("s"), 32),
		Hash: auth.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}, Mailer: testMailer,
	})
	require.NoError(t, err)
	v := tradingtest.NewVenue(nil)
	_, err = v.CreateMarket(ctx, tradingtest.DemoMarket())
	require.NoError(t, err)
	deps := gwhttp.Deps{
		Auth: a, Orders: v, Markets: v, Accounts: v, Risk: v,
		RequestLimiter: rc.NewBudgetLimiter(perMinute, time.Minute), // as the gateway wires it
		AuthLimiter:    rc.NewLimiter(1000, time.Minute),
		PublicLimiter:  rc.NewBudgetLimiter(1000, time.Minute),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&deps)
	}
	s, err := gwhttp.New(deps, cfg)
	require.NoError(t, err)
	e := &env{t: t, srv: httptest.NewServer(s.Handler()), auth: a, venue: v, orders: deps.Orders, redis: rc, api: s}
	t.Cleanup(e.srv.Close)
	_, err = a.CreateUser(ctx, "admin@example.com", "admin password 1", auth.RoleAdmin)
	require.NoError(t, err)
	tok, err := a.Login(ctx, "admin@example.com", "admin password 1", "192.0.2.1")
	require.NoError(t, err)
	e.admin = tok.AccessToken
	return e
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, _ := strconv.Atoi(p)
			if i >= len(x) {
				return ""
			}
			v = x[i]
		default:
			return ""
		}
	}
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

var leak = regexp.MustCompile(`(?i)goroutine|panic|\.go:\d+|select |insert |pgx|sql|redis`)

// do sends a request; hdr is alternating header names and values. Every error reply is
// checked for the error shape and for leaks.
func (e *env) do(method, path, token, body string, hdr ...string) reply {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err, "%s %s", method, path)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	if res.StatusCode >= 400 {
		require.NotEmpty(e.t, r.str("error", "code"), "%s %s: error reply without error.code: %d %s", method, path, res.StatusCode, raw)
		require.NotEmpty(e.t, r.str("error", "message"), "%s %s: error reply without error.message: %d %s", method, path, res.StatusCode, raw)
		require.Len(e.t, r.body, 1, "%s %s: error reply with more than the error object: %d %s", method, path, res.StatusCode, raw)
		require.NotRegexp(e.t, leak, string(raw), "%s %s: error reply leaks internals", method, path)
	}
	return r
}

func (e *env) want(r reply, status int, code string) {
	e.t.Helper()
	require.Equal(e.t, status, r.status, "status: %s", r.raw)
	if code != "" {
		require.Equal(e.t, code, r.str("error", "code"), "error code: %s", r.raw)
	}
}

// trader registers and logs in a trader, returning their id and access token.
func (e *env) trader(email string) (string, string) {
	e.t.Helper()
	creds := `{"email":"` + email + `","password":"trader password 1"}`
	r := e.do("POST", "/api/v1/auth/register", "", creds)
	e.want(r, 202, "")
	r = e.do("POST", "/api/v1/auth/login", "", creds)
	e.want(r, 200, "")
	return r.str("user_id"), r.str("access_token")
}

func (e *env) deposit(id, account, asset, amount string) {
	e.t.Helper()
	r := e.do("POST", "/api/v1/admin/deposits", e.admin, `{"id":"`+id+`","account":"`+account+`","asset":"`+asset+`","amount":"`+amount+`"}`)
	e.want(r, 201, "")
}

func (e *env) balances(token string) map[string][3]string {
	e.t.Helper()
	r := e.do("GET", "/api/v1/balances", token, "")
	e.want(r, 200, "")
	out := map[string][3]string{}
	for _, it := range r.body["items"].([]any) {
		b := it.(map[string]any)
		out[b["asset"].(string)] = [3]string{b["total"].(string), b["held"].(string), b["available"].(string)}
	}
	return out
}

func TestRoutesMatchOpenAPI(t *testing.T) {
	e := newEnv(t, 1000)
	r := e.do("GET", "/api/v1/openapi.json", "", "")
	e.want(r, 200, "")
	require.Equal(t, "3.1.0", r.body["openapi"], "openapi version")
	var documented []string
	for path, ops := range r.body["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			documented = append(documented, strings.ToUpper(method)+" "+regexp.MustCompile(`\{(\w+)\}`).ReplaceAllString(path, ":$1"))
		}
	}
	served := gwhttp.Routes()
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, documented, served, "documented routes against served routes")
}

func TestTradingFlow(t *testing.T) {
	e := newEnv(t, 1000)
	alice, at := e.trader("alice@example.com")
	bob, bt := e.trader("bob@example.com")
	e.deposit("dep-1", alice, "USD", "10000")
	e.deposit("dep-1", alice, "USD", "10000") // idempotent
	e.deposit("dep-2", bob, "BTC", "2")

	sell := e.do("POST", "/api/v1/orders", bt, `{"market":"BTC-USD","side":"sell","type":"limit","price":"25000.00","quantity":"0.5"}`)
	e.want(sell, 201, "")
	require.Equal(t, "open", sell.str("status"), "sell %s", sell.raw)
	require.Equal(t, "25000.00", sell.str("price"), "sell %s", sell.raw)
	require.Equal(t, "0.5000", sell.str("quantity"), "sell %s", sell.raw)
	book := e.do("GET", "/api/v1/markets/BTC-USD/book?depth=5", "", "")
	require.Equal(t, "25000.00", book.str("asks", "0", "price"), "book %s", book.raw)
	require.Equal(t, "0.5000", book.str("asks", "0", "quantity"), "book %s", book.raw)
	buyBody := `{"market":"BTC-USD","side":"buy","type":"limit","price":"25100","quantity":"0.2","client_order_id":"a-1"}`
	buy := e.do("POST", "/api/v1/orders", at, buyBody)
	e.want(buy, 201, "")
	require.Equal(t, "filled", buy.str("status"), "buy %s", buy.raw)
	require.Equal(t, "0.2000", buy.str("filled_quantity"), "buy %s", buy.raw)
	require.Equal(t, "a-1", buy.str("client_order_id"), "buy %s", buy.raw)
	again := e.do("POST", "/api/v1/orders", at, buyBody)
	require.Equal(t, buy.str("id"), again.str("id"), "repeated client_order_id placed a second order: %s", again.raw)
	// 0.2 BTC at 25000.00 = 5000 USD.
	ab := e.balances(at)
	require.Equal(t, [3]string{"5000.000000", "0.000000", "5000.000000"}, ab["USD"], "alice USD")
	require.Equal(t, "0.20000000", ab["BTC"][0], "alice BTC total")
	bb := e.balances(bt)
	require.Equal(t, "5000.000000", bb["USD"][0], "bob USD total")
	require.Equal(t, [3]string{"1.80000000", "0.30000000", "1.50000000"}, bb["BTC"], "bob BTC")
	fills := e.do("GET", "/api/v1/trades", bt, "")
	require.Equal(t, "maker", fills.str("items", "0", "liquidity"), "bob fills %s", fills.raw)
	require.Equal(t, "sell", fills.str("items", "0", "side"), "bob fills %s", fills.raw)
	require.Equal(t, sell.str("id"), fills.str("items", "0", "order_id"), "bob fills %s", fills.raw)
	// Horizontal access: alice cannot see or cancel bob's order.
	e.want(e.do("GET", "/api/v1/orders/"+sell.str("id"), at, ""), 404, "not_found")
	e.want(e.do("DELETE", "/api/v1/orders/"+sell.str("id"), at, ""), 404, "not_found")
	got := e.do("GET", "/api/v1/orders/"+sell.str("id"), bt, "")
	require.Equal(t, "partially_filled", got.str("status"), "sell after fill %s", got.raw)
	require.Equal(t, "0.3000", got.str("remaining_quantity"), "sell after fill %s", got.raw)
	cancelled := e.do("DELETE", "/api/v1/orders/"+sell.str("id"), bt, "")
	require.Equal(t, "cancelled", cancelled.str("status"), "cancel %s", cancelled.raw)
	e.want(e.do("DELETE", "/api/v1/orders/"+sell.str("id"), bt, ""), 409, "conflict")
	require.Equal(t, [3]string{"1.80000000", "0.00000000", "1.80000000"}, e.balances(bt)["BTC"], "hold not released")
	pf := e.do("GET", "/api/v1/portfolio", at, "")
	require.Equal(t, "0.20000000", pf.str("positions", "0", "base"), "portfolio %s", pf.raw)
	require.Equal(t, "-5000.000000", pf.str("positions", "0", "quote_net"), "portfolio %s", pf.raw)
	ticker := e.do("GET", "/api/v1/markets/BTC-USD/ticker", "", "")
	require.Equal(t, "25000.00", ticker.str("last"), "ticker %s", ticker.raw)
	require.Equal(t, "0.2000", ticker.str("volume_24h"), "ticker %s", ticker.raw)
}

func TestPaginationAndCancelAll(t *testing.T) {
	e := newEnv(t, 1000)
	alice, at := e.trader("alice@example.com")
	e.deposit("d", alice, "USD", "100000")
	var ids []string
	for i := 0; i < 5; i++ {
		r := e.do("POST", "/api/v1/orders", at, `{"market":"BTC-USD","side":"buy","type":"limit","price":"100","quantity":"0.01"}`)
		e.want(r, 201, "")
		ids = append(ids, r.str("id"))
	}
	var seen []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		r := e.do("GET", "/api/v1/orders?limit=2&cursor="+cursor, at, "")
		e.want(r, 200, "")
		for _, it := range r.body["items"].([]any) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		if cursor = r.str("next_cursor"); cursor == "" {
			break
		}
	}
	require.Len(t, seen, 5, "pages gave %v, placed %v", seen, ids)
	require.Equal(t, ids[4], seen[0], "newest first: pages gave %v, placed %v", seen, ids)
	require.Equal(t, ids[0], seen[4], "oldest last: pages gave %v, placed %v", seen, ids)
	e.want(e.do("GET", "/api/v1/orders?limit=0", at, ""), 400, "invalid")
	e.want(e.do("GET", "/api/v1/orders?limit=501", at, ""), 400, "invalid")
	e.want(e.do("GET", "/api/v1/orders?status=closed", at, ""), 400, "invalid")
	r := e.do("DELETE", "/api/v1/orders?market=BTC-USD", at, "")
	require.Equal(t, "5", r.str("cancelled"), "cancel all %s", r.raw)
	open := e.do("GET", "/api/v1/orders", at, "")
	require.Len(t, open.body["items"], 0, "open after cancel all: %s", open.raw)
	require.Equal(t, "0.000000", e.balances(at)["USD"][1], "holds after cancel all")
}

func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, 1000)
	alice, at := e.trader("alice@example.com")
	e.deposit("d", alice, "USD", "1000")
	order := func(fields string) string { return `{"market":"BTC-USD","side":"buy","type":"limit",` + fields + `}` }
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"malformed", `{"market":`, 400, "invalid"},
		{"not an object", `[1,2]`, 400, "invalid"},
		{"two objects", order(`"price":"1","quantity":"1"`) + `{}`, 400, "invalid"},
		{"unknown field", order(`"price":"1","quantity":"1","leverage":100`), 400, "invalid"},
		{"number price", order(`"price":1,"quantity":"1"`), 400, "invalid"},
		{"bool quantity", order(`"price":"1","quantity":true`), 400, "invalid"},
		{"negative quantity", order(`"price":"1","quantity":"-1"`), 400, "invalid"},
		{"zero quantity", order(`"price":"1","quantity":"0"`), 400, "invalid"},
		{"zero price", order(`"price":"0","quantity":"1"`), 400, "invalid"},
		{"over-precise price", order(`"price":"1.001","quantity":"1"`), 400, "invalid"},
		{"over-precise quantity", order(`"price":"1","quantity":"0.00001"`), 400, "invalid"},
		{"huge quantity", order(`"price":"1","quantity":"99999999999999999999999"`), 400, "invalid"},
		{"quantity over max", order(`"price":"1","quantity":"1000"`), 400, "invalid"},
		{"exponent", order(`"price":"1e3","quantity":"1"`), 400, "invalid"},
		{"missing price", order(`"quantity":"1"`), 400, "invalid"},
		{"bad side", `{"market":"BTC-USD","side":"short","type":"limit","price":"1","quantity":"1"}`, 400, "invalid"},
		{"bad tif", order(`"price":"1","quantity":"1","time_in_force":"DAY"`), 400, "invalid"},
		{"unknown market", `{"market":"DOGE-USD","side":"buy","type":"limit","price":"1","quantity":"1"}`, 404, "not_found"},
		{"sql injection market", `{"market":"BTC-USD' OR '1'='1","side":"buy","type":"limit","price":"1","quantity":"1"}`, 404, "not_found"},
		{"script client id", order(`"price":"1","quantity":"1","client_order_id":"<script>alert(1)</script>"`), 400, "invalid"},
		{"insufficient funds", order(`"price":"100000","quantity":"1"`), 422, "insufficient_funds"},
		{"oversized", order(`"price":"1","quantity":"1","client_order_id":"` + strings.Repeat("a", 5000) + `"`), 413, "too_large"},
	}
	for _, tc := range cases {
		r := e.do("POST", "/api/v1/orders", at, tc.body)
		assert.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.raw)
		assert.Equal(t, tc.code, r.str("error", "code"), "%s: %s", tc.name, r.raw)
		assert.NotContains(t, string(r.raw), "<script>", "%s: reply echoes markup", tc.name)
	}
	r := e.do("POST", "/api/v1/orders", at, order(`"price":"1","quantity":"1"`), "Content-Type", "text/plain")
	e.want(r, 415, "invalid")
	for _, p := range []string{"/api/v1/orders/..%2F..%2Fetc%2Fpasswd", "/api/v1/orders/1%27%20OR%201=1", "/api/v1/orders/%3Cscript%3E"} {
		e.want(e.do("GET", p, at, ""), 404, "not_found")
	}
	all := e.do("GET", "/api/v1/orders?status=all", at, "")
	require.Len(t, all.body["items"], 0, "bad input persisted orders: %s", all.raw)
	require.Equal(t, [3]string{"1000.000000", "0.000000", "1000.000000"}, e.balances(at)["USD"], "bad input changed balances")
}

func TestAuthorization(t *testing.T) {
	e := newEnv(t, 1000)
	alice, at := e.trader("alice@example.com")
	e.want(e.do("GET", "/api/v1/balances", "", ""), 401, "unauthorized")
	e.want(e.do("GET", "/api/v1/balances", "not-a-token", ""), 401, "unauthorized")
	for _, p := range []string{"/api/v1/admin/deposits", "/api/v1/admin/markets", "/api/v1/admin/accounts/" + alice + "/kill-switch"} {
		e.want(e.do("POST", p, at, `{}`), 403, "forbidden")
	}
	e.want(e.do("POST", "/api/v1/admin/deposits", "", `{}`), 401, "unauthorized")
	require.Empty(t, e.balances(at), "forbidden deposit had an effect")
	// Kill switch by the admin stops the trader.
	e.deposit("d", alice, "USD", "1000")
	e.want(e.do("POST", "/api/v1/admin/accounts/"+alice+"/kill-switch", e.admin, `{"on":true}`), 200, "")
	e.want(e.do("POST", "/api/v1/orders", at, `{"market":"BTC-USD","side":"buy","type":"limit","price":"1","quantity":"1"}`), 403, "forbidden")
	e.want(e.do("POST", "/api/v1/admin/markets/BTC-USD/halt", e.admin, `{"on":true}`), 200, "")
	m := e.do("GET", "/api/v1/markets/BTC-USD", "", "")
	require.Equal(t, "true", m.str("halted"), "halt: %s", m.raw)
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t, 1000)
	_, at := e.trader("alice@example.com")
	_, bt := e.trader("bob@example.com")
	r := e.do("POST", "/api/v1/api-keys", at, `{"label":"bot","scopes":["read"]}`)
	e.want(r, 201, "")
	id, secret := r.str("id"), r.str("secret")
	list := e.do("GET", "/api/v1/api-keys", at, "")
	require.NotContains(t, string(list.raw), secret, "listing shows the secret")
	require.Equal(t, id, list.str("items", "0", "id"), "list %s", list.raw)
	signed := func(method, path, body string) reply {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		return e.do(method, path, "", body, "X-CDX-Key", id, "X-CDX-Timestamp", ts,
			"X-CDX-Signature", auth.Sign(secret, ts, method, path, []byte(body)))
	}
	e.want(signed("GET", "/api/v1/balances", ""), 200, "")
	e.want(signed("GET", "/api/v1/orders?status=all", ""), 200, "")
	e.want(signed("POST", "/api/v1/orders", `{"market":"BTC-USD","side":"buy","type":"limit","price":"1","quantity":"1"}`), 403, "forbidden")
	e.want(signed("GET", "/api/v1/api-keys", ""), 403, "forbidden")
	// Replay of one signed request.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	hdr := []string{"X-CDX-Key", id, "X-CDX-Timestamp", ts, "X-CDX-Signature", auth.Sign(secret, ts, "GET", "/api/v1/portfolio", nil)}
	e.want(e.do("GET", "/api/v1/portfolio", "", "", hdr...), 200, "")
	e.want(e.do("GET", "/api/v1/portfolio", "", "", hdr...), 401, "unauthorized")
	// Signature over another path.
	hdr[5] = auth.Sign(secret, ts, "GET", "/api/v1/balances", nil)
	e.want(e.do("GET", "/api/v1/trades", "", "", hdr...), 401, "unauthorized")
	// A trade-only key cannot read.
	tk := e.do("POST", "/api/v1/api-keys", at, `{"scopes":["trade"]}`)
	ts = strconv.FormatInt(time.Now().Unix(), 10)
	e.want(e.do("GET", "/api/v1/balances", "", "", "X-CDX-Key", tk.str("id"), "X-CDX-Timestamp", ts,
		"X-CDX-Signature", auth.Sign(tk.str("secret"), ts, "GET", "/api/v1/balances", nil)), 403, "forbidden")
	// Bob cannot revoke alice's key; alice can.
	e.want(e.do("DELETE", "/api/v1/api-keys/"+id, bt, ""), 404, "not_found")
	e.want(e.do("DELETE", "/api/v1/api-keys/"+id, at, ""), 204, "")
	e.want(signed("GET", "/api/v1/balances", ""), 401, "unauthorized")
}

func TestLoginLockoutAndRefresh(t *testing.T) {
	e := newEnv(t, 1000)
	e.trader("alice@example.com")
	for i := 0; i < 5; i++ {
		e.want(e.do("POST", "/api/v1/auth/login", "", `{"email":"alice@example.com","password":"wrong password 1"}`), 401, "unauthorized")
	}
	r := e.do("POST", "/api/v1/auth/login", "", `{"email":"alice@example.com","password":"trader password 1"}`)
	e.want(r, 429, "rate_limited")
	ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
	require.GreaterOrEqual(t, ra, 1, "Retry-After %q", r.header.Get("Retry-After"))
	require.LessOrEqual(t, ra, 30, "Retry-After %q", r.header.Get("Retry-After"))

	e.trader("bob@example.com")
	login := e.do("POST", "/api/v1/auth/login", "", `{"email":"bob@example.com","password":"trader password 1"}`)
	rt := login.str("refresh_token")
	next := e.do("POST", "/api/v1/auth/refresh", "", `{"refresh_token":"`+rt+`"}`)
	e.want(next, 200, "")
	e.want(e.do("GET", "/api/v1/balances", next.str("access_token"), ""), 200, "")
	e.want(e.do("POST", "/api/v1/auth/refresh", "", `{"refresh_token":"`+rt+`"}`), 401, "unauthorized")
	e.want(e.do("POST", "/api/v1/auth/logout", "", `{"refresh_token":"`+next.str("refresh_token")+`"}`), 204, "")
	e.want(e.do("POST", "/api/v1/auth/refresh", "", `{"refresh_token":"`+next.str("refresh_token")+`"}`), 401, "unauthorized")
	e.want(e.do("POST", "/api/v1/auth/register", "", `{"email":"bob@example.com","password":"trader password 1"}`), 202, "")
	e.want(e.do("POST", "/api/v1/auth/register", "", `{"email":"x@example.com","password":"short"}`), 400, "invalid")
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, 3)
	_, at := e.trader("alice@example.com")
	for i := 0; i < 3; i++ {
		e.want(e.do("GET", "/api/v1/balances", at, ""), 200, "")
	}
	r := e.do("GET", "/api/v1/balances", at, "")
	e.want(r, 429, "rate_limited")
	ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
	require.GreaterOrEqual(t, ra, 1, "Retry-After %q", r.header.Get("Retry-After"))
	require.LessOrEqual(t, ra, 60, "Retry-After %q", r.header.Get("Retry-After"))
	_, bt := e.trader("bob@example.com")
	e.want(e.do("GET", "/api/v1/balances", bt, ""), 200, "")
}

type failingOrders struct{ trading.OrderService }

func (failingOrders) PlaceOrder(context.Context, trading.PlaceOrder) (trading.Order, error) {
	return trading.Order{}, errors.New(`insert into orders: ERROR: relation "orders" does not exist (SQLSTATE 42P01)`)
}

func (failingOrders) GetOrder(context.Context, string, string) (trading.Order, error) {
	panic("nil map in backend")
}

func TestInternalErrorsAreHidden(t *testing.T) {
	e := newEnv(t, 1000, func(d *gwhttp.Deps) { d.Orders = failingOrders{d.Orders} })
	_, at := e.trader("alice@example.com")
	r := e.do("POST", "/api/v1/orders", at, `{"market":"BTC-USD","side":"buy","type":"limit","price":"1","quantity":"1"}`)
	e.want(r, 500, "internal")
	require.Equal(t, "internal error", r.str("error", "message"), "internal error reply %s", r.raw)
	require.NotEmpty(t, r.header.Get("X-Request-Id"), "internal error reply without a request id: %v", r.header)
	e.want(e.do("GET", "/api/v1/orders/o-1", at, ""), 500, "internal")
}

func TestHeaders(t *testing.T) {
	e := newEnv(t, 1000)
	r := e.do("GET", "/api/v1/markets", "", "", "Origin", "https://evil.example")
	e.want(r, 200, "")
	for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		assert.Equal(t, v, r.header.Get(h), h)
	}
	assert.Empty(t, r.header.Get("Access-Control-Allow-Origin"), "CORS open by default")
	e.want(e.do("GET", "/api/v1/nowhere", "", ""), 404, "not_found")
	e.want(e.do("PUT", "/api/v1/orders", "", ""), 405, "method_not_allowed")
	// Health, readiness and metrics are on the operations listener, never on the public API.
	for _, path := range []string{"/api/v1/health", "/api/v1/ready", "/api/v1/metrics", "/health", "/metrics"} {
		assert.Equal(t, 404, e.do("GET", path, "", "").status, "public %s", path)
	}
}

type countingMarkets struct {
	trading.MarketService
	calls int
}

func (c *countingMarkets) Market(ctx context.Context, symbol string) (trading.MarketDef, error) {
	c.calls++
	return c.MarketService.Market(ctx, symbol)
}

func TestPlacementsReuseMarketDefinitions(t *testing.T) {
	counter := &countingMarkets{}
	e := newEnv(t, 1000, func(d *gwhttp.Deps) { counter.MarketService = d.Markets; d.Markets = counter })
	alice, at := e.trader("alice@example.com")
	e.deposit("d", alice, "USD", "1000")
	for i := 0; i < 3; i++ {
		e.want(e.do("POST", "/api/v1/orders", at, `{"market":"BTC-USD","side":"buy","type":"limit","price":"1","quantity":"1"}`), 201, "")
	}
	require.Equal(t, 1, counter.calls, "three placements looked the market up more than once")
	e.want(e.do("POST", "/api/v1/orders", at, `{"market":"ETH-USD","side":"buy","type":"limit","price":"1","quantity":"1"}`), 404, "not_found")
	e.want(e.do("POST", "/api/v1/admin/markets", e.admin, `{"symbol":"ETH-USD","base":"ETH","quote":"USD","tick_size":"0.01","lot_size":"0.0001","min_price":"0.01","max_price":"100000","min_quantity":"0.0001","max_quantity":"1000"}`), 201, "")
	e.want(e.do("POST", "/api/v1/orders", at, `{"market":"ETH-USD","side":"buy","type":"limit","price":"1","quantity":"1"}`), 201, "")
}

// limiterOf is a limiter of n a minute on a Redis of its own.
func limiterOf(t testing.TB, n int) gwhttp.Limiter {
	rc, err := redis.OpenEmbedded("limit")
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })
	return rc.NewLimiter(n, time.Minute)
}
