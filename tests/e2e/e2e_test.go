// Package e2e drives the whole platform, started as a real process, over HTTP only: the
// trader's life from registration to fills, idempotent retries, pagination, rate limits,
// token expiry, and the invariants (balances conserved, holds released). Every response is
// validated against the platform's OpenAPI document.
package e2e

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/tests/platformtest"
)

// Fees are off so that the conservation checks can be exact sums over the traders.
var suite = platformtest.Suite{Env: []string{"FEE_MAKER_BPS=0", "FEE_TAKER_BPS=0"}}

func TestMain(m *testing.M) { os.Exit(suite.Main(m, nil)) }

func want(t *testing.T, r *platformtest.Response, status int) {
	t.Helper()
	require.Equal(t, status, r.Status, "status: %s", r.Body)
}

func deposit(t *testing.T, adm *platformtest.Client, id, account, asset, amount string) {
	t.Helper()
	want(t, adm.Do("POST", "/admin/deposits", map[string]string{"id": id, "account": account, "asset": asset, "amount": amount}), 201)
}

type bal struct{ total, held, available string }

func balances(t *testing.T, c *platformtest.Client) map[string]bal {
	t.Helper()
	r := c.Do("GET", "/balances", nil)
	want(t, r, 200)
	out := map[string]bal{}
	for _, it := range r.Items() {
		out[it["asset"].(string)] = bal{it["total"].(string), it["held"].(string), it["available"].(string)}
	}
	return out
}

func order(market, side, price, qty, clientID string) map[string]any {
	o := map[string]any{"market": market, "side": side, "type": "limit", "price": price, "quantity": qty}
	if clientID != "" {
		o["client_order_id"] = clientID
	}
	return o
}

func TestTradingLifecycle(t *testing.T) { lifecycle(t, suite.Shared) }

