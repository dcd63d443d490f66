// Package auth is who may use the trading API: users with passwords, short-lived access
// tokens and rotating refresh tokens, login lockout with backoff, and API keys whose requests
// are signed with HMAC-SHA256 inside a time window and never accepted twice.
//
// Errors use the platform vocabulary of services/trading (EINVALID, EUNAUTHORIZED, ...).
// Storage is behind Store (adapters in auth/memory and auth/postgres); replay protection is
// behind Nonces (Redis in production, so every gateway replica shares it).
package auth

import (
	"context"
	"slices"
	"time"
)

// Role of a user.
type Role string

const (
	RoleTrader Role = "trader"
	RoleAdmin  Role = "admin"
)

// Scope is what an API key may do.
type Scope string

const (
	ScopeRead  Scope = "read"  // read balances, orders, trades
	ScopeTrade Scope = "trade" // place and cancel orders (implies nothing else)
)

// User is a person or firm that trades. Their trading account id is their user id.
type User struct {
	ID           string
	Email        string
	Role         Role
	PasswordHash string
	FailedLogins int
	LockedUntil  time.Time
	CreatedAt    time.Time
}

// RefreshToken is stored by the SHA-256 of its value, never the value itself.
type RefreshToken struct {
	Hash      string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
	RevokedAt time.Time // zero while valid
}

// APIKey is a programmatic credential. Secret is the HMAC key sealed with the service's seal
// key; the clear secret is shown once, at creation.
type APIKey struct {
	ID        string
	UserID    string
	Label     string
	Scopes    []Scope
	Sealed    []byte
	CreatedAt time.Time
	RevokedAt time.Time // zero while active
}

// Has reports whether the key carries scope s.
func (k APIKey) Has(s Scope) bool { return slices.Contains(k.Scopes, s) }

// Principal is who a request acts as, after authentication.
type Principal struct {
	UserID string
	Role   Role
	KeyID  string  // "" for a user session (access token)
	Scopes []Scope // nil for a user session: all scopes
}

// Can reports whether the principal may act within scope s.
func (p Principal) Can(s Scope) bool {
	return p.KeyID == "" || slices.Contains(p.Scopes, s)
}

// Tokens are what a login or refresh hands out.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	UserID           string
	Role             Role
}

// Store keeps users, refresh tokens and API keys. Missing rows are trading.ENOTFOUND, a
// duplicate email trading.ECONFLICT.
type Store interface {
	CreateUser(ctx context.Context, u User) error
	UserByEmail(ctx context.Context, email string) (User, error)
	UserByID(ctx context.Context, id string) (User, error)
	// AddLoginFailure increments the failure count and returns the new count.
	AddLoginFailure(ctx context.Context, userID string) (int, error)
	LockUser(ctx context.Context, userID string, until time.Time) error
	ResetLoginFailures(ctx context.Context, userID string) error

	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken revokes the token with oldHash and stores next, atomically, if the
	// old one is valid at now. A revoked old token is reuse of a stolen token: every token of
	// its user is revoked and the error is trading.EUNAUTHORIZED. An unknown or expired one is
	// trading.EUNAUTHORIZED too. next.UserID is ignored: the new token belongs to the old one's
	// user, whose id is returned.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) (userID string, err error)
	RevokeRefreshToken(ctx context.Context, hash string, at time.Time) error

	CreateAPIKey(ctx context.Context, k APIKey) error
	APIKey(ctx context.Context, id string) (APIKey, error)
	APIKeys(ctx context.Context, userID string) ([]APIKey, error)
	// RevokeAPIKey revokes userID's key id; a key of another user is trading.ENOTFOUND.
	RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) error
}

// Nonces remembers values for a while: Claim reports true the first time it sees key within
// ttl and false after that.
type Nonces interface {
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
}
