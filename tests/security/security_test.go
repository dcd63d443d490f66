// Package security sends the platform, started as a real process, bad and hostile input over
// HTTP: malformed and oversized bodies, wrong types, impossible numbers, injection strings,
// path traversal, missing, expired, forged and replayed credentials, brute-force logins,
// horizontal access and privilege escalation; and (hardening_test.go) one attack per class of
// the adversarial review of issue 10, on both backends: the embedded defaults and PostgreSQL
// with Redis. Each answer must be the right 4xx with the error
// shape (and match the OpenAPI document), and afterwards nothing may have changed.
package security

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/tests/platformtest"
)

var suite platformtest.Suite

func TestMain(m *testing.M) {
	suite.WithPostgres = true
	// The hardening tests send bursts of logins from this one address; the per-address limit
	// has tests of its own (on platforms of their own).
	suite.Env = []string{"AUTH_RATE_LIMIT_PER_MINUTE=100000"}
	os.Exit(suite.Main(m, func(logs string) error {
		// No password, token or secret a test used may appear in the platform's logs.
		for _, s := range secrets.all() {
			if strings.Contains(logs, s) {
				return fmt.Errorf("a secret appears in the platform's logs: %.12s...", s)
			}
		}
		return nil
	}))
}

type secretList struct {
	mu   sync.Mutex
	list []string
}

var secrets = &secretList{}

func (s *secretList) add(v string) {
	if v != "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.list = append(s.list, v)
	}
}

func (s *secretList) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}

func register(t *testing.T, p *platformtest.Platform, name string) platformtest.Trader {
	t.Helper()
	tr := suite.Register(t, p, name)
	secrets.add(tr.Password)
	secrets.add(tr.Token)
	secrets.add(tr.Refresh)
	return tr
}

func adminClient(t *testing.T, p *platformtest.Platform) *platformtest.Client {
	t.Helper()
	secrets.add(p.AdminPassword)
	c := p.Admin(t)
	secrets.add(c.Token)
	return c
}

func want(t *testing.T, r *platformtest.Response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.Status, "status: %s", r.Body)
	if code != "" {
		require.Equal(t, code, r.Str("error", "code"), "error code: %s", r.Body)
	}
}

// snapshot is what a trader's state looks like from outside.
func snapshot(t *testing.T, c *platformtest.Client) string {
	t.Helper()
	b := c.Do("GET", "/balances", nil)
	o := c.Do("GET", "/orders?status=all", nil)
	k := c.Do("GET", "/api-keys", nil)
	require.Equal(t, 200, b.Status, "snapshot /balances: %s", b.Body)
	require.Equal(t, 200, o.Status, "snapshot /orders: %s", o.Body)
	require.Equal(t, 200, k.Status, "snapshot /api-keys: %s", k.Body)
	return string(b.Body) + string(o.Body) + string(k.Body)
}

