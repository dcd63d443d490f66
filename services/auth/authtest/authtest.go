// Package authtest checks that an auth.Store behaves as the auth service expects, so every
// adapter (memory, postgres) runs the same assertions.
package authtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

// Mailbox is an auth.Mailer that keeps the last reset token sent to each e-mail.
type Mailbox struct {
	mu     sync.Mutex
	tokens map[string]string
}

var _ auth.Mailer = (*Mailbox)(nil)

// SendPasswordReset records token for email.
func (m *Mailbox) SendPasswordReset(_ context.Context, email, token string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[string]string{}
	}
	m.tokens[email] = token
	return nil
}

// Last is the last token sent to email ("" when none).
func (m *Mailbox) Last(email string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[email]
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	assert.Equal(t, code, trading.ErrorCode(err), "error %v", err)
}

// TestStore runs the store contract against a fresh, empty store.
func TestStore(t *testing.T, s auth.Store) {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	u := auth.User{ID: "u1", Email: "a@example.com", Role: auth.RoleTrader, PasswordHash: "h", CreatedAt: now}
	require.NoError(t, s.CreateUser(ctx, u))
	wantCode(t, s.CreateUser(ctx, auth.User{ID: "u2", Email: "a@example.com", Role: auth.RoleTrader, PasswordHash: "h", CreatedAt: now}), trading.ECONFLICT)
	_, err := s.UserByEmail(ctx, "b@example.com")
	wantCode(t, err, trading.ENOTFOUND)
	_, err = s.UserByID(ctx, "nope")
	wantCode(t, err, trading.ENOTFOUND)
	got, err := s.UserByEmail(ctx, "a@example.com")
	require.NoError(t, err)
	assert.Equal(t, "u1", got.ID)
	assert.Equal(t, auth.RoleTrader, got.Role)
	assert.True(t, got.CreatedAt.Equal(now))

	// Sessions and refresh tokens: rotate once, reuse revokes every session of the user.
	sess := func(id string) auth.Session { return auth.Session{ID: id, UserID: "u1", CreatedAt: now} }
	rt := func(h, sid string) auth.RefreshToken {
		return auth.RefreshToken{Hash: h, UserID: "u1", SessionID: sid, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		require.NoError(t, s.CreateSession(ctx, sess(id)))
	}
	wantCode(t, s.CreateSession(ctx, auth.Session{ID: "sx", UserID: "nobody", CreatedAt: now}), trading.ENOTFOUND)
	require.NoError(t, s.CreateRefreshToken(ctx, rt("t1", "s1")))
	require.NoError(t, s.CreateRefreshToken(ctx, rt("o1", "s2")))
	old, err := s.RotateRefreshToken(ctx, "t1", rt("t2", "ignored"), now)
	require.NoError(t, err)
	assert.Equal(t, "u1", old.UserID)
	assert.Equal(t, "s1", old.SessionID)
	_, err = s.RotateRefreshToken(ctx, "t1", rt("t3", ""), now)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.RotateRefreshToken(ctx, "t2", rt("t4", ""), now)
	wantCode(t, err, trading.EUNAUTHORIZED) // revoked by the reuse of t1
	for _, id := range []string{"s1", "s2", "s3"} {
		ss, err := s.Session(ctx, id)
		require.NoError(t, err)
		assert.False(t, ss.RevokedAt.IsZero(), "session %s survived the reuse of a refresh token", id)
	}
	_, err = s.RotateRefreshToken(ctx, "o1", rt("o2", ""), now)
	wantCode(t, err, trading.EUNAUTHORIZED) // its session ended
	_, err = s.RotateRefreshToken(ctx, "unknown", rt("t5", ""), now)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.Session(ctx, "unknown")
	wantCode(t, err, trading.ENOTFOUND)

	require.NoError(t, s.CreateSession(ctx, sess("s4")))
	require.NoError(t, s.CreateRefreshToken(ctx, rt("t6", "s4")))
	_, err = s.RotateRefreshToken(ctx, "t6", rt("t7", ""), now.Add(time.Hour))
	wantCode(t, err, trading.EUNAUTHORIZED) // expired
	require.NoError(t, s.CreateSession(ctx, sess("s5")))
	require.NoError(t, s.CreateRefreshToken(ctx, rt("t8", "s5")))
	_, err = s.RotateRefreshToken(ctx, "t8", rt("t9", ""), now)
	require.NoError(t, err)
	require.NoError(t, s.RevokeRefreshToken(ctx, "t8", now)) // an older token of the session logs it out too
	ss, err := s.Session(ctx, "s5")
	require.NoError(t, err)
	assert.False(t, ss.RevokedAt.IsZero(), "logout left the session active")
	_, err = s.RotateRefreshToken(ctx, "t9", rt("t10", ""), now)
	wantCode(t, err, trading.EUNAUTHORIZED)
	wantCode(t, s.RevokeRefreshToken(ctx, "unknown", now), trading.ENOTFOUND)
	// A token of a session that logged out is merely invalid: it ends no other session.
	require.NoError(t, s.CreateSession(ctx, sess("s6")))
	require.NoError(t, s.CreateRefreshToken(ctx, rt("t11", "s6")))
	_, err = s.RotateRefreshToken(ctx, "t8", rt("t12", ""), now)
	wantCode(t, err, trading.EUNAUTHORIZED)
	s6, err := s.Session(ctx, "s6")
	require.NoError(t, err)
	assert.True(t, s6.RevokedAt.IsZero(), "a logged-out token ended another session")

	// Password change keeps one session; reset tokens are single-use and end every session.
	for _, id := range []string{"k1", "k2"} {
		require.NoError(t, s.CreateSession(ctx, sess(id)))
	}
	require.NoError(t, s.CreatePasswordReset(ctx, auth.PasswordReset{Hash: "r0", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	require.NoError(t, s.SetPassword(ctx, "u1", "h2", "k1", now))
	got, _ = s.UserByID(ctx, "u1")
	assert.Equal(t, "h2", got.PasswordHash)
	k1, _ := s.Session(ctx, "k1")
	k2, _ := s.Session(ctx, "k2")
	assert.True(t, k1.RevokedAt.IsZero(), "the current session was revoked")
	assert.False(t, k2.RevokedAt.IsZero(), "another session survived a password change")
	_, err = s.ResetPassword(ctx, "r0", "h3", now)
	wantCode(t, err, trading.EUNAUTHORIZED) // withdrawn by the change
	wantCode(t, s.SetPassword(ctx, "nobody", "h", "", now), trading.ENOTFOUND)
	require.NoError(t, s.CreatePasswordReset(ctx, auth.PasswordReset{Hash: "r1", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	require.NoError(t, s.CreatePasswordReset(ctx, auth.PasswordReset{Hash: "r2", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
	_, err = s.ResetPassword(ctx, "r2", "h3", now.Add(time.Minute))
	wantCode(t, err, trading.EUNAUTHORIZED) // expired
	id, err := s.ResetPassword(ctx, "r1", "h4", now)
	require.NoError(t, err)
	assert.Equal(t, "u1", id)
	got, _ = s.UserByID(ctx, "u1")
	assert.Equal(t, "h4", got.PasswordHash)
	k1, _ = s.Session(ctx, "k1")
	assert.False(t, k1.RevokedAt.IsZero(), "a session survived a reset")
	_, err = s.ResetPassword(ctx, "r1", "h5", now)
	wantCode(t, err, trading.EUNAUTHORIZED) // used
	got, _ = s.UserByID(ctx, "u1")
	assert.Equal(t, "h4", got.PasswordHash)

	// Attempt budgets.
	p := auth.Throttle{Max: 3, Base: time.Minute, Cap: 4 * time.Minute, Forget: time.Hour}
	for i := 0; i < 2; i++ {
		until, err := s.ClaimAttempt(ctx, "k", p, now)
		require.NoError(t, err)
		assert.True(t, until.IsZero())
	}
	until, err := s.ClaimAttempt(ctx, "k", p, now) // the third passes and blocks the next
	require.NoError(t, err)
	assert.True(t, until.IsZero())
	until, _ = s.ClaimAttempt(ctx, "k", p, now.Add(time.Second))
	assert.True(t, until.Equal(now.Add(time.Minute)), "blocked until %v", until)
	until, _ = s.ClaimAttempt(ctx, "k", p, now.Add(time.Minute)) // fourth: passes, blocks 2m
	assert.True(t, until.IsZero())
	until, _ = s.ClaimAttempt(ctx, "k", p, now.Add(time.Minute+time.Second))
	assert.True(t, until.Equal(now.Add(3*time.Minute)), "backoff did not double: %v", until)
	until, _ = s.ClaimAttempt(ctx, "other", p, now.Add(time.Second))
	assert.True(t, until.IsZero(), "budgets are per key")
	require.NoError(t, s.ClearAttempts(ctx, "k"))
	until, _ = s.ClaimAttempt(ctx, "k", p, now.Add(time.Minute+2*time.Second))
	assert.True(t, until.IsZero(), "cleared key still blocked")
	// Forgotten after a quiet hour.
	for i := 0; i < 2; i++ {
		_, _ = s.ClaimAttempt(ctx, "q", p, now)
	}
	_, _ = s.ClaimAttempt(ctx, "q", p, now.Add(time.Hour))
	_, _ = s.ClaimAttempt(ctx, "q", p, now.Add(time.Hour))
	until, _ = s.ClaimAttempt(ctx, "q", p, now.Add(time.Hour))
	assert.True(t, until.IsZero(), "old failures were not forgotten")

	// Concurrent claims cannot overrun the budget: the count is atomic with the check.
	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			until, err := s.ClaimAttempt(ctx, "race", p, now)
			if assert.NoError(t, err) && until.IsZero() {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(p.Max), passed.Load(), "concurrent attempts that passed")

	// API keys.
	require.NoError(t, s.CreateUser(ctx, auth.User{ID: "u2", Email: "b@example.com", Role: auth.RoleAdmin, PasswordHash: "h", CreatedAt: now}))
	lim := auth.KeyLimits{MaxActive: 5, RetainRevoked: 2}
	k1k := auth.APIKey{ID: "ak_1", UserID: "u1", Label: "bot", Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeTrade}, Sealed: []byte{1, 2, 3}, CreatedAt: now}
	k2k := auth.APIKey{ID: "ak_2", UserID: "u1", Label: "", Scopes: []auth.Scope{auth.ScopeRead}, Sealed: []byte{4}, CreatedAt: now.Add(time.Second)}
	for _, k := range []auth.APIKey{k2k, k1k} {
		require.NoError(t, s.CreateAPIKey(ctx, k, lim))
	}
	wantCode(t, s.CreateAPIKey(ctx, k1k, lim), trading.ECONFLICT)
	keys, err := s.APIKeys(ctx, "u1", "", 10)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.Equal(t, "ak_1", keys[0].ID)
	assert.Equal(t, "ak_2", keys[1].ID)
	assert.True(t, keys[0].Has(auth.ScopeTrade))
	assert.Equal(t, []byte{1, 2, 3}, keys[0].Sealed)
	page, err := s.APIKeys(ctx, "u1", "", 1)
	require.NoError(t, err)
	require.Len(t, page, 1)
	page, err = s.APIKeys(ctx, "u1", page[0].ID, 1)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, "ak_2", page[0].ID)
	page, _ = s.APIKeys(ctx, "u1", "ak_2", 1)
	assert.Empty(t, page)
	page, _ = s.APIKeys(ctx, "u2", "ak_1", 10) // another user's key is no cursor
	assert.Empty(t, page)
	keys, _ = s.APIKeys(ctx, "u2", "", 10)
	assert.Empty(t, keys, "u2 sees u1's keys")
	wantCode(t, s.RevokeAPIKey(ctx, "u2", "ak_1", now), trading.ENOTFOUND)
	require.NoError(t, s.RevokeAPIKey(ctx, "u1", "ak_1", now))
	k, err := s.APIKey(ctx, "ak_1")
	require.NoError(t, err)
	assert.True(t, k.RevokedAt.Equal(now))
	_, err = s.APIKey(ctx, "ak_x")
	wantCode(t, err, trading.ENOTFOUND)
	wantCode(t, s.CreateAPIKey(ctx, auth.APIKey{ID: "ak_n", UserID: "nobody", Scopes: []auth.Scope{auth.ScopeRead}, Sealed: []byte{1}, CreatedAt: now}, lim), trading.ENOTFOUND)

	// The cap holds under concurrent creation; revoked keys beyond the retention are pruned.
	var created atomic.Int64
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.CreateAPIKey(ctx, auth.APIKey{ID: fmt.Sprintf("ak_c%d", i), UserID: "u1", Scopes: []auth.Scope{auth.ScopeRead},
				Sealed: []byte{1}, CreatedAt: now.Add(time.Duration(10+i) * time.Second)}, lim)
			if err == nil {
				created.Add(1)
			} else {
				wantCode(t, err, trading.ECONFLICT)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(lim.MaxActive-1), created.Load(), "keys created past the cap")
	keys, _ = s.APIKeys(ctx, "u1", "", 100)
	for _, k := range keys {
		if k.RevokedAt.IsZero() {
			require.NoError(t, s.RevokeAPIKey(ctx, "u1", k.ID, now.Add(time.Minute)))
		}
	}
	require.NoError(t, s.CreateAPIKey(ctx, auth.APIKey{ID: "ak_last", UserID: "u1", Scopes: []auth.Scope{auth.ScopeRead}, Sealed: []byte{1}, CreatedAt: now.Add(time.Hour)}, lim))
	keys, _ = s.APIKeys(ctx, "u1", "", 100)
	assert.Len(t, keys, lim.RetainRevoked+1, "revoked keys were not pruned to the retention")
}
