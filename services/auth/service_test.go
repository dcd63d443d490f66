package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/auth/memory"
	"github.com/cantondex/platform/services/trading"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newService(t *testing.T) (*auth.Service, *clock) {
	return newServiceKey(t, "k")
}

func newServiceKey(t *testing.T, key string) (*auth.Service, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, err := auth.NewService(memory.NewStore(), memory.NewNonces(c.Now), auth.Config{
		TokenKey: []byte(strings.Repeat(key, 32)),
		SealKey:  []byte(strings.Repeat("s", 32)),
		Hash:     auth.HashParams{MemoryKiB: 64, Time: 1, Threads: 1},
		Now:      c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := trading.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

const pw = "correct horse battery"

func TestRegisterValidates(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	for _, tc := range []struct{ email, password string }{
		{"not-an-email", pw},
		{"a@b", pw},
		{"Name <a@example.com>", pw},
		{"a@example.com", "short"},
		{"a@example.com", strings.Repeat("x", 129)},
		{"'; DROP TABLE users;--@x.com", pw},
	} {
		_, err := s.Register(ctx, tc.email, tc.password)
		wantCode(t, err, trading.EINVALID)
	}
	u, err := s.Register(ctx, "  Alice@Example.com ", pw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "alice@example.com" || u.Role != auth.RoleTrader || strings.Contains(u.PasswordHash, pw) {
		t.Fatalf("user %+v", u)
	}
	_, err = s.Register(ctx, "alice@example.com", pw)
	wantCode(t, err, trading.ECONFLICT)
}

func TestLoginAndAccessToken(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	u, _ := s.Register(ctx, "bob@example.com", pw)
	_, err := s.Login(ctx, "bob@example.com", "wrong password!!")
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err2 := s.Login(ctx, "nobody@example.com", pw)
	if trading.ErrorMessage(err) != trading.ErrorMessage(err2) {
		t.Fatalf("unknown email and wrong password must answer alike: %v / %v", err, err2)
	}
	tok, err := s.Login(ctx, "BOB@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, tok.AccessToken)
	if err != nil || p.UserID != u.ID || p.Role != auth.RoleTrader || !p.Can(auth.ScopeTrade) {
		t.Fatalf("principal %+v, %v", p, err)
	}
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
	other, _ := newServiceKey(t, "o")
	_, _ = other.Register(ctx, "bob@example.com", pw)
	otherTok, _ := other.Login(ctx, "bob@example.com", pw)
	_, err = s.Authenticate(ctx, otherTok.AccessToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	// Expiry.
	c.Advance(15*time.Minute - time.Second)
	if _, err := s.Authenticate(ctx, tok.AccessToken); err != nil {
		t.Fatalf("token expired early: %v", err)
	}
	c.Advance(time.Second)
	_, err = s.Authenticate(ctx, tok.AccessToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
}

func TestLockoutWithBackoff(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	_, _ = s.Register(ctx, "carol@example.com", pw)
	fail := func() error { _, err := s.Login(ctx, "carol@example.com", "wrong password!!"); return err }
	for i := 0; i < 4; i++ {
		wantCode(t, fail(), trading.EUNAUTHORIZED)
	}
	wantCode(t, fail(), trading.EUNAUTHORIZED) // fifth: locks for 30s
	_, err := s.Login(ctx, "carol@example.com", pw)
	var locked *auth.LockedError
	if !errors.As(err, &locked) || locked.RetryAfter() != 30*time.Second {
		t.Fatalf("correct password while locked: %v", err)
	}
	wantCode(t, err, trading.ERATELIMIT)
	c.Advance(30 * time.Second)
	wantCode(t, fail(), trading.EUNAUTHORIZED) // sixth: 60s
	_, err = s.Login(ctx, "carol@example.com", pw)
	if !errors.As(err, &locked) || locked.RetryAfter() != 60*time.Second {
		t.Fatalf("backoff did not double: %v", err)
	}
	c.Advance(60 * time.Second)
	if _, err := s.Login(ctx, "carol@example.com", pw); err != nil {
		t.Fatalf("login after lock: %v", err)
	}
	// Success resets the count: four more failures do not lock.
	for i := 0; i < 4; i++ {
		wantCode(t, fail(), trading.EUNAUTHORIZED)
	}
	if _, err := s.Login(ctx, "carol@example.com", pw); err != nil {
		t.Fatalf("count not reset: %v", err)
	}
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	u, _ := s.Register(ctx, "dan@example.com", pw)
	t1, _ := s.Login(ctx, "dan@example.com", pw)
	t2, err := s.Refresh(ctx, t1.RefreshToken)
	if err != nil || t2.UserID != u.ID || t2.RefreshToken == t1.RefreshToken {
		t.Fatalf("refresh: %+v %v", t2, err)
	}
	if _, err := s.Authenticate(ctx, t2.AccessToken); err != nil {
		t.Fatal(err)
	}
	// Reusing t1's refresh token is theft: it fails and revokes t2's too.
	_, err = s.Refresh(ctx, t1.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Refresh(ctx, t2.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)

	t3, _ := s.Login(ctx, "dan@example.com", pw)
	if err := s.Logout(ctx, t3.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = s.Refresh(ctx, t3.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)

	t4, _ := s.Login(ctx, "dan@example.com", pw)
	c.Advance(7*24*time.Hour + time.Second)
	_, err = s.Refresh(ctx, t4.RefreshToken)
	wantCode(t, err, trading.EUNAUTHORIZED)
	for _, bad := range []string{"", "rt_", "x", t4.AccessToken} {
		_, err = s.Refresh(ctx, bad)
		wantCode(t, err, trading.EUNAUTHORIZED)
	}
}

func TestAPIKeySigning(t *testing.T) {
	ctx := context.Background()
	s, c := newService(t)
	u, _ := s.Register(ctx, "erin@example.com", pw)
	other, _ := s.Register(ctx, "frank@example.com", pw)
	_, err := s.CreateAPIKey(ctx, u.ID, "bot", nil)
	wantCode(t, err, trading.EINVALID)
	_, err = s.CreateAPIKey(ctx, u.ID, "bot", []auth.Scope{"admin"})
	wantCode(t, err, trading.EINVALID)
	k, err := s.CreateAPIKey(ctx, u.ID, "bot", []auth.Scope{auth.ScopeRead, auth.ScopeRead})
	if err != nil || len(k.Scopes) != 1 || k.Secret == "" {
		t.Fatalf("key %+v %v", k, err)
	}
	keys, _ := s.APIKeys(ctx, u.ID)
	if len(keys) != 1 || strings.Contains(string(keys[0].Sealed), k.Secret) {
		t.Fatalf("keys %+v", keys)
	}

	ts := strconv.FormatInt(c.Now().Unix(), 10)
	body := []byte(`{"market":"BTC-USD"}`)
	sig := auth.Sign(k.Secret, ts, "POST", "/api/v1/orders", body)
	p, err := s.VerifySigned(ctx, k.ID, ts, sig, "POST", "/api/v1/orders", body)
	if err != nil || p.UserID != u.ID || p.KeyID != k.ID || p.Can(auth.ScopeTrade) || !p.Can(auth.ScopeRead) {
		t.Fatalf("principal %+v %v", p, err)
	}
	_, err = s.VerifySigned(ctx, k.ID, ts, sig, "POST", "/api/v1/orders", body)
	wantCode(t, err, trading.EUNAUTHORIZED) // replay

	verify := func(ts, path string, body []byte, sig string) error {
		_, err := s.VerifySigned(ctx, k.ID, ts, sig, "POST", path, body)
		return err
	}
	fresh := func(ts string) string { return auth.Sign(k.Secret, ts, "POST", "/api/v1/orders", body) }
	wantCode(t, verify(ts, "/api/v1/orders", []byte(`{"market":"ETH-USD"}`), fresh(ts)), trading.EUNAUTHORIZED)
	wantCode(t, verify(ts, "/api/v1/orders?x=1", body, fresh(ts)), trading.EUNAUTHORIZED)
	old := strconv.FormatInt(c.Now().Add(-31*time.Second).Unix(), 10)
	wantCode(t, verify(old, "/api/v1/orders", body, fresh(old)), trading.EUNAUTHORIZED)
	future := strconv.FormatInt(c.Now().Add(31*time.Second).Unix(), 10)
	wantCode(t, verify(future, "/api/v1/orders", body, fresh(future)), trading.EUNAUTHORIZED)
	wantCode(t, verify("abc", "/api/v1/orders", body, fresh("abc")), trading.EUNAUTHORIZED)
	forged := auth.Sign("not the secret", ts, "POST", "/api/v1/orders", body)
	wantCode(t, verify(ts, "/api/v1/orders", body, forged), trading.EUNAUTHORIZED)
	edge := strconv.FormatInt(c.Now().Add(-30*time.Second).Unix(), 10)
	if err := verify(edge, "/api/v1/orders", body, fresh(edge)); err != nil {
		t.Fatalf("inside window: %v", err)
	}

	wantCode(t, s.RevokeAPIKey(ctx, other.ID, k.ID), trading.ENOTFOUND)
	if err := s.RevokeAPIKey(ctx, u.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	ts = strconv.FormatInt(c.Now().Unix(), 10)
	wantCode(t, verify(ts, "/api/v1/orders", body, fresh(ts)), trading.EUNAUTHORIZED)
}
