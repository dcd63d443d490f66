package http_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/auth/authtest"
	gwhttp "github.com/cantondex/platform/services/gateway/http"
)

var testMailer = &authtest.Mailbox{}

func order(fields string) string {
	return `{"market":"BTC-USD","type":"limit","price":"10.00","quantity":"1",` + fields + `}`
}

// Duplicate keys, keys in another case, control characters and invalid UTF-8 are refused and
// place nothing.
func TestStrictJSON(t *testing.T) {
	e := newEnv(t, 1000)
	id, at := e.trader("strict@example.com")
	e.deposit("strict-1", id, "USD", "1000")
	for name, body := range map[string]string{
		"duplicate key":          order(`"side":"buy","side":"sell"`),
		"duplicate nested":       `{"label":"x","scopes":["read"],"scopes":["trade"]}`,
		"key in another case":    order(`"Side":"buy"`),
		"all capitals":           `{"MARKET":"BTC-USD","side":"buy","type":"limit","price":"10.00","quantity":"1"}`,
		"NUL in a string":        order(`"side":"buy","client_order_id":"a\u0000b"`),
		"escape in a string":     order(`"side":"buy","client_order_id":"a\u001bb"`),
		"invalid UTF-8":          order(`"side":"buy","client_order_id":"a` + "\xff" + `b"`),
		"invalid UTF-8 key":      `{"market` + "\xc3" + `":"BTC-USD"}`,
		"unknown field":          order(`"side":"buy","account":"someone"`),
		"control char in a key":  order(`"side":"buy","x\u0000":1`),
		"very deep nesting":      order(`"side":"buy","client_order_id":` + strings.Repeat("[", 40) + strings.Repeat("]", 40)),
		"trailing second object": order(`"side":"buy"`) + `{}`,
	} {
		path := "/api/v1/orders"
		if strings.Contains(body, "scopes") {
			path = "/api/v1/api-keys"
		}
		e.want(e.do("POST", path, at, body), 400, "invalid")
		_ = name
	}
	r := e.do("GET", "/api/v1/orders?status=all", at, "")
	e.want(r, 200, "")
	assert.Equal(t, `[]`, r.str("items"), "a refused body placed an order")
	keys := e.do("GET", "/api/v1/api-keys", at, "")
	assert.Equal(t, `[]`, keys.str("items"), "a refused body created a key")
	e.want(e.do("POST", "/api/v1/orders", at, order(`"side":"buy","client_order_id":"ok-1"`)), 201, "")
}

// Query strings and paths must be text; key ids have one spelling; none of it reaches a store.
func TestTextOnlyInQueriesAndHeaders(t *testing.T) {
	e := newEnv(t, 1000)
	_, at := e.trader("text@example.com")
	for _, path := range []string{"/api/v1/orders?cursor=%00", "/api/v1/trades?cursor=a%FFb", "/api/v1/api-keys?cursor=%0a",
		"/api/v1/orders?market=BTC%00", "/api/v1/orders?%00=1", "/api/v1/markets/BTC-USD%00/book", "/api/v1/orders?cursor=%zz"} {
		e.want(e.do("GET", path, at, ""), 400, "invalid")
	}
	for _, key := range []string{"ak_" + strings.Repeat("0", 32) + "é", "AK_" + strings.Repeat("0", 32), "ak_%00"} {
		r := e.do("GET", "/api/v1/balances", "", "", "X-CDX-Key", key, "X-CDX-Timestamp", strconv.FormatInt(time.Now().Unix(), 10),
			"X-CDX-Signature", strings.Repeat("ab", 32))
		e.want(r, 401, "unauthorized")
	}
	e.want(e.do("POST", "/api/v1/api-keys", at, `{"label":"bad\u0007label","scopes":["read"]}`), 400, "invalid")
}

// Every label of the request metric comes from a closed set, whatever the client sends.
func TestMetricLabelsAreClosed(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, 1000, func(d *gwhttp.Deps) { d.Registry = reg })
	for i := 0; i < 5; i++ {
		e.do("FOO"+strconv.Itoa(i), "/api/v1/markets", "", "")
		e.do("GET", "/api/v1/no-such-route-"+strconv.Itoa(i), "", "")
		e.do("BREW", "/api/v1/x"+strconv.Itoa(i), "", "")
	}
	e.do("GET", "/api/v1/markets", "", "")
	routes := map[string]bool{"unmatched": true}
	for _, r := range gwhttp.Routes() {
		_, path, _ := strings.Cut(r, " ")
		routes["/api/v1"+path] = true
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	seen := 0
	for _, mf := range mfs {
		if mf.GetName() != "cantondex_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			seen++
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "method":
					assert.Contains(t, []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "OTHER"}, l.GetValue())
				case "route":
					assert.True(t, routes[l.GetValue()], "route label %q", l.GetValue())
				}
			}
		}
	}
	assert.LessOrEqual(t, seen, 4, "series")
	assert.Positive(t, seen)
}

