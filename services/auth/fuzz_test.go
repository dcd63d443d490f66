package auth_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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
	require.NoError(f, err)
	tok, err := s.Login(ctx, u.Email, pw, addr)
	require.NoError(f, err)
	for _, seed := range []string{tok.AccessToken, "", "at1.", "at1..", "at1.e30.", tok.AccessToken + "=", strings.ToUpper(tok.AccessToken),
		strings.Replace(tok.AccessToken, ".", "\n.", 1), tok.RefreshToken} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := s.Authenticate(ctx, token)
		if token == tok.AccessToken {
			require.NoError(t, err, "the genuine token")
			require.Equal(t, u.ID, p.UserID, "the genuine token's user")
			return
		}
		require.Error(t, err, "authenticated %q as %+v", token, p)
		require.Equal(t, trading.EUNAUTHORIZED, trading.ErrorCode(err), "%q: %v", token, err)
	})
}

// FuzzSignatureHeaders sends the API key signature check arbitrary key ids, timestamps and
// signatures: it must never panic, and it accepts a request only with the key's id, a
// timestamp in the window and the true signature (in any letter case), once.
func FuzzSignatureHeaders(f *testing.F) {
	s := newService(f)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "sig@example.com", pw, auth.RoleTrader)
	require.NoError(f, err)
	k, err := s.CreateAPIKey(ctx, u.ID, "fuzz", []auth.Scope{auth.ScopeRead})
	require.NoError(f, err)
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
		if err == nil {
			require.True(t, genuine, "accepted key %q timestamp %q signature %q", keyID, timestamp, signature)
			require.False(t, used[strings.ToLower(signature)], "accepted the signature twice (as %q)", signature)
			used[strings.ToLower(signature)] = true
			return
		}
		require.Equal(t, trading.EUNAUTHORIZED, trading.ErrorCode(err), "%q %q %q: %v", keyID, timestamp, signature, err)
	})
}