func TestBadOrdersChangeNothing(t *testing.T) {
	p := suite.Shared
	adm := adminClient(t, p)
	tr := register(t, p, "bad")
	want(t, adm.Do("POST", "/admin/deposits", map[string]string{"id": "sec-" + tr.ID, "account": tr.ID, "asset": "USD", "amount": "1000"}), 201, "")
	before := snapshot(t, tr.Client)
	o := func(fields string) string { return `{"market":"BTC-USD","side":"buy","type":"limit",` + fields + `}` }
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"malformed JSON", `{"market":"BTC-USD",`, 400, "invalid"},
		{"not JSON", `market=BTC-USD&side=buy`, 400, "invalid"},
		{"array", `[{"market":"BTC-USD"}]`, 400, "invalid"},
		{"trailing data", o(`"price":"1","quantity":"1"`) + `x`, 400, "invalid"},
		{"unknown field", o(`"price":"1","quantity":"1","account":"someone-else"`), 400, "invalid"},
		{"price as number", o(`"price":100,"quantity":"1"`), 400, "invalid"},
		{"quantity as object", o(`"price":"1","quantity":{"$gt":0}`), 400, "invalid"},
		{"post_only as string", o(`"price":"1","quantity":"1","post_only":"yes"`), 400, "invalid"},
		{"negative quantity", o(`"price":"1","quantity":"-0.5"`), 400, "invalid"},
		{"zero quantity", o(`"price":"1","quantity":"0"`), 400, "invalid"},
		{"negative price", o(`"price":"-1","quantity":"1"`), 400, "invalid"},
		{"zero price", o(`"price":"0.00","quantity":"1"`), 400, "invalid"},
		{"over-precise price", o(`"price":"100.001","quantity":"1"`), 400, "invalid"},
		{"over-precise quantity", o(`"price":"100","quantity":"0.00001"`), 400, "invalid"},
		{"huge quantity", o(`"price":"100","quantity":"` + strings.Repeat("9", 30) + `"`), 400, "invalid"},
		{"huge price", o(`"price":"` + strings.Repeat("9", 25) + `","quantity":"1"`), 400, "invalid"},
		{"exponent", o(`"price":"1e5","quantity":"1"`), 400, "invalid"},
		{"NaN", o(`"price":"NaN","quantity":"1"`), 400, "invalid"},
		{"hex", o(`"price":"0x10","quantity":"1"`), 400, "invalid"},
		{"empty quantity", o(`"price":"1","quantity":""`), 400, "invalid"},
		{"unknown side", `{"market":"BTC-USD","side":"borrow","type":"limit","price":"1","quantity":"1"}`, 400, "invalid"},
		{"unknown type", `{"market":"BTC-USD","side":"buy","type":"stop","price":"1","quantity":"1"}`, 400, "invalid"},
		{"unknown tif", o(`"price":"1","quantity":"1","time_in_force":"GTD"`), 400, "invalid"},
		{"unknown market", `{"market":"XYZ-USD","side":"buy","type":"limit","price":"1","quantity":"1"}`, 404, "not_found"},
		{"SQL in market", `{"market":"BTC-USD'; DROP TABLE orders;--","side":"buy","type":"limit","price":"1","quantity":"1"}`, 404, "not_found"},
		{"SQL in client id", o(`"price":"1","quantity":"1","client_order_id":"1' OR '1'='1"`), 400, "invalid"},
		{"script in client id", o(`"price":"1","quantity":"1","client_order_id":"<script>alert(1)</script>"`), 400, "invalid"},
		{"command in client id", o(`"price":"1","quantity":"1","client_order_id":"$(rm -rf /)"`), 400, "invalid"},
		{"more than the balance", o(`"price":"100000","quantity":"1"`), 422, "insufficient_funds"},
	}
	for _, tc := range cases {
		r := tr.Do("POST", "/orders", tc.body)
		assert.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
		assert.Equal(t, tc.code, r.Str("error", "code"), "%s: %s", tc.name, r.Body)
		assert.NotContains(t, string(r.Body), "<script>", "%s: reply reflects the input", tc.name)
		assert.NotContains(t, strings.ToLower(string(r.Body)), "sql", "%s: reply reflects the input", tc.name)
	}
	big := o(`"price":"1","quantity":"1","client_order_id":"` + strings.Repeat("A", 100<<10) + `"`)
	want(t, tr.Do("POST", "/orders", big), 413, "too_large")
	want(t, tr.Do("POST", "/orders", o(`"price":"1","quantity":"1"`), "Content-Type", "text/plain"), 415, "invalid")
	want(t, tr.Do("POST", "/orders", o(`"price":"1","quantity":"1"`), "Content-Type", "application/x-www-form-urlencoded"), 415, "invalid")
	require.Equal(t, before, snapshot(t, tr.Client), "bad input changed state")
}