// Refusals are counted: 401 and 403 by reason, 429 by route; the status label is a class.
func TestRefusalsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, 2, func(d *gwhttp.Deps) { d.Registry = reg })
	_, at := e.trader("refused@example.com")
	e.want(e.do("GET", "/api/v1/balances", "", ""), 401, "unauthorized")
	e.want(e.do("POST", "/api/v1/admin/deposits", at, `{}`), 403, "forbidden")
	limited := false
	for i := 0; i < 5 && !limited; i++ {
		limited = e.do("GET", "/api/v1/balances", at, "").status == http.StatusTooManyRequests
	}
	require.True(t, limited, "2 requests a minute never refused")
	text := gatherText(t, reg)
	assert.Contains(t, text, `cantondex_http_auth_failures_total{reason="unauthorized"} 1`)
	assert.Contains(t, text, `cantondex_http_auth_failures_total{reason="forbidden"} 1`)
	assert.Contains(t, text, `cantondex_http_rate_limited_total{route="/api/v1/balances"} 1`)
	assert.Contains(t, text, `cantondex_http_rate_limited_total{route="/api/v1/orders"} 0`, "every route's series exists from the start")
	assert.Regexp(t, `cantondex_http_request_duration_seconds_count\{method="GET",route="/api/v1/balances",status="4xx"\} 2`, text)
	assert.NotRegexp(t, `status="[0-9]{3}"`, text, "a status code as a label")
}

func gatherText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var b strings.Builder
	for _, mf := range mfs {
		_, err := expfmt.MetricFamilyToText(&b, mf)
		require.NoError(t, err)
	}
	return b.String()
}

func TestRequestIDOnlyWhenWellFormed(t *testing.T) {
	e := newEnv(t, 1000)
	good := "req-2026.01_ab:cd"
	assert.Equal(t, good, e.do("GET", "/api/v1/markets", "", "", "X-Request-Id", good).header.Get("X-Request-Id"))
	for _, bad := range []string{"short", "has space in it", strings.Repeat("x", 65), "<script>alert(1)</script>", "a;b=c;d=e"} {
		got := e.do("GET", "/api/v1/markets", "", "", "X-Request-Id", bad).header.Get("X-Request-Id")
		assert.NotEqual(t, bad, got)
		assert.Regexp(t, `^[0-9a-f]{32}$`, got)
	}
}

// Forwarded addresses count only from a trusted proxy: spoofing X-Forwarded-For gets no fresh
// limit.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	login := func(e *env, xff string) int {
		return e.do("POST", "/api/v1/auth/login", "", `{"email":"x@example.com","password":"whatever it is"}`, "X-Forwarded-For", xff, "X-Real-IP", xff).status
	}
	direct := newEnv(t, 1000, func(d *gwhttp.Deps) { d.AuthLimiter = limiterOf(t, 3) })
	var codes []int
	for i := 0; i < 5; i++ {
		codes = append(codes, login(direct, "203.0.113."+strconv.Itoa(i)))
	}
	assert.Equal(t, []int{401, 401, 401, 429, 429}, codes, "spoofed addresses got fresh limits")

	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	proxied := newEnvConfig(t, 1000, gwhttp.Config{BodyLimit: "4K", TrustedProxies: []*net.IPNet{loopback}}, func(d *gwhttp.Deps) { d.AuthLimiter = limiterOf(t, 3) })
	codes = nil
	for i := 0; i < 4; i++ {
		codes = append(codes, login(proxied, "203.0.113."+strconv.Itoa(i)))
	}
	assert.Equal(t, []int{401, 401, 401, 401}, codes, "clients behind a trusted proxy share a limit")
	for i := 0; i < 3; i++ {
		login(proxied, "198.51.100.1")
	}
	assert.Equal(t, http.StatusTooManyRequests, login(proxied, "198.51.100.1"))
	// A client cannot prepend its own entries: the address is the last untrusted one.
	assert.Equal(t, http.StatusTooManyRequests, login(proxied, "203.0.113.200, 198.51.100.1"))
}

func TestPublicMarketDataIsLimitedPerAddress(t *testing.T) {
	e := newEnv(t, 1000, func(d *gwhttp.Deps) { d.PublicLimiter = limiterOf(t, 3) })
	for i := 0; i < 3; i++ {
		e.want(e.do("GET", "/api/v1/markets/BTC-USD/book", "", ""), 200, "")
	}
	r := e.do("GET", "/api/v1/markets", "", "")
	e.want(r, 429, "rate_limited")
	assert.NotEmpty(t, r.header.Get("Retry-After"))
}

