// Package auth is who may use the trading API: users with passwords (a NIST SP 800-63B style
// policy, hashed with argon2id in a bounded pool), sessions with short-lived access tokens and
// rotating refresh tokens (revoking a session ends its access tokens at once), login
// throttling per e-mail and per e-mail and address, password change and reset, and API keys
// whose requests are signed with HMAC-SHA256 inside a time window and never accepted twice.
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
	// RoleComplianceOfficer reviews KYC, works cases and exports the audit trail; it cannot
	// trade for others or move funds (admins may do what officers do).
	RoleComplianceOfficer Role = "compliance_officer"
)

// Officer reports whether role may use the compliance API (officers and admins).
func (r Role) Officer() bool { return r == RoleComplianceOfficer || r == RoleAdmin }

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
	CreatedAt    time.Time
}

// Session is one login: the refresh tokens it rotates through and the access tokens issued
// from them all name it, so revoking it ends every one of them.
type Session struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	RevokedAt time.Time // zero while active
}

// RefreshToken is stored by the SHA-256 of its value, never the value itself.
type RefreshToken struct {
	Hash      string
	UserID    string
	SessionID string
	ExpiresAt time.Time
	CreatedAt time.Time
	RevokedAt time.Time // zero while valid
}

// PasswordReset is a single-use reset token, stored by the SHA-256 of its value.
type PasswordReset struct {
	Hash      string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
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

// KeyLimits bound a user's API keys: at most MaxActive active ones, and at most
// RetainRevoked revoked ones kept for the listing (older revoked keys are deleted).
type KeyLimits struct {
	MaxActive     int
	RetainRevoked int
}

// Throttle is a budget of failed attempts on one key (an e-mail, or an e-mail from one
// address): Max attempts pass, then each further one waits Base, doubling up to Cap. A key
// left alone for Forget starts afresh.
type Throttle struct {
	Max    int
	Base   time.Duration
	Cap    time.Duration
	Forget time.Duration
}

// BlockAfter is when an attempt numbered n (1-based) blocks the key until: zero while n is
// within the budget.
func (p Throttle) BlockAfter(n int, now time.Time) time.Time {
	if n < p.Max {
		return time.Time{}
	}
	d := p.Base
	for i := p.Max; i < n && d < p.Cap; i++ {
		d *= 2
	}
	return now.Add(min(d, p.Cap))
}

// Principal is who a request acts as, after authentication.
type Principal struct {
	UserID    string
	Role      Role
	SessionID string  // the session of an access token; "" for an API key
	KeyID     string  // "" for a user session (access token)
	Scopes    []Scope // nil for a user session: all scopes
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

// Store keeps users, sessions, refresh tokens, reset tokens, attempt counts and API keys.
// Missing rows are trading.ENOTFOUND, a duplicate email trading.ECONFLICT.
type Store interface {
	CreateUser(ctx context.Context, u User) error
	UserByEmail(ctx context.Context, email string) (User, error)
	UserByID(ctx context.Context, id string) (User, error)
	// SetPassword replaces userID's password hash and, atomically, revokes every session of
	// the user but keep ("" for none) and every unused reset token.
	SetPassword(ctx context.Context, userID, hash, keep string, now time.Time) error

	// ClaimAttempt counts one attempt on key under p, atomically with the check: it returns
	// the zero time when the attempt may go ahead (it counts as a failure until
	// ClearAttempts), otherwise the time key is blocked until (and counts nothing).
	ClaimAttempt(ctx context.Context, key string, p Throttle, now time.Time) (blockedUntil time.Time, err error)
	ClearAttempts(ctx context.Context, key string) error

	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error)

	// CreateRefreshToken stores t; its session must exist.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken revokes the token with oldHash and stores next in the same session,
	// atomically, if the old one and its session are valid at now. A revoked old token is
	// reuse of a stolen token: every session of its user is revoked (ending their access
	// tokens too) and the error is trading.EUNAUTHORIZED. An unknown or expired one is
	// trading.EUNAUTHORIZED too. next.UserID and next.SessionID are ignored: the new token
	// belongs to the old one's, which is returned.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) (RefreshToken, error)
	// RevokeRefreshToken revokes the session the token belongs to (logout).
	RevokeRefreshToken(ctx context.Context, hash string, at time.Time) error

	CreatePasswordReset(ctx context.Context, r PasswordReset) error
	// ResetPassword consumes the unused, unexpired reset token hash, sets its user's password
	// hash and revokes all the user's sessions and other reset tokens, atomically. Any other
	// token is trading.EUNAUTHORIZED.
	ResetPassword(ctx context.Context, hash, passwordHash string, now time.Time) (userID string, err error)

	// CreateAPIKey stores k unless its user already has lim.MaxActive active keys
	// (trading.ECONFLICT), atomically with the count; it deletes the user's revoked keys
	// beyond lim.RetainRevoked, oldest first.
	CreateAPIKey(ctx context.Context, k APIKey, lim KeyLimits) error
	APIKey(ctx context.Context, id string) (APIKey, error)
	// APIKeys lists userID's keys by creation, after the key with id after ("" from the
	// start), at most limit of them.
	APIKeys(ctx context.Context, userID, after string, limit int) ([]APIKey, error)
	// RevokeAPIKey revokes userID's key id; a key of another user is trading.ENOTFOUND.
	RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) error
}

// Nonces remembers values for a while: Claim reports true the first time it sees key within
// ttl and false after that.
type Nonces interface {
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
}
