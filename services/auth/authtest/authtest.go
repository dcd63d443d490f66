// Package authtest checks that an auth.Store behaves as the auth service expects, so every
// adapter (memory, postgres) runs the same assertions.
package authtest

import (
	"context"
	"testing"
	"time"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := trading.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

// TestStore runs the store contract against a fresh, empty store.
func TestStore(t *testing.T, s auth.Store) {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	u := auth.User{ID: "u1", Email: "a@example.com", Role: auth.RoleTrader, PasswordHash: "h", CreatedAt: now}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateUser(ctx, auth.User{ID: "u2", Email: "a@example.com", Role: auth.RoleTrader, PasswordHash: "h", CreatedAt: now}), trading.ECONFLICT)
	_, err := s.UserByEmail(ctx, "b@example.com")
	wantCode(t, err, trading.ENOTFOUND)
	_, err = s.UserByID(ctx, "nope")
	wantCode(t, err, trading.ENOTFOUND)
	got, err := s.UserByEmail(ctx, "a@example.com")
	if err != nil || got.ID != "u1" || got.Role != auth.RoleTrader || !got.CreatedAt.Equal(now) || !got.LockedUntil.IsZero() {
		t.Fatalf("user %+v %v", got, err)
	}

	for want := 1; want <= 3; want++ {
		n, err := s.AddLoginFailure(ctx, "u1")
		if err != nil || n != want {
			t.Fatalf("failure %d: %d %v", want, n, err)
		}
	}
	if err := s.LockUser(ctx, "u1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByID(ctx, "u1")
	if got.FailedLogins != 3 || !got.LockedUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("after lock %+v", got)
	}
	if err := s.ResetLoginFailures(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByID(ctx, "u1")
	if got.FailedLogins != 0 || !got.LockedUntil.IsZero() {
		t.Fatalf("after reset %+v", got)
	}
	_, err = s.AddLoginFailure(ctx, "nope")
	wantCode(t, err, trading.ENOTFOUND)

	// Refresh tokens: rotate once, reuse revokes the family.
	rt := func(h string) auth.RefreshToken {
		return auth.RefreshToken{Hash: h, UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := s.CreateRefreshToken(ctx, rt("t1")); err != nil {
		t.Fatal(err)
	}
	id, err := s.RotateRefreshToken(ctx, "t1", rt("t2"), now)
	if err != nil || id != "u1" {
		t.Fatalf("rotate: %q %v", id, err)
	}
	_, err = s.RotateRefreshToken(ctx, "t1", rt("t3"), now)
	wantCode(t, err, trading.EUNAUTHORIZED)
	_, err = s.RotateRefreshToken(ctx, "t2", rt("t4"), now)
	wantCode(t, err, trading.EUNAUTHORIZED) // revoked by the reuse of t1
	_, err = s.RotateRefreshToken(ctx, "unknown", rt("t5"), now)
	wantCode(t, err, trading.EUNAUTHORIZED)
	if err := s.CreateRefreshToken(ctx, rt("t6")); err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateRefreshToken(ctx, "t6", rt("t7"), now.Add(time.Hour))
	wantCode(t, err, trading.EUNAUTHORIZED) // expired
	if err := s.CreateRefreshToken(ctx, rt("t8")); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeRefreshToken(ctx, "t8", now); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.RevokeRefreshToken(ctx, "unknown", now), trading.ENOTFOUND)

	// API keys.
	if err := s.CreateUser(ctx, auth.User{ID: "u2", Email: "b@example.com", Role: auth.RoleAdmin, PasswordHash: "h", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	k1 := auth.APIKey{ID: "ak_1", UserID: "u1", Label: "bot", Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeTrade}, Sealed: []byte{1, 2, 3}, CreatedAt: now}
	k2 := auth.APIKey{ID: "ak_2", UserID: "u1", Label: "", Scopes: []auth.Scope{auth.ScopeRead}, Sealed: []byte{4}, CreatedAt: now.Add(time.Second)}
	for _, k := range []auth.APIKey{k2, k1} {
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, s.CreateAPIKey(ctx, k1), trading.ECONFLICT)
	keys, err := s.APIKeys(ctx, "u1")
	if err != nil || len(keys) != 2 || keys[0].ID != "ak_1" || keys[1].ID != "ak_2" || !keys[0].Has(auth.ScopeTrade) || string(keys[0].Sealed) != "\x01\x02\x03" {
		t.Fatalf("keys %+v %v", keys, err)
	}
	if keys, _ := s.APIKeys(ctx, "u2"); len(keys) != 0 {
		t.Fatalf("u2 sees %+v", keys)
	}
	wantCode(t, s.RevokeAPIKey(ctx, "u2", "ak_1", now), trading.ENOTFOUND)
	if err := s.RevokeAPIKey(ctx, "u1", "ak_1", now); err != nil {
		t.Fatal(err)
	}
	k, err := s.APIKey(ctx, "ak_1")
	if err != nil || !k.RevokedAt.Equal(now) {
		t.Fatalf("revoked key %+v %v", k, err)
	}
	_, err = s.APIKey(ctx, "ak_x")
	wantCode(t, err, trading.ENOTFOUND)
}
