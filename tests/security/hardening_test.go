package security

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/tests/platformtest"
)

// The attacks of issue 10's review, one test per class, each on both backends. Every test
// checks the right answer and that the refused requests changed nothing.

func fund(t *testing.T, p *platformtest.Platform, tr platformtest.Trader, asset, amount string) {
	t.Helper()
	want(t, adminClient(t, p).Do("POST", "/admin/deposits", map[string]string{"id": "h-" + asset + "-" + tr.ID, "account": tr.ID, "asset": asset, "amount": amount}), 201, "")
}

// Finding 1: one signed request is accepted once, however its signature is spelled.
func TestReplayBySignatureRespelling(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		tr := register(t, p, "replay")
		fund(t, p, tr, "USD", "1000")
		k := tr.Do("POST", "/api-keys", map[string]any{"scopes": []string{"trade", "read"}})
		want(t, k, 201, "")
		secrets.add(k.Str("secret"))
		body := []byte(`{"market":"BTC-USD","side":"buy","type":"limit","price":"10.00","quantity":"0.001"}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		sig := platformtest.Sign(k.Str("secret"), ts, "POST", "/api/v1/orders", body)
		mixed := []byte(sig)
		for i := range mixed {
			if i%3 == 0 {
				mixed[i] = strings.ToUpper(string(mixed[i]))[0]
			}
		}
		anon := p.Client(t)
		placed := 0
		for _, spelling := range []string{sig, strings.ToUpper(sig), string(mixed)} {
			r := anon.Do("POST", "/orders", string(body), "X-CDX-Key", k.Str("id"), "X-CDX-Timestamp", ts, "X-CDX-Signature", spelling)
			if r.Status == 201 {
				placed++
			} else {
				want(t, r, 401, "unauthorized")
			}
		}
		assert.Equal(t, 1, placed, "orders placed by one signed request")
		orders := tr.Do("GET", "/orders?status=all", nil)
		assert.Len(t, orders.Items(), 1)
	})
}

// Finding 2: unauthenticated logins cannot make password hashing take memory without bound:
// a burst for unknown e-mails is answered 401 or shed with 503 and Retry-After, and the
// process's peak memory grows by a few hashes' worth, not one per request.
func TestConcurrentHashingIsBounded(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		before, err := p.PeakRSS()
		if err != nil {
			t.Skipf("no peak memory figure on this system: %v", err)
		}
		const n = 100
		var wg sync.WaitGroup
		codes := make([]int, n)
		retry := make([]string, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, hdr, _, err := p.Raw("POST", "/auth/login", []byte(fmt.Sprintf(`{"email":"nobody-%d-%d@example.com","password":"some password or other"}`, i, time.Now().UnixNano())),
					"Content-Type", "application/json")
				if assert.NoError(t, err) {
					codes[i], retry[i] = st, hdr.Get("Retry-After")
				}
			}()
		}
		wg.Wait()
		for i, c := range codes {
			switch c {
			case 401:
			case 503, 429:
				assert.NotEmpty(t, retry[i], "shed without Retry-After")
			default:
				assert.Failf(t, "unexpected status", "login %d answered %d", i, c)
			}
		}
		after, err := p.PeakRSS()
		require.NoError(t, err)
		growth := (after - before) >> 20
		t.Logf("peak RSS %d MiB -> %d MiB for %d concurrent logins", before>>20, after>>20, n)
		// Unbounded, 100 argon2id hashes of 19 MiB would take some 1.9 GiB.
		assert.Less(t, growth, int64(400), "peak memory grew by %d MiB", growth)
	})
}

// Finding 3: a spoofed X-Forwarded-For or X-Real-IP gets no fresh limit; behind a trusted
// proxy the forwarded address counts, and then (finding 18) an outsider guessing a trader's
// password from their address cannot lock the trader out of theirs.
func TestSpoofedForwardingAndOutsiderLockout(t *testing.T) {
	suite.StartBackends(t, []string{"AUTH_RATE_LIMIT_PER_MINUTE=5"}, func(t *testing.T, p *platformtest.Platform) {
		anon := p.Client(t)
		var codes []int
		for i := 0; i < 8; i++ {
			ip := "203.0.113." + strconv.Itoa(i+1)
			r := anon.Do("POST", "/auth/login", map[string]string{"email": "spoof@example.com", "password": "some password or other"},
				"X-Forwarded-For", ip, "X-Real-IP", ip)
			codes = append(codes, r.Status)
		}
		assert.Equal(t, []int{401, 401, 401, 401, 401, 429, 429, 429}, codes, "each spoofed address got a fresh limit")
	})
	suite.StartBackends(t, []string{"TRUSTED_PROXIES=127.0.0.1/32"}, func(t *testing.T, p *platformtest.Platform) {
		tr := register(t, p, "victim")
		anon := p.Client(t)
		for i := 0; i < 20; i++ {
			r := anon.Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": "guess " + strconv.Itoa(i) + " of many"},
				"X-Forwarded-For", "198.51.100.66")
			if i < 5 {
				want(t, r, 401, "unauthorized")
			} else {
				want(t, r, 429, "rate_limited")
			}
		}
		r := anon.Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": tr.Password}, "X-Forwarded-For", "192.0.2.10")
		want(t, r, 200, "")
		secrets.add(r.Str("access_token"))
		secrets.add(r.Str("refresh_token"))
	})
}

// Finding 4: concurrent wrong passwords are all counted before any is checked: no more
// guesses get a verdict than the budget allows. Finding 10: an unknown e-mail is throttled
// exactly like a known one.
func TestConcurrentGuessing(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		tr := register(t, p, "guessed")
		for _, email := range []string{tr.Email, "nobody-" + tr.Email} {
			var mu sync.Mutex
			counts := map[int]int{}
			// Some may be shed (503) before they claim anything, all of a burst but a few on a
			// busy machine: bursts go on until one is throttled, and across all of them none
			// beyond the budget of five gets a verdict on its password.
			const burst, maxBursts = 40, 10
			bursts := 0
			for ; bursts < maxBursts && counts[429] == 0; bursts++ {
				var wg sync.WaitGroup
				for i := 0; i < burst; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						st, _, _, err := p.Raw("POST", "/auth/login", []byte(`{"email":"`+email+`","password":"guess number `+strconv.Itoa(bursts*burst+i)+`"}`), "Content-Type", "application/json")
						if assert.NoError(t, err) {
							mu.Lock()
							counts[st]++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
			}
			assert.LessOrEqual(t, counts[401], 5, "%s: guesses checked (%v)", email, counts)
			assert.Equal(t, bursts*burst, counts[401]+counts[429]+counts[503], "%s: %v", email, counts)
			assert.Positive(t, counts[429], "%s: nothing throttled in %d bursts (%v)", email, bursts, counts)
		}
		// The throttle holds even for the right password.
		want(t, p.Client(t).Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": tr.Password}), 429, "rate_limited")
	})
}

// Finding 5: methods and paths a client makes up do not become metric labels.
func TestMetricLabelCardinality(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		for i := 0; i < 20; i++ {
			_, _, _, err := p.Raw("X"+strconv.Itoa(i)+"Y", "/markets", nil)
			require.NoError(t, err)
			_, _, _, err = p.Raw("GET", "/no-such-route/"+strconv.Itoa(i), nil)
			require.NoError(t, err)
		}
		res, err := http.Get(p.MetricsURL())
		require.NoError(t, err)
		defer res.Body.Close()
		text := readAll(t, res)
		assert.NotContains(t, text, `method="X1Y"`)
		assert.NotContains(t, text, "no-such-route")
		methods := regexp.MustCompile(`cantondex_http_request_duration_seconds_count\{[^}]*method="([^"]*)"`).FindAllStringSubmatch(text, -1)
		require.NotEmpty(t, methods, "no request metric")
		for _, m := range methods {
			assert.Contains(t, []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "OTHER"}, m[1])
		}
	})
}