func TestHostilePathsAndQueries(t *testing.T) {
	p := suite.Shared
	tr := register(t, p, "paths")
	before := snapshot(t, tr.Client)
	for _, path := range []string{
		"/orders/..%2F..%2F..%2Fetc%2Fpasswd",
		"/orders/%2e%2e",
		"/orders/1%27%20OR%20%271%27%3D%271",
		"/orders/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
		"/orders/" + strings.Repeat("9", 300),
		"/markets/..%2F..%2Fadmin/book",
		"/markets/BTC-USD%27--/ticker",
	} {
		r := tr.Do("GET", path, nil)
		assert.Equal(t, 404, r.Status, "GET %s: %s", path, r.Body)
		assert.Equal(t, "not_found", r.Str("error", "code"), "GET %s: %s", path, r.Body)
	}
	for _, path := range []string{
		"/orders?limit=-1", "/orders?limit=abc", "/orders?limit=100000", "/orders?status=%27%20OR%201=1",
		"/orders?cursor=" + strings.Repeat("x", 300), "/trades?limit=0", "/markets/BTC-USD/book?depth=0",
		"/markets/BTC-USD/book?depth=1e9",
	} {
		r := tr.Do("GET", path, nil)
		assert.Equal(t, 400, r.Status, "GET %s: %s", path, r.Body)
		assert.Equal(t, "invalid", r.Str("error", "code"), "GET %s: %s", path, r.Body)
	}
	want(t, tr.Do("GET", "/orders?market=NOPE-USD", nil), 404, "not_found")
	want(t, tr.Do("DELETE", "/orders/..%2F..%2Fetc%2Fpasswd", nil), 404, "not_found")
	require.Equal(t, before, snapshot(t, tr.Client), "hostile paths changed state")
}

func TestCredentials(t *testing.T) {
	p := suite.Shared
	tr := register(t, p, "creds")
	anon := p.Client(t)
	// Neither registration nor login shows a password back.
	password := "a password nobody should see again"
	secrets.add(password)
	email := "echo-" + tr.ID + "@example.com"
	for _, path := range []string{"/auth/register", "/auth/login"} {
		r := anon.Do("POST", path, map[string]string{"email": email, "password": password})
		secrets.add(r.Str("access_token"))
		secrets.add(r.Str("refresh_token"))
		require.Less(t, r.Status, 300, "%s: %s", path, r.Body)
		require.NotContains(t, string(r.Body), password, "%s shows the password back", path)
	}
	want(t, anon.Do("GET", "/balances", nil), 401, "unauthorized")
	want(t, anon.Do("GET", "/balances", nil, "Authorization", "Basic YWRtaW46YWRtaW4="), 401, "unauthorized")
	want(t, anon.As("garbage").Do("GET", "/balances", nil), 401, "unauthorized")
	want(t, anon.As("at1.e30.").Do("GET", "/balances", nil), 401, "unauthorized")
	// A forged token: the trader's own, with the role changed to admin and the MAC kept.
	parts := strings.Split(tr.Token, ".")
	require.Len(t, parts, 3, "token shape %q", tr.Token)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err, "token shape %q", tr.Token)
	forged := strings.Replace(string(payload), `"trader"`, `"admin"`, 1)
	forgedToken := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	want(t, anon.As(forgedToken).Do("GET", "/balances", nil), 401, "unauthorized")
	want(t, anon.As(forgedToken).Do("POST", "/admin/deposits", map[string]string{"id": "x", "account": tr.ID, "asset": "USD", "amount": "1"}), 401, "unauthorized")
	// Another user's id in a token signed by nobody.
	other := strings.Replace(string(payload), tr.ID, "00000000-0000-0000-0000-000000000000", 1)
	want(t, anon.As(parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(other))+"."+parts[2]).Do("GET", "/balances", nil), 401, "unauthorized")
	// A refresh token is not an access token, and the other way round.
	r := anon.Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": tr.Password})
	secrets.add(r.Str("access_token"))
	secrets.add(r.Str("refresh_token"))
	want(t, anon.As(r.Str("refresh_token")).Do("GET", "/balances", nil), 401, "unauthorized")
	want(t, anon.Do("POST", "/auth/refresh", map[string]string{"refresh_token": r.Str("access_token")}), 401, "unauthorized")
	want(t, anon.Do("POST", "/auth/refresh", map[string]string{"refresh_token": "rt_forged"}), 401, "unauthorized")
}

