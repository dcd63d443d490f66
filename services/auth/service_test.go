package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/auth/authtest"
	"github.com/cantondex/platform/services/auth/memory"
	"github.com/cantondex/platform/services/trading"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	*auth.Service
	clock *clock
	mail  *authtest.Mailbox
}

func newService(t testing.TB) fixture { return newServiceWith(t, "k", nil) }

func newServiceWith(t testing.TB, key string, tune func(*auth.Config)) fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	mb := &authtest.Mailbox{}
	cfg := auth.Config{
		TokenKey: []byte(strings.Repeat(key, 32)),
		SealKey:  []byte(strings.Repeat("s", 32)),
		Hash:     auth.HashParams{MemoryKiB: 64, Time: 1, Threads: 1},
		HashWait: time.Minute, // tests are not about shedding, except where they say so
		Mailer:   mb,
		Now:      c.Now,
	}
	if tune != nil {
		tune(&cfg)
	}
	s, err := auth.NewService(memory.NewStore(), memory.NewNonces(c.Now), cfg)
	require.NoError(t, err)
	return fixture{Service: s, clock: c, mail: mb}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	assert.Equal(t, code, trading.ErrorCode(err), "error %v", err)
}

const (
	pw   = "correct horse battery"
	addr = "192.0.2.1"
)

func register(t *testing.T, s fixture, email string) auth.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), email, pw, auth.RoleTrader)
	require.NoError(t, err)
	return u
}

func TestRegisterValidates(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	for _, tc := range []struct{ email, password string }{
		{"not-an-email", pw},
		{"a@b", pw},
		{"Name <a@example.com>", pw},
		{"a@example.com", "short"},
		{"a@example.com", strings.Repeat("x", 129)},
		{"'; DROP TABLE users;--@x.com", pw},
		{"a\x00@example.com", pw},
		{"a@example.com", "correct horse\x00battery"},
		{"a@example.com", "correct horse \xff battery"},
	} {
		wantCode(t, s.Register(ctx, tc.email, tc.password), trading.EINVALID)
	}
	require.NoError(t, s.Register(ctx, "  Alice@Example.com ", pw))
	tok, err := s.Login(ctx, "alice@example.com", pw, addr)
	require.NoError(t, err)
	assert.Equal(t, auth.RoleTrader, tok.Role)
}

// Registering an e-mail that exists answers exactly as a new one and changes nothing.
func TestRegisterDoesNotTellWhoExists(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	require.NoError(t, s.Register(ctx, "alice@example.com", pw))
	assert.NoError(t, s.Register(ctx, "alice@example.com", "another long passphrase"))
	_, err := s.Login(ctx, "alice@example.com", "another long passphrase", addr)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Login(ctx, "alice@example.com", pw, addr)
	assert.NoError(t, err, "the second registration changed the password")
}

func TestPasswordPolicy(t *testing.T) {
	for _, weak := range []string{
		"aaaaaaaaaaaa", "password1234", "Password1234", "P@ssw0rd1234", "qwertyuiop12", "123456789012",
		"abcdefghijkl", "abcabcabcabc", "iloveyou1234", "passwordpassword", "!!football!!", "correcthorsebatterystaple",
		"alice.smith99", "ALICE.SMITH@@",
	} {
		wantCode(t, auth.CheckPassword(weak, "alice.smith@example.com"), trading.EINVALID)
	}
	for _, ok := range []string{pw, "tangerine ocelot umbrella", "Ʃ unicode passphrase ✓", "zebra-quartz-9-lantern"} {
		assert.NoError(t, auth.CheckPassword(ok, "alice.smith@example.com"), ok)
	}
}