// Finding 6: a market whose bounds the engine cannot represent is refused and not created.
func TestEngineIncompatibleMarket(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		adm := adminClient(t, p)
		for _, maxPrice := range []string{"100000000000000", "10995116277.77"} { // 10^16 ticks; 2^40 + 1 ticks
			r := adm.Do("POST", "/admin/markets", map[string]string{"symbol": "USD-BTC", "base": "USD", "quote": "BTC", "tick_size": "0.01",
				"lot_size": "0.01", "min_price": "0.01", "max_price": maxPrice, "min_quantity": "0.01", "max_quantity": "100"})
			want(t, r, 400, "invalid")
		}
		want(t, p.Client(t).Do("GET", "/markets/USD-BTC", nil), 404, "not_found")
	})
}

// Finding 7: a deposit near the integer limit is refused, and nothing is credited.
func TestDepositOverflow(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		adm := adminClient(t, p)
		tr := register(t, p, "rich")
		before := snapshot(t, tr.Client)
		for _, c := range []struct{ asset, amount string }{{"USD", "9223372036854.775807"}, {"BTC", "92233720368.54775807"}, {"USD", "1000000000.000001"}} {
			want(t, adm.Do("POST", "/admin/deposits", map[string]string{"id": "of-" + c.asset + c.amount, "account": tr.ID, "asset": c.asset, "amount": c.amount}), 400, "invalid")
		}
		assert.Equal(t, before, snapshot(t, tr.Client), "a refused deposit changed the balance")
	})
}