// Admin actions on accounts no user has are 404 and change nothing; deposits are bounded.
func TestAdminActionsNeedRealAccountsAndBoundedAmounts(t *testing.T) {
	e := newEnvConfig(t, 1000, gwhttp.Config{BodyLimit: "4K", DepositLimits: map[string]string{"USD": "1000"}})
	id, at := e.trader("funded@example.com")
	for _, acct := range []string{"nobody", "00000000-0000-0000-0000-000000000000"} {
		e.want(e.do("POST", "/api/v1/admin/deposits", e.admin, `{"id":"d-`+acct+`","account":"`+acct+`","asset":"USD","amount":"1"}`), 404, "not_found")
		e.want(e.do("POST", "/api/v1/admin/withdrawals", e.admin, `{"id":"w-`+acct+`","account":"`+acct+`","asset":"USD","amount":"1"}`), 404, "not_found")
		e.want(e.do("POST", "/api/v1/admin/accounts/"+acct+"/kill-switch", e.admin, `{"on":true}`), 404, "not_found")
		bs, err := e.venue.Balances(context.Background(), acct)
		require.NoError(t, err)
		assert.Empty(t, bs, "funds reached an account nobody has")
	}
	e.want(e.do("POST", "/api/v1/admin/deposits", e.admin, `{"id":"big","account":"`+id+`","asset":"USD","amount":"1000.000001"}`), 400, "invalid")
	e.want(e.do("POST", "/api/v1/admin/deposits", e.admin, `{"id":"huge","account":"`+id+`","asset":"BTC","amount":"92233720368"}`), 400, "invalid")
	assert.Equal(t, "[]", e.do("GET", "/api/v1/balances", at, "").str("items"))
	e.want(e.do("POST", "/api/v1/admin/deposits", e.admin, `{"id":"max","account":"`+id+`","asset":"USD","amount":"1000"}`), 201, "")
	e.want(e.do("POST", "/api/v1/admin/accounts/"+id+"/kill-switch", e.admin, `{"on":true}`), 200, "")
}

func TestSessionsPasswordChangeAndReset(t *testing.T) {
	e := newEnv(t, 1000)
	_, at := e.trader("sess@example.com")
	creds := `{"email":"sess@example.com","password":"trader password 1"}`
	second := e.do("POST", "/api/v1/auth/login", "", creds)
	e.want(second, 200, "")
	// Logout ends the session's access token at once.
	e.want(e.do("POST", "/api/v1/auth/logout", "", `{"refresh_token":"`+second.str("refresh_token")+`"}`), 204, "")
	e.want(e.do("GET", "/api/v1/balances", second.str("access_token"), ""), 401, "unauthorized")
	e.want(e.do("GET", "/api/v1/balances", at, ""), 200, "")

	third := e.do("POST", "/api/v1/auth/login", "", creds)
	e.want(e.do("POST", "/api/v1/auth/password", at, `{"current_password":"trader password 1","new_password":"password1234"}`), 400, "invalid")
	e.want(e.do("POST", "/api/v1/auth/password", at, `{"current_password":"not it at all","new_password":"tangerine ocelot umbrella"}`), 401, "unauthorized")
	e.want(e.do("POST", "/api/v1/auth/password", at, `{"current_password":"trader password 1","new_password":"tangerine ocelot umbrella"}`), 204, "")
	e.want(e.do("GET", "/api/v1/balances", third.str("access_token"), ""), 401, "unauthorized")
	e.want(e.do("GET", "/api/v1/balances", at, ""), 200, "")

	// Reset: the same answer for every e-mail; the token works once and ends every session.
	for _, email := range []string{"sess@example.com", "nobody@example.com", "not an email"} {
		r := e.do("POST", "/api/v1/auth/password-reset", "", `{"email":"`+email+`"}`)
		e.want(r, 202, "")
		assert.Equal(t, `{"status":"accepted"}`, strings.TrimSpace(string(r.raw)))
	}
	token := testMailer.Last("sess@example.com")
	require.NotEmpty(t, token)
	assert.Empty(t, testMailer.Last("nobody@example.com"))
	confirm := `{"token":"` + token + `","new_password":"quartz lantern meadow"}`
	e.want(e.do("POST", "/api/v1/auth/password-reset/confirm", "", confirm), 204, "")
	e.want(e.do("POST", "/api/v1/auth/password-reset/confirm", "", confirm), 401, "unauthorized")
	e.want(e.do("GET", "/api/v1/balances", at, ""), 401, "unauthorized")
	e.want(e.do("POST", "/api/v1/auth/login", "", `{"email":"sess@example.com","password":"quartz lantern meadow"}`), 200, "")
}

func TestAPIKeysArePaged(t *testing.T) {
	e := newEnv(t, 1000)
	_, at := e.trader("pages@example.com")
	for i := 0; i < 3; i++ {
		e.want(e.do("POST", "/api/v1/api-keys", at, `{"label":"k`+strconv.Itoa(i)+`","scopes":["read"]}`), 201, "")
	}
	p1 := e.do("GET", "/api/v1/api-keys?limit=2", at, "")
	e.want(p1, 200, "")
	require.NotEmpty(t, p1.str("next_cursor"))
	p2 := e.do("GET", "/api/v1/api-keys?limit=2&cursor="+p1.str("next_cursor"), at, "")
	e.want(p2, 200, "")
	assert.Equal(t, "k2", p2.str("items", "0", "label"))
	assert.Empty(t, p2.str("next_cursor"))
	e.want(e.do("GET", "/api/v1/api-keys?limit=101", at, ""), 400, "invalid")
}