func TestLoginAndAccessToken(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u := register(t, s, "bob@example.com")
	_, err := s.Login(ctx, "bob@example.com", "wrong password!!", addr)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err2 := s.Login(ctx, "nobody@example.com", pw, addr)
	assert.Equal(t, trading.ErrorMessage(err), trading.ErrorMessage(err2), "unknown email and wrong password must answer alike")
	tok, err := s.Login(ctx, "BOB@example.com", pw, addr)
	require.NoError(t, err)
	p, err := s.Authenticate(ctx, tok.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, u.ID, p.UserID)
	assert.Equal(t, auth.RoleTrader, p.Role)
	assert.True(t, p.Can(auth.ScopeTrade))
	assert.NotEmpty(t, p.SessionID)
	// Forge a token claiming admin by editing the payload: the MAC no longer matches.
	parts := strings.Split(tok.AccessToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), `"trader"`, `"admin"`, 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	_, err = s.Authenticate(ctx, strings.Join(parts, "."))
	wantCode(t, err, trading.EUNAUTHORIZED)
	for _, bad := range []string{"", "at1.", "at1..", "Bearer x", tok.AccessToken + "x", tok.RefreshToken} {
		_, err = s.Authenticate(ctx, bad)
		wantCode(t, err, trading.EUNAUTHORIZED)
	}
	// A token from another service key is rejected.
	other := newServiceWith(t, "o", nil)
	register(t, other, "bob@example.com")
	otherTok, _ := other.Login(ctx, "bob@example.com", pw, addr)
	_, err = s.Authenticate(ctx, otherTok.AccessToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	// Expiry.
	s.clock.Advance(15*time.Minute - time.Second)
	_, err = s.Authenticate(ctx, tok.AccessToken)
	require.NoError(t, err, "token expired early")
	s.clock.Advance(time.Second)
	_, err = s.Authenticate(ctx, tok.AccessToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
}

// respell returns other spellings of the same base64url bytes: the last character with other
// padding bits, and the text with a line break in it (which decoders skip).
func respell(t *testing.T, b64 string) []string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	want, err := base64.RawURLEncoding.DecodeString(b64)
	require.NoError(t, err)
	var out []string
	for _, c := range alphabet {
		alt := b64[:len(b64)-1] + string(c)
		if alt == b64 {
			continue
		}
		if got, err := base64.RawURLEncoding.DecodeString(alt); err == nil && string(got) == string(want) {
			out = append(out, alt)
		}
	}
	if len(want)%3 != 0 { // spare bits in the last character
		require.NotEmpty(t, out, "no other spelling of %q", b64)
	}
	return append(out, b64[:4]+"\n"+b64[4:], b64[:4]+"\r"+b64[4:])
}

// Tokens have one accepted spelling.
func TestTokensAreCanonical(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	register(t, s, "canon@example.com")
	tok, err := s.Login(ctx, "canon@example.com", pw, addr)
	require.NoError(t, err)
	_, err = s.Authenticate(ctx, tok.AccessToken) // verified, remembered: respellings still are not
	require.NoError(t, err)
	parts := strings.Split(tok.AccessToken, ".")
	for _, sig := range respell(t, parts[2]) {
		_, err := s.Authenticate(ctx, parts[0]+"."+parts[1]+"."+sig)
		wantCode(t, err, trading.EUNAUTHORIZED)
	}
	for _, payload := range respell(t, parts[1]) {
		_, err := s.Authenticate(ctx, parts[0]+"."+payload+"."+parts[2])
		wantCode(t, err, trading.EUNAUTHORIZED)
	}
	for _, rt := range respell(t, strings.TrimPrefix(tok.RefreshToken, "rt_")) {
		_, err := s.Refresh(ctx, "rt_"+rt)
		wantCode(t, err, trading.EUNAUTHORIZED)
	}
	_, err = s.Refresh(ctx, tok.RefreshToken)
	assert.NoError(t, err, "the canonical refresh token was burnt by its respellings")
}

// The budget is taken before the password is checked: concurrent guesses cannot overrun it.
func TestConcurrentGuessesStayWithinTheBudget(t *testing.T) {
	ctx := context.Background()
	s := newServiceWith(t, "k", func(c *auth.Config) { c.HashWorkers = 8 })
	register(t, s, "carol@example.com")
	var checked, throttled atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Login(ctx, "carol@example.com", "wrong password "+strconv.Itoa(i), addr)
			switch trading.ErrorCode(err) {
			case trading.EUNAUTHORIZED:
				checked.Add(1)
			case trading.ERATELIMIT:
				throttled.Add(1)
			default:
				assert.Failf(t, "a guess neither checked nor throttled", "guess %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(5), checked.Load(), "guesses checked")
	assert.Equal(t, int64(35), throttled.Load(), "guesses throttled")
}

func TestThrottleWithBackoff(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	register(t, s, "carol@example.com")
	fail := func() error { _, err := s.Login(ctx, "carol@example.com", "wrong password!!", addr); return err }
	for i := 0; i < 5; i++ {
		wantCode(t, fail(), trading.EUNAUTHORIZED) // the fifth throttles the address for 30s
	}
	_, err := s.Login(ctx, "carol@example.com", pw, addr)
	var locked *auth.LockedError
	require.True(t, errors.As(err, &locked), "correct password while throttled: %v", err)
	assert.Equal(t, 30*time.Second, locked.RetryAfter())
	wantCode(t, err, trading.ERATELIMIT)
	s.clock.Advance(30 * time.Second)
	wantCode(t, fail(), trading.EUNAUTHORIZED) // sixth: 60s
	_, err = s.Login(ctx, "carol@example.com", pw, addr)
	require.True(t, errors.As(err, &locked), "%v", err)
	assert.Equal(t, 60*time.Second, locked.RetryAfter(), "backoff did not double")
	s.clock.Advance(60 * time.Second)
	_, err = s.Login(ctx, "carol@example.com", pw, addr)
	require.NoError(t, err, "login after the throttle")
	// Success restores the budget: four more failures do not throttle.
	for i := 0; i < 4; i++ {
		wantCode(t, fail(), trading.EUNAUTHORIZED)
	}
	_, err = s.Login(ctx, "carol@example.com", pw, addr)
	assert.NoError(t, err, "count not reset")
}

// An outsider guessing from their address slows only themselves: the trader, from theirs,
// still logs in. Unknown e-mails are throttled exactly like known ones.
func TestOutsiderCannotLockATraderOut(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	register(t, s, "dora@example.com")
	for _, email := range []string{"dora@example.com", "nobody@example.com"} {
		var codes []string
		for i := 0; i < 30; i++ {
			_, err := s.Login(ctx, email, "wrong password!!", "198.51.100.7")
			codes = append(codes, trading.ErrorCode(err))
		}
		assert.Equal(t, []string{"unauthorized", "unauthorized", "unauthorized", "unauthorized", "unauthorized"}, codes[:5], email)
		for _, c := range codes[5:] {
			assert.Equal(t, trading.ERATELIMIT, c, email)
		}
	}
	_, err := s.Login(ctx, "dora@example.com", pw, addr)
	assert.NoError(t, err, "the outsider locked the trader out")
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u := register(t, s, "dan@example.com")
	t1, _ := s.Login(ctx, "dan@example.com", pw, addr)
	t2, err := s.Refresh(ctx, t1.RefreshToken)
	require.NoError(t, err)
	assert.Equal(t, u.ID, t2.UserID)
	assert.NotEqual(t, t1.RefreshToken, t2.RefreshToken)
	_, err = s.Authenticate(ctx, t2.AccessToken)
	require.NoError(t, err)
	other, _ := s.Login(ctx, "dan@example.com", pw, addr)
	// Reusing t1's refresh token is theft: it fails and ends every session of the user,
	// access tokens included.
	_, err = s.Refresh(ctx, t1.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Refresh(ctx, t2.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	for _, at := range []string{t1.AccessToken, t2.AccessToken, other.AccessToken} {
		_, err = s.Authenticate(ctx, at)
		wantCode(t, err, trading.EUNAUTHORIZED)
	}

	t4, _ := s.Login(ctx, "dan@example.com", pw, addr)
	s.clock.Advance(7*24*time.Hour + time.Second)
	_, err = s.Refresh(ctx, t4.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	for _, bad := range []string{"", "rt_", "x", t4.AccessToken} {
		_, err = s.Refresh(ctx, bad)
		wantCode(t, err, trading.EUNAUTHORIZED)
	}
}

// Logout ends the session's access tokens at once, and no other session's.
func TestLogoutEndsAccessTokens(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	register(t, s, "eve@example.com")
	a, _ := s.Login(ctx, "eve@example.com", pw, addr)
	b, _ := s.Login(ctx, "eve@example.com", pw, addr)
	a2, err := s.Refresh(ctx, a.RefreshToken)
	require.NoError(t, err)
	for _, at := range []string{a.AccessToken, a2.AccessToken} { // verified before: remembered
		_, err := s.Authenticate(ctx, at)
		require.NoError(t, err)
	}
	require.NoError(t, s.Logout(ctx, a2.RefreshToken))
	for _, at := range []string{a.AccessToken, a2.AccessToken} {
		_, err := s.Authenticate(ctx, at)
		wantCode(t, err, trading.EUNAUTHORIZED)
	}
	_, err = s.Refresh(ctx, a2.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Authenticate(ctx, b.AccessToken)
	assert.NoError(t, err, "logout ended another session")
}

func TestChangePassword(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	register(t, s, "finn@example.com")
	cur, _ := s.Login(ctx, "finn@example.com", pw, addr)
	other, _ := s.Login(ctx, "finn@example.com", pw, addr)
	p, err := s.Authenticate(ctx, cur.AccessToken)
	require.NoError(t, err)
	const next = "tangerine ocelot umbrella"
	wantCode(t, s.ChangePassword(ctx, p, "wrong password!!", next, addr), trading.EUNAUTHORIZED)
	wantCode(t, s.ChangePassword(ctx, p, pw, "password1234", addr), trading.EINVALID)
	wantCode(t, s.ChangePassword(ctx, auth.Principal{UserID: p.UserID, KeyID: "ak_x"}, pw, next, addr), trading.EFORBIDDEN)
	require.NoError(t, s.ChangePassword(ctx, p, pw, next, addr))
	_, err = s.Authenticate(ctx, cur.AccessToken)
	assert.NoError(t, err, "the current session ended")
	_, err = s.Authenticate(ctx, other.AccessToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Refresh(ctx, other.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Login(ctx, "finn@example.com", pw, addr)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Login(ctx, "finn@example.com", next, addr)
	assert.NoError(t, err)
}

func TestPasswordReset(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	register(t, s, "gus@example.com")
	sess, _ := s.Login(ctx, "gus@example.com", pw, addr)
	// Unknown, malformed and known e-mails answer alike; only the known one gets mail.
	for _, e := range []string{"nobody@example.com", "not an email", "GUS@example.com"} {
		assert.NoError(t, s.RequestPasswordReset(ctx, e, addr))
	}
	assert.Empty(t, s.mail.Last("nobody@example.com"))
	token := s.mail.Last("gus@example.com")
	require.NotEmpty(t, token)
	const next = "tangerine ocelot umbrella"
	wantCode(t, s.ResetPassword(ctx, token, "aaaaaaaaaaaa"), trading.EINVALID)
	wantCode(t, s.ResetPassword(ctx, "pr_forged", next), trading.EUNAUTHORIZED)
	for _, alt := range respell(t, strings.TrimPrefix(token, "pr_")) {
		wantCode(t, s.ResetPassword(ctx, "pr_"+alt, next), trading.EUNAUTHORIZED)
	}
	require.NoError(t, s.ResetPassword(ctx, token, next))
	wantCode(t, s.ResetPassword(ctx, token, "another long passphrase"), trading.EUNAUTHORIZED) // single use
	_, err := s.Authenticate(ctx, sess.AccessToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Login(ctx, "gus@example.com", next, addr)
	require.NoError(t, err)
	// Expiry.
	require.NoError(t, s.RequestPasswordReset(ctx, "gus@example.com", "203.0.113.9"))
	late := s.mail.Last("gus@example.com")
	require.NotEqual(t, token, late)
	s.clock.Advance(30 * time.Minute)
	wantCode(t, s.ResetPassword(ctx, late, "another long passphrase"), trading.EUNAUTHORIZED)
	// An address past its budget sends nothing, and answers alike.
	for i := 0; i < 5; i++ {
		assert.NoError(t, s.RequestPasswordReset(ctx, "gus@example.com", "203.0.113.10"))
	}
	n := 0
	last := ""
	for i := 0; i < 5; i++ {
		_ = s.RequestPasswordReset(ctx, "gus@example.com", "203.0.113.11")
		if tok := s.mail.Last("gus@example.com"); tok != last {
			n++
			last = tok
		}
	}
	assert.Equal(t, 3, n, "reset mails sent from one address")
}

func TestAPIKeySigning(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u := register(t, s, "erin@example.com")
	other := register(t, s, "frank@example.com")
	_, err := s.CreateAPIKey(ctx, u.ID, "bot", nil)
	wantCode(t, err, trading.EINVALID)
	_, err = s.CreateAPIKey(ctx, u.ID, "bot", []auth.Scope{"admin"})
	wantCode(t, err, trading.EINVALID)
	_, err = s.CreateAPIKey(ctx, u.ID, "bot\x00", []auth.Scope{auth.ScopeRead})
	wantCode(t, err, trading.EINVALID)
	k, err := s.CreateAPIKey(ctx, u.ID, "bot", []auth.Scope{auth.ScopeRead, auth.ScopeRead})
	require.NoError(t, err)
	assert.Len(t, k.Scopes, 1)
	assert.NotEmpty(t, k.Secret)
	keys, next, err := s.APIKeys(ctx, u.ID, "", 50)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Empty(t, next)
	assert.NotContains(t, string(keys[0].Sealed), k.Secret)

	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	body := []byte(`{"market":"BTC-USD"}`)
	sig := auth.Sign(k.Secret, ts, "POST", "/api/v1/orders", body)
	p, err := s.VerifySigned(ctx, k.ID, ts, sig, "POST", "/api/v1/orders", body)
	require.NoError(t, err)
	assert.Equal(t, u.ID, p.UserID)
	assert.Equal(t, k.ID, p.KeyID)
	assert.False(t, p.Can(auth.ScopeTrade))
	assert.True(t, p.Can(auth.ScopeRead))
	_, err = s.VerifySigned(ctx, k.ID, ts, sig, "POST", "/api/v1/orders", body)
	wantCode(t, err, trading.EUNAUTHORIZED) // replay

	verify := func(ts, path string, body []byte, sig string) error {
		_, err := s.VerifySigned(ctx, k.ID, ts, sig, "POST", path, body)
		return err
	}
	fresh := func(ts string) string { return auth.Sign(k.Secret, ts, "POST", "/api/v1/orders", body) }
	wantCode(t, verify(ts, "/api/v1/orders", []byte(`{"market":"ETH-USD"}`), fresh(ts)), trading.EUNAUTHORIZED)
	wantCode(t, verify(ts, "/api/v1/orders?x=1", body, fresh(ts)), trading.EUNAUTHORIZED)
	old := strconv.FormatInt(s.clock.Now().Add(-31*time.Second).Unix(), 10)
	wantCode(t, verify(old, "/api/v1/orders", body, fresh(old)), trading.EUNAUTHORIZED)
	future := strconv.FormatInt(s.clock.Now().Add(31*time.Second).Unix(), 10)
	wantCode(t, verify(future, "/api/v1/orders", body, fresh(future)), trading.EUNAUTHORIZED)
	wantCode(t, verify("abc", "/api/v1/orders", body, fresh("abc")), trading.EUNAUTHORIZED)
	forged := auth.Sign("not the secret", ts, "POST", "/api/v1/orders", body)
	wantCode(t, verify(ts, "/api/v1/orders", body, forged), trading.EUNAUTHORIZED)
	edge := strconv.FormatInt(s.clock.Now().Add(-30*time.Second).Unix(), 10)
	require.NoError(t, verify(edge, "/api/v1/orders", body, fresh(edge)), "inside window")
	for _, bad := range []string{"ak_unknown", "ak_" + strings.Repeat("0", 32) + "\x00", strings.ToUpper(k.ID)} {
		_, err := s.VerifySigned(ctx, bad, ts, sig, "POST", "/api/v1/orders", body)
		wantCode(t, err, trading.EUNAUTHORIZED)
	}

	wantCode(t, s.RevokeAPIKey(ctx, other.ID, k.ID), trading.ENOTFOUND)
	require.NoError(t, s.RevokeAPIKey(ctx, u.ID, k.ID))
	s.clock.Advance(time.Second)
	ts = strconv.FormatInt(s.clock.Now().Unix(), 10)
	wantCode(t, verify(ts, "/api/v1/orders", body, fresh(ts)), trading.EUNAUTHORIZED)
}

// One signed request is accepted once, however its hex signature is spelled.
func TestSignatureReplayByAnySpelling(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u := register(t, s, "hal@example.com")
	k, err := s.CreateAPIKey(ctx, u.ID, "bot", []auth.Scope{auth.ScopeTrade})
	require.NoError(t, err)
	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	body := []byte(`{"market":"BTC-USD"}`)
	sig := auth.Sign(k.Secret, ts, "POST", "/api/v1/orders", body)
	mixed := []byte(sig)
	for i := range mixed {
		if i%2 == 0 {
			mixed[i] = strings.ToUpper(string(mixed[i]))[0]
		}
	}
	accepted := 0
	for _, spelling := range []string{strings.ToUpper(sig), sig, string(mixed)} {
		if _, err := s.VerifySigned(ctx, k.ID, ts, spelling, "POST", "/api/v1/orders", body); err == nil {
			accepted++
		} else {
			wantCode(t, err, trading.EUNAUTHORIZED)
		}
	}
	assert.Equal(t, 1, accepted, "spellings of one signature accepted")
}

func TestAPIKeyPages(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u := register(t, s, "ida@example.com")
	var ids []string
	for i := 0; i < 5; i++ {
		k, err := s.CreateAPIKey(ctx, u.ID, "k"+strconv.Itoa(i), []auth.Scope{auth.ScopeRead})
		require.NoError(t, err)
		ids = append(ids, k.ID)
		s.clock.Advance(time.Second)
	}
	var got []string
	cursor := ""
	for {
		keys, next, err := s.APIKeys(ctx, u.ID, cursor, 2)
		require.NoError(t, err)
		for _, k := range keys {
			got = append(got, k.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, ids, got)
	_, _, err := s.APIKeys(ctx, u.ID, "bad\x00cursor", 2)
	wantCode(t, err, trading.EINVALID)
}

// silentFeed is a session feed that listens and never reports: only the service's own
// revocations can end the sessions it reuses.
type silentFeed struct {
	*memory.Store
	listening chan struct{}
}

func (f silentFeed) WatchRevocations(ctx context.Context, listening, _ func()) error {
	listening()
	close(f.listening)
	<-ctx.Done()
	return ctx.Err()
}

// A revocation made through the service ends the sessions it reuses at once, before any feed
// reports it: logout, a password change (the user's other sessions), a reused refresh token
// (every session of the user) and a password reset.
func TestOwnRevocationsEndReusedSessionsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	mb := &authtest.Mailbox{}
	feed := silentFeed{Store: memory.NewStore(), listening: make(chan struct{})}
	s, err := auth.NewService(feed, memory.NewNonces(c.Now), auth.Config{
		TokenKey: []byte(strings.Repeat("k", 32)), SealKey: []byte(strings.Repeat("s", 32)),
		Hash: auth.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}, HashWait: time.Minute, Mailer: mb, Now: c.Now,
		SessionReuse: time.Hour,
	})
	require.NoError(t, err)
	go s.WatchSessions(ctx)
	<-feed.listening
	f := fixture{Service: s, clock: c, mail: mb}
	register(t, f, "gil@example.com")
	login := func() auth.Tokens {
		tok, err := s.Login(ctx, "gil@example.com", pw, addr)
		require.NoError(t, err)
		_, err = s.Authenticate(ctx, tok.AccessToken) // now reused
		require.NoError(t, err)
		return tok
	}
	ended := func(tok auth.Tokens, what string) {
		t.Helper()
		_, err := s.Authenticate(ctx, tok.AccessToken)
		wantCode(t, err, trading.EUNAUTHORIZED)
		if t.Failed() {
			t.Fatalf("%s did not end a reused session", what)
		}
	}

	tok := login()
	require.NoError(t, s.Logout(ctx, tok.RefreshToken))
	ended(tok, "logout")

	keep, other := login(), login()
	p, err := s.Authenticate(ctx, keep.AccessToken)
	require.NoError(t, err)
	require.NoError(t, s.ChangePassword(ctx, p, pw, "another correct horse", addr))
	ended(other, "a password change")
	_, err = s.Authenticate(ctx, keep.AccessToken)
	require.NoError(t, err, "the session that changed the password stays")

	stolen := func() auth.Tokens {
		tok, err := s.Login(ctx, "gil@example.com", "another correct horse", addr)
		require.NoError(t, err)
		_, err = s.Authenticate(ctx, tok.AccessToken)
		require.NoError(t, err)
		return tok
	}()
	_, err = s.Refresh(ctx, stolen.RefreshToken)
	require.NoError(t, err)
	_, err = s.Refresh(ctx, stolen.RefreshToken) // reused: theft
	wantCode(t, err, trading.EUNAUTHORIZED)
	ended(keep, "a reused refresh token")

	last, err := s.Login(ctx, "gil@example.com", "another correct horse", addr)
	require.NoError(t, err)
	_, err = s.Authenticate(ctx, last.AccessToken)
	require.NoError(t, err)
	require.NoError(t, s.RequestPasswordReset(ctx, "gil@example.com", addr))
	reset := mb.Last("gil@example.com")
	require.NotEmpty(t, reset, "reset mail")
	require.NoError(t, s.ResetPassword(ctx, reset, "a third correct horse"))
	ended(last, "a password reset")
}