// TestTradingLifecycleOnPostgres runs the lifecycle on a platform whose stores are a fresh
// PostgreSQL database on TEST_DATABASE_URL's server and whose Redis is TEST_REDIS_URL's.
func TestTradingLifecycleOnPostgres(t *testing.T) {
	dbURL, redisURL, prefix := platformtest.RealDependencies(t)
	lifecycle(t, suite.Start(t, "DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix))
}

// lifecycle: register, fund, rest, partial fill, cancel, and the balances after each.
func lifecycle(t *testing.T, p *platformtest.Platform) {
	adm := p.Admin(t)
	alice, bob := suite.Register(t, p, "alice"), suite.Register(t, p, "bob")
	deposit(t, adm, "e2e-life-a-"+alice.ID, alice.ID, "USD", "10000")
	deposit(t, adm, "e2e-life-b-"+bob.ID, bob.ID, "BTC", "1")

	sell := bob.Do("POST", "/orders", order("BTC-USD", "sell", "30000.00", "0.5", "bob-sell-1"))
	want(t, sell, 201)
	platformtest.Eventually(t, "bob's sell resting", func() bool {
		return bob.Do("GET", "/orders/"+sell.Str("id"), nil).Str("status") == "open"
	})
	buy := alice.Do("POST", "/orders", order("BTC-USD", "buy", "30100.00", "0.2", "alice-buy-1"))
	want(t, buy, 201)

	// Partial fill of bob's order at the maker's price.
	var fills *platformtest.Response
	platformtest.Eventually(t, "alice's fill", func() bool {
		fills = alice.Do("GET", "/trades", nil)
		return len(fills.Items()) == 1
	})
	f := fills.Items()[0]
	require.Equal(t, "30000.00", f["price"], "alice's fill %v", f)
	require.Equal(t, "0.2000", f["quantity"], "alice's fill %v", f)
	require.Equal(t, "taker", f["liquidity"], "alice's fill %v", f)
	require.Equal(t, "buy", f["side"], "alice's fill %v", f)
	require.Equal(t, buy.Str("id"), f["order_id"], "alice's fill %v", f)
	// The fee settlement charged, in the asset she received and its scale (this suite charges 0 bps).
	require.Equal(t, "0.00000000", f["fee"], "alice's fill %v", f)
	require.Equal(t, "BTC", f["fee_asset"], "alice's fill %v", f)
	platformtest.Eventually(t, "bob's sell partially filled", func() bool {
		o := bob.Do("GET", "/orders/"+sell.Str("id"), nil)
		return o.Str("status") == "partially_filled" && o.Str("remaining_quantity") == "0.3000"
	})
	platformtest.Eventually(t, "settled balances", func() bool {
		a, b := balances(t, alice.Client), balances(t, bob.Client)
		return a["USD"] == bal{"4000.000000", "0.000000", "4000.000000"} && a["BTC"].total == "0.20000000" &&
			b["USD"].total == "6000.000000" && b["BTC"] == bal{"0.80000000", "0.30000000", "0.50000000"}
	})

	// Cancel the rest: the hold is released and nothing is left open.
	c := bob.Do("DELETE", "/orders/"+sell.Str("id"), nil)
	want(t, c, 200)
	platformtest.Eventually(t, "cancel settled", func() bool {
		o := bob.Do("GET", "/orders/"+sell.Str("id"), nil)
		return o.Str("status") == "cancelled" && balances(t, bob.Client)["BTC"] == bal{"0.80000000", "0.00000000", "0.80000000"}
	})
	pf := bob.Do("GET", "/portfolio", nil)
	want(t, pf, 200)
	require.Equal(t, "[]", pf.Str("open_orders"), "open orders after cancel: %s", pf.Body)
	// Conservation across the two traders.
	a, b := balances(t, alice.Client), balances(t, bob.Client)
	require.Equal(t, "4000.000000", a["USD"].total, "not conserved: alice %v bob %v", a, b)
	require.Equal(t, "6000.000000", b["USD"].total, "not conserved: alice %v bob %v", a, b)
	require.Equal(t, "0.20000000", a["BTC"].total, "not conserved: alice %v bob %v", a, b)
	require.Equal(t, "0.80000000", b["BTC"].total, "not conserved: alice %v bob %v", a, b)
	book := p.Client(t).Do("GET", "/markets/BTC-USD/book", nil)
	for _, lvl := range book.JSON["asks"].([]any) {
		require.NotEqual(t, "30000.00", lvl.(map[string]any)["price"], "cancelled order still in the book: %s", book.Body)
	}
}

func TestIdempotentRetries(t *testing.T) {
	p := suite.Shared
	adm := p.Admin(t)
	carol := suite.Register(t, p, "carol")
	id := "e2e-idem-" + carol.ID
	deposit(t, adm, id, carol.ID, "USD", "500")
	deposit(t, adm, id, carol.ID, "USD", "500") // a retry of the same deposit
	b := balances(t, carol.Client)["USD"]
	require.Equal(t, "500.000000", b.total, "retried deposit counted twice: %v", b)
	first := carol.Do("POST", "/orders", order("BTC-USD", "buy", "29000.00", "0.01", "retry-1"))
	want(t, first, 201)
	second := carol.Do("POST", "/orders", order("BTC-USD", "buy", "29000.00", "0.01", "retry-1"))
	want(t, second, 201)
	require.Equal(t, first.Str("id"), second.Str("id"), "retry placed a second order")
	all := carol.Do("GET", "/orders?status=all", nil)
	require.Len(t, all.Items(), 1, "orders after a retried placement")
	platformtest.Eventually(t, "one hold of 290 USD", func() bool { return balances(t, carol.Client)["USD"].held == "290.000000" })
	want(t, carol.Do("DELETE", "/orders?market=BTC-USD", nil), 200)
	platformtest.Eventually(t, "hold released", func() bool { return balances(t, carol.Client)["USD"].held == "0.000000" })
}

func TestPagination(t *testing.T) {
	p := suite.Shared
	adm := p.Admin(t)
	dan := suite.Register(t, p, "dan")
	deposit(t, adm, "e2e-page-"+dan.ID, dan.ID, "USD", "5000")
	var placed []string
	for i := 0; i < 7; i++ {
		r := dan.Do("POST", "/orders", order("BTC-USD", "buy", strconv.Itoa(29000+i)+".00", "0.01", ""))
		want(t, r, 201)
		placed = append(placed, r.Str("id"))
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.LessOrEqual(t, pages, 5, "pagination does not end")
		path := "/orders?status=all&limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := dan.Do("GET", path, nil)
		want(t, r, 200)
		require.LessOrEqual(t, len(r.Items()), 3, "page size with limit 3")
		for _, it := range r.Items() {
			seen = append(seen, it["id"].(string))
		}
		if cursor = r.Str("next_cursor"); cursor == "" {
			break
		}
	}
	require.Len(t, seen, 7, "pages gave %v, placed 7", seen)
	newestFirst := make([]string, len(placed))
	for i, id := range placed {
		newestFirst[len(placed)-1-i] = id
	}
	require.Equal(t, newestFirst, seen, "not newest first without gaps or repeats")
	want(t, dan.Do("DELETE", "/orders", nil), 200)
}

func TestAPIKeyTrading(t *testing.T) {
	p := suite.Shared
	adm := p.Admin(t)
	erin := suite.Register(t, p, "erin")
	deposit(t, adm, "e2e-key-"+erin.ID, erin.ID, "USD", "1000")
	k := erin.Do("POST", "/api-keys", map[string]any{"label": "bot", "scopes": []string{"read", "trade"}})
	want(t, k, 201)
	bot := erin.Signed(k.Str("id"), k.Str("secret"))
	o := bot.Do("POST", "/orders", order("BTC-USD", "buy", "29000.00", "0.01", "bot-1"))
	want(t, o, 201)
	got := bot.Do("GET", "/orders/"+o.Str("id"), nil)
	want(t, got, 200)
	want(t, erin.Do("DELETE", "/api-keys/"+k.Str("id"), nil), 204)
	want(t, bot.Do("GET", "/orders/"+o.Str("id"), nil), 401)
}

func TestRateLimit(t *testing.T) {
	p := suite.Start(t, "RATE_LIMIT_PER_SECOND=5")
	fred := suite.Register(t, p, "fred")
	limited := 0
	var retry string
	for i := 0; i < 20 && limited == 0; i++ {
		r := fred.Do("GET", "/balances", nil)
		if r.Status == 429 {
			limited++
			retry = r.Header.Get("Retry-After")
			require.Equal(t, "rate_limited", r.Str("error", "code"), "429 body %s", r.Body)
		}
	}
	secs, err := strconv.Atoi(retry)
	require.NotZero(t, limited, "never rate limited")
	require.NoError(t, err, "Retry-After %q", retry)
	require.GreaterOrEqual(t, secs, 1, "Retry-After %q", retry)
	require.LessOrEqual(t, secs, 2, "Retry-After %q", retry)
	// Another trader has a budget of their own.
	gina := suite.Register(t, p, "gina")
	want(t, gina.Do("GET", "/balances", nil), 200)
	time.Sleep(time.Duration(secs)*time.Second + 100*time.Millisecond)
	want(t, fred.Do("GET", "/balances", nil), 200)
}

func TestTokenExpiryAndRefresh(t *testing.T) {
	p := suite.Start(t, "ACCESS_TOKEN_TTL=2s")
	hal := suite.Register(t, p, "hal")
	want(t, hal.Do("GET", "/balances", nil), 200)
	time.Sleep(2500 * time.Millisecond)
	r := hal.Do("GET", "/balances", nil)
	want(t, r, 401)
	next := p.Client(t).Do("POST", "/auth/refresh", map[string]string{"refresh_token": hal.Refresh})
	want(t, next, 200)
	want(t, hal.As(next.Str("access_token")).Do("GET", "/balances", nil), 200)
	// The old refresh token is spent; reusing it revokes the new one too.
	want(t, p.Client(t).Do("POST", "/auth/refresh", map[string]string{"refresh_token": hal.Refresh}), 401)
	want(t, p.Client(t).Do("POST", "/auth/refresh", map[string]string{"refresh_token": next.Str("refresh_token")}), 401)
	// Logout revokes.
	login := p.Client(t).Do("POST", "/auth/login", map[string]string{"email": hal.Email, "password": hal.Password})
	want(t, p.Client(t).Do("POST", "/auth/logout", map[string]string{"refresh_token": login.Str("refresh_token")}), 204)
	want(t, p.Client(t).Do("POST", "/auth/refresh", map[string]string{"refresh_token": login.Str("refresh_token")}), 401)
}

func TestHealthReadyMetrics(t *testing.T) {
	c := suite.Shared.Client(t)
	// Health, readiness and metrics answer on the operations listener only.
	for _, path := range []string{"/health", "/ready", "/metrics"} {
		r, err := http.Get(suite.Shared.OpsURL + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		assert.Equal(t, 200, r.StatusCode, "ops %s: %s", path, body)
		if path == "/metrics" {
			assert.Contains(t, string(body), "cantondex_http_request_duration_seconds", "ops /metrics without the API's request metrics")
		}
	}
	pub, err := http.Get(suite.Shared.URL + "/metrics")
	require.NoError(t, err)
	pub.Body.Close()
	assert.Equal(t, 404, pub.StatusCode, "public /metrics")
	want(t, c.Do("GET", "/markets", nil), 200)
	tk := c.Do("GET", "/markets/BTC-USD/ticker", nil)
	want(t, tk, 200)
	want(t, c.Do("GET", "/markets/BTC-USD/trades?limit=5", nil), 200)
}