// Finding 8: logout, refresh-token reuse and a password change end access tokens at once.
func TestRevocationEndsAccessTokens(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		tr := register(t, p, "revoked")
		anon := p.Client(t)
		login := func() *platformtest.Response {
			r := anon.Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": tr.Password})
			want(t, r, 200, "")
			secrets.add(r.Str("access_token"))
			secrets.add(r.Str("refresh_token"))
			return r
		}
		// Logout.
		want(t, anon.Do("POST", "/auth/logout", map[string]string{"refresh_token": tr.Refresh}), 204, "")
		want(t, tr.Do("GET", "/balances", nil), 401, "unauthorized")
		// Reuse of a rotated refresh token ends every session.
		a, b := login(), login()
		next := anon.Do("POST", "/auth/refresh", map[string]string{"refresh_token": a.Str("refresh_token")})
		want(t, next, 200, "")
		secrets.add(next.Str("access_token"))
		secrets.add(next.Str("refresh_token"))
		want(t, anon.Do("POST", "/auth/refresh", map[string]string{"refresh_token": a.Str("refresh_token")}), 401, "unauthorized")
		for _, at := range []string{a.Str("access_token"), b.Str("access_token"), next.Str("access_token")} {
			want(t, anon.As(at).Do("GET", "/balances", nil), 401, "unauthorized")
		}
		// A password change ends the other sessions, not this one.
		cur, other := login(), login()
		newPassword := "a fresh passphrase for " + tr.ID
		secrets.add(newPassword)
		want(t, anon.As(cur.Str("access_token")).Do("POST", "/auth/password", map[string]string{"current_password": tr.Password, "new_password": newPassword}), 204, "")
		want(t, anon.As(other.Str("access_token")).Do("GET", "/balances", nil), 401, "unauthorized")
		want(t, anon.As(cur.Str("access_token")).Do("GET", "/balances", nil), 200, "")
		want(t, anon.Do("POST", "/auth/refresh", map[string]string{"refresh_token": other.Str("refresh_token")}), 401, "unauthorized")
	})
}