func TestAPIKeySignatures(t *testing.T) {
	p := suite.Shared
	tr := register(t, p, "signer")
	k := tr.Do("POST", "/api-keys", map[string]any{"scopes": []string{"read"}})
	want(t, k, 201, "")
	id, secret := k.Str("id"), k.Str("secret")
	secrets.add(secret)
	l := tr.Do("GET", "/api-keys", nil)
	require.NotContains(t, string(l.Body), secret, "listing shows the secret")
	anon := p.Client(t)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	sig := platformtest.Sign(secret, now, "GET", "/api/v1/balances", nil)
	hdr := func(key, ts, sig string) []string {
		return []string{"X-CDX-Key", key, "X-CDX-Timestamp", ts, "X-CDX-Signature", sig}
	}
	want(t, anon.Do("GET", "/balances", nil, hdr(id, now, sig)...), 200, "")
	want(t, anon.Do("GET", "/balances", nil, hdr(id, now, sig)...), 401, "unauthorized") // replayed
	stale := strconv.FormatInt(time.Now().Add(-2*time.Minute).Unix(), 10)
	want(t, anon.Do("GET", "/balances", nil, hdr(id, stale, platformtest.Sign(secret, stale, "GET", "/api/v1/balances", nil))...), 401, "unauthorized")
	future := strconv.FormatInt(time.Now().Add(2*time.Minute).Unix(), 10)
	want(t, anon.Do("GET", "/balances", nil, hdr(id, future, platformtest.Sign(secret, future, "GET", "/api/v1/balances", nil))...), 401, "unauthorized")
	want(t, anon.Do("GET", "/balances", nil, hdr(id, now, platformtest.Sign("guessed secret", now, "GET", "/api/v1/balances", nil))...), 401, "unauthorized")
	want(t, anon.Do("GET", "/balances", nil, hdr(id, now, "zz")...), 401, "unauthorized")
	want(t, anon.Do("GET", "/balances", nil, hdr("ak_unknown", now, sig)...), 401, "unauthorized")
	// Signed for one path, sent to another.
	want(t, anon.Do("GET", "/trades", nil, hdr(id, now, platformtest.Sign(secret, now, "GET", "/api/v1/portfolio", nil))...), 401, "unauthorized")
	// A read key cannot trade, manage keys or act as admin.
	bot := tr.Signed(id, secret)
	want(t, bot.Do("POST", "/orders", map[string]any{"market": "BTC-USD", "side": "buy", "type": "limit", "price": "1", "quantity": "1"}), 403, "forbidden")
	want(t, bot.Do("POST", "/api-keys", map[string]any{"scopes": []string{"trade"}}), 403, "forbidden")
	want(t, bot.Do("GET", "/api-keys", nil), 403, "forbidden")
	want(t, tr.Do("POST", "/api-keys", map[string]any{"scopes": []string{"admin"}}), 400, "invalid")
}

func TestBruteForceLogin(t *testing.T) {
	p := suite.Shared
	tr := register(t, p, "brute")
	anon := p.Client(t)
	for i := 0; i < 5; i++ {
		r := anon.Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": fmt.Sprintf("guess number %d", i)})
		want(t, r, 401, "unauthorized")
	}
	r := anon.Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": tr.Password})
	want(t, r, 429, "rate_limited")
	s, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	require.GreaterOrEqual(t, s, 1, "Retry-After %q", r.Header.Get("Retry-After"))
	require.Empty(t, r.Str("access_token"), "locked login issued a token")
	// Unknown and known emails answer alike.
	a := anon.Do("POST", "/auth/login", map[string]string{"email": "nobody-" + tr.Email, "password": "whatever password"})
	b := register(t, p, "brute2")
	c := anon.Do("POST", "/auth/login", map[string]string{"email": b.Email, "password": "wrong password here"})
	require.Equal(t, a.Status, c.Status, "login reveals which emails exist: %s vs %s", a.Body, c.Body)
	require.Equal(t, a.Str("error", "message"), c.Str("error", "message"), "login reveals which emails exist: %s vs %s", a.Body, c.Body)
}

