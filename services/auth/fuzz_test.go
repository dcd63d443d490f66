package auth_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

// FuzzAuthenticate sends the bearer token parser arbitrary tokens, most of them mutations of
// a genuine one: it must never panic, and only the genuine token, spelled exactly as issued,
// authenticates.
func FuzzAuthenticate(f *testing.F) {
	s := newService(f)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "fuzz@example.com", pw, auth.RoleTrader)
	if err != nil {
		f.Fatal(err)
	}
	tok, err := s.Login(ctx, u.Email, pw, addr)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{tok.AccessToken, "", "at1.", "at1..", "at1.e30.", tok.AccessToken + "=", strings.ToUpper(tok.AccessToken),
		strings.Replace(tok.AccessToken, ".", "\n.", 1), tok.RefreshToken} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := s.Authenticate(ctx, token)
		if token == tok.AccessToken {
			if err != nil || p.UserID != u.ID {
				t.Fatalf("the genuine token: %+v %v", p, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("authenticated %q as %+v", token, p)
		}
		if trading.ErrorCode(err) != trading.EUNAUTHORIZED {
			t.Fatalf("%q: %v", token, err)
		}
	})
}

// FuzzSignatureHeaders sends the API key signature check arbitrary key ids, timestamps and
// signatures: it must never panic, and it accepts a request only with the key's id, a
// timestamp in the window and the true signature (in any letter case), once.
func FuzzSignatureHeaders(f *testing.F) {
	s := newService(f)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "sig@example.com", pw, auth.RoleTrader)
	if err != nil {
		f.Fatal(err)
	}
	k, err := s.CreateAPIKey(ctx, u.ID, "fuzz", []auth.Scope{auth.ScopeRead})
	if err != nil {
		f.Fatal(err)
	}
	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	sig := auth.Sign(k.Secret, ts, "GET", "/api/v1/balances", nil)
	f.Add(k.ID, ts, sig)
	f.Add(k.ID, ts, strings.ToUpper(sig))
	f.Add(strings.ToUpper(k.ID), ts, sig)
	f.Add(k.ID, "+"+ts, sig)
	f.Add(k.ID+"\x00", ts, sig)
	f.Add("ak_", "", "")
	used := map[string]bool{}
	f.Fuzz(func(t *testing.T, keyID, timestamp, signature string) {
		_, err := s.VerifySigned(ctx, keyID, timestamp, signature, "GET", "/api/v1/balances", nil)
		genuine := keyID == k.ID && timestamp == ts && strings.EqualFold(signature, sig)
		switch {
		case err == nil && !genuine:
			t.Fatalf("accepted key %q timestamp %q signature %q", keyID, timestamp, signature)
		case err == nil && used[strings.ToLower(signature)]:
			t.Fatalf("accepted the signature twice (as %q)", signature)
		case err == nil:
			used[strings.ToLower(signature)] = true
		case trading.ErrorCode(err) != trading.EUNAUTHORIZED:
			t.Fatalf("%q %q %q: %v", keyID, timestamp, signature, err)
		}
	})
}