// Finding 10: registration and password reset answer alike whether or not an e-mail exists,
// and registering an existing e-mail changes nothing. Finding 11: weak passwords are refused.
// The reset flow: a single-use token (the local mailer logs it) that ends every session.
func TestEnumerationAndPasswords(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		tr := register(t, p, "known")
		anon := p.Client(t)
		other := "a different passphrase here"
		known := anon.Do("POST", "/auth/register", map[string]string{"email": tr.Email, "password": other})
		fresh := anon.Do("POST", "/auth/register", map[string]string{"email": "fresh-" + tr.Email, "password": other})
		assert.Equal(t, fresh.Status, known.Status)
		assert.Equal(t, string(fresh.Body), string(known.Body))
		want(t, anon.Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": other}), 401, "unauthorized")
		for _, weak := range []string{"aaaaaaaaaaaa", "password1234", "Password1234!", "qwertyuiop12", "123456789012"} {
			want(t, anon.Do("POST", "/auth/register", map[string]string{"email": "weak-" + tr.Email, "password": weak}), 400, "invalid")
		}
		want(t, anon.Do("POST", "/auth/login", map[string]string{"email": "weak-" + tr.Email, "password": "aaaaaaaaaaaa"}), 401, "unauthorized")

		r1 := anon.Do("POST", "/auth/password-reset", map[string]string{"email": tr.Email})
		r2 := anon.Do("POST", "/auth/password-reset", map[string]string{"email": "nobody-" + tr.Email})
		want(t, r1, 202, "")
		assert.Equal(t, string(r1.Body), string(r2.Body))
		var token string
		platformtest.Eventually(t, "the reset token in the log", func() bool {
			m := regexp.MustCompile(`email=`+regexp.QuoteMeta(tr.Email)+` reset_token=(pr_[A-Za-z0-9_-]+)`).FindAllStringSubmatch(p.Logs(), -1)
			if len(m) > 0 {
				token = m[len(m)-1][1]
			}
			return token != ""
		})
		assert.NotContains(t, p.Logs(), "email=nobody-"+tr.Email+" reset_token")
		want(t, anon.Do("POST", "/auth/password-reset/confirm", map[string]string{"token": token, "new_password": "password1234"}), 400, "invalid")
		reset := "a passphrase from the reset " + tr.ID
		secrets.add(reset)
		want(t, anon.Do("POST", "/auth/password-reset/confirm", map[string]string{"token": token, "new_password": reset}), 204, "")
		want(t, anon.Do("POST", "/auth/password-reset/confirm", map[string]string{"token": token, "new_password": reset + " again"}), 401, "unauthorized")
		want(t, tr.Do("GET", "/balances", nil), 401, "unauthorized")
		l := anon.Do("POST", "/auth/login", map[string]string{"email": tr.Email, "password": reset})
		want(t, l, 200, "")
		secrets.add(l.Str("access_token"))
		secrets.add(l.Str("refresh_token"))
	})
}

// Finding 14: NUL and invalid UTF-8 in cursors, key labels and the X-CDX-Key header are
// refused (400 or 401, never 500), and nothing is stored.
func TestMalformedText(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		tr := register(t, p, "text")
		before := snapshot(t, tr.Client)
		for _, path := range []string{"/orders?cursor=%00", "/orders?cursor=%C3%28", "/trades?cursor=a%00b", "/api-keys?cursor=%FF", "/orders?market=BTC-USD%00"} {
			st, _, body, err := p.Raw("GET", path, nil, "Authorization", "Bearer "+tr.Token)
			require.NoError(t, err)
			assert.Equal(t, 400, st, "%s: %s", path, body)
		}
		for _, label := range []string{"bot\u0000", "bot\x07", "\u001b[31mred"} {
			want(t, tr.Do("POST", "/api-keys", map[string]any{"label": label, "scopes": []string{"read"}}), 400, "invalid")
		}
		st, _, body, err := p.Raw("POST", "/api-keys", []byte("{\"label\":\"bad \xff utf-8\",\"scopes\":[\"read\"]}"), "Authorization", "Bearer "+tr.Token, "Content-Type", "application/json")
		require.NoError(t, err)
		assert.Equal(t, 400, st, "%s", body)
		for _, key := range []string{"ak_\u00e9\u00e9", "ak_" + strings.Repeat("f", 32) + "\u00ff", "AK_" + strings.Repeat("0", 32)} {
			st, _, body, err := p.Raw("GET", "/balances", nil, "X-CDX-Key", key, "X-CDX-Timestamp", strconv.FormatInt(time.Now().Unix(), 10), "X-CDX-Signature", strings.Repeat("0", 64))
			require.NoError(t, err)
			assert.Equal(t, 401, st, "%q: %s", key, body)
		}
		assert.Equal(t, before, snapshot(t, tr.Client))
	})
}