func TestHorizontalAccess(t *testing.T) {
	p := suite.Shared
	adm := adminClient(t, p)
	alice, mallory := register(t, p, "alice"), register(t, p, "mallory")
	want(t, adm.Do("POST", "/admin/deposits", map[string]string{"id": "sec-h-" + alice.ID, "account": alice.ID, "asset": "USD", "amount": "100"}), 201, "")
	o := alice.Do("POST", "/orders", map[string]any{"market": "BTC-USD", "side": "buy", "type": "limit", "price": "10.00", "quantity": "1"})
	want(t, o, 201, "")
	// The order is accepted as pending and opens when the book sees it; wait for
	// that, or the book itself would change alice's state under the comparison.
	platformtest.Eventually(t, "alice's order opens", func() bool {
		return alice.Do("GET", "/orders/"+o.Str("id"), nil).Str("status") == "open"
	})
	k := alice.Do("POST", "/api-keys", map[string]any{"scopes": []string{"read"}})
	secrets.add(k.Str("secret"))
	before := snapshot(t, alice.Client)
	want(t, mallory.Do("GET", "/orders/"+o.Str("id"), nil), 404, "not_found")
	want(t, mallory.Do("DELETE", "/orders/"+o.Str("id"), nil), 404, "not_found")
	want(t, mallory.Do("DELETE", "/api-keys/"+k.Str("id"), nil), 404, "not_found")
	r := mallory.Do("DELETE", "/orders", nil)
	require.Equal(t, "0", r.Str("cancelled"), "mallory's cancel-all touched others: %s", r.Body)
	for _, path := range []string{"/orders?status=all", "/trades", "/balances", "/api-keys", "/portfolio"} {
		r := mallory.Do("GET", path, nil)
		require.NotContains(t, string(r.Body), o.Str("id"), "%s shows alice's order to mallory", path)
		require.NotContains(t, string(r.Body), k.Str("id"), "%s shows alice's API key to mallory", path)
		require.NotContains(t, string(r.Body), "100.000000", "%s shows alice's balance to mallory", path)
	}
	require.Equal(t, before, snapshot(t, alice.Client), "another trader changed alice's state")
}

func TestPrivilegeEscalation(t *testing.T) {
	p := suite.Shared
	tr := register(t, p, "climber")
	before := snapshot(t, tr.Client)
	for _, c := range []struct{ path, body string }{
		{"/admin/deposits", `{"id":"esc-1","account":"` + tr.ID + `","asset":"USD","amount":"1000000"}`},
		{"/admin/withdrawals", `{"id":"esc-2","account":"` + tr.ID + `","asset":"USD","amount":"1"}`},
		{"/admin/markets", `{"symbol":"ETH-USD","base":"ETH","quote":"USD","tick_size":"0.01","lot_size":"0.001","min_price":"0.01","max_price":"100000","min_quantity":"0.001","max_quantity":"1000"}`},
		{"/admin/markets/BTC-USD/halt", `{"on":true}`},
		{"/admin/markets/BTC-USD/kill-switch", `{"on":true}`},
		{"/admin/accounts/" + tr.ID + "/kill-switch", `{"on":false}`},
	} {
		want(t, tr.Do("POST", c.path, c.body), 403, "forbidden")
		want(t, p.Client(t).Do("POST", c.path, c.body), 401, "unauthorized")
	}
	// Registering with a role is not a thing.
	r := p.Client(t).Do("POST", "/auth/register", `{"email":"root-`+tr.ID+`@example.com","password":"a long enough password","role":"admin"}`)
	want(t, r, 400, "invalid")
	require.Equal(t, before, snapshot(t, tr.Client), "a forbidden admin call changed state")
	m := p.Client(t).Do("GET", "/markets/BTC-USD", nil)
	require.Equal(t, "false", m.Str("halted"), "market halted by a trader: %s", m.Body)
	require.Equal(t, 404, p.Client(t).Do("GET", "/markets/ETH-USD", nil).Status, "a trader created a market")
}

func TestBrowserDefences(t *testing.T) {
	c := suite.Shared.Client(t)
	r := c.Do("GET", "/markets", nil, "Origin", "https://evil.example")
	want(t, r, 200, "")
	require.Empty(t, r.Header.Get("Access-Control-Allow-Origin"), "CORS is open")
	for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		assert.Equal(t, v, r.Header.Get(h), h)
	}
	assert.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'none'", "CSP")
	// A cross-site form post (no JSON content type) cannot place an order or log in.
	want(t, c.Do("POST", "/auth/login", "email=a@b.c&password=x", "Content-Type", "application/x-www-form-urlencoded"), 415, "invalid")
}