// Finding 15: duplicate and non-exact keys are refused; a "buy" cannot become a sell.
func TestDuplicateAndCaseFoldedKeys(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		tr := register(t, p, "dupes")
		fund(t, p, tr, "USD", "1000")
		before := snapshot(t, tr.Client)
		for _, body := range []string{
			`{"market":"BTC-USD","side":"buy","type":"limit","price":"10.00","quantity":"0.001","side":"sell"}`,
			`{"market":"BTC-USD","Side":"sell","type":"limit","price":"10.00","quantity":"0.001"}`,
			`{"MARKET":"BTC-USD","side":"buy","type":"limit","price":"10.00","quantity":"0.001"}`,
			`{"market":"BTC-USD","side":"buy","type":"limit","price":"10.00","quantity":"0.001","quantity":"100"}`,
		} {
			want(t, tr.Do("POST", "/orders", body), 400, "invalid")
		}
		want(t, p.Client(t).Do("POST", "/auth/login", `{"email":"a@example.com","password":"x","email":"b@example.com"}`), 400, "invalid")
		assert.Equal(t, before, snapshot(t, tr.Client))
	})
}

// Finding 16: admin actions on accounts that do not exist are 404 and change nothing.
func TestAdminActionsOnUnknownAccounts(t *testing.T) {
	suite.Backends(t, func(t *testing.T, p *platformtest.Platform) {
		adm := adminClient(t, p)
		for _, acct := range []string{"nobody-at-all", "00000000-0000-0000-0000-000000000000"} {
			want(t, adm.Do("POST", "/admin/deposits", map[string]string{"id": "ghost-" + acct, "account": acct, "asset": "USD", "amount": "1"}), 404, "not_found")
			want(t, adm.Do("POST", "/admin/accounts/"+acct+"/kill-switch", map[string]bool{"on": true}), 404, "not_found")
		}
		// The same deposit id for a real account is still free: nothing was recorded.
		tr := register(t, p, "real")
		want(t, adm.Do("POST", "/admin/deposits", map[string]string{"id": "ghost-nobody-at-all", "account": tr.ID, "asset": "USD", "amount": "1"}), 201, "")
	})
}

// Also noted: a client's X-Request-Id is echoed only when well formed; public market data is
// limited per address.
func TestRequestIDsAndMarketDataLimits(t *testing.T) {
	suite.StartBackends(t, []string{"PUBLIC_RATE_LIMIT_PER_SECOND=3"}, func(t *testing.T, p *platformtest.Platform) {
		c := p.Client(t)
		assert.Equal(t, "trace-0123456789", c.Do("GET", "/markets", nil, "X-Request-Id", "trace-0123456789").Header.Get("X-Request-Id"))
		for _, bad := range []string{"<script>x</script>", "evil id with spaces", strings.Repeat("a", 100)} {
			assert.NotEqual(t, bad, c.Do("GET", "/markets", nil, "X-Request-Id", bad).Header.Get("X-Request-Id"))
		}
		limited := 0
		for i := 0; i < 10; i++ {
			r := c.Do("GET", "/markets/BTC-USD/ticker", nil)
			if r.Status == 429 {
				limited++
				assert.NotEmpty(t, r.Header.Get("Retry-After"))
			} else {
				want(t, r, 200, "")
			}
		}
		assert.GreaterOrEqual(t, limited, 5, "market data answered without a limit")
	})
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
