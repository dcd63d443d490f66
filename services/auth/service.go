package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cantondex/platform/services/trading"
)

// Config is the service's typed configuration. Keys are secrets generated or loaded by main.
type Config struct {
	TokenKey        []byte        // HMAC key of access tokens, at least 32 bytes
	SealKey         []byte        // AES-256 key sealing API key secrets, exactly 32 bytes
	AccessTTL       time.Duration // lifetime of an access token
	RefreshTTL      time.Duration // lifetime of a refresh token
	MaxFailures     int           // failed logins in a row before the account locks
	LockBase        time.Duration // first lock; doubles with each further failure
	LockMax         time.Duration // longest lock
	SignatureWindow time.Duration // how far a signed request's timestamp may be from now
	Hash            HashParams
	Now             func() time.Time
}

// WithDefaults fills unset fields with production defaults.
func (c Config) WithDefaults() Config {
	if c.AccessTTL == 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = 7 * 24 * time.Hour
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.LockBase == 0 {
		c.LockBase = 30 * time.Second
	}
	if c.LockMax == 0 {
		c.LockMax = time.Hour
	}
	if c.SignatureWindow == 0 {
		c.SignatureWindow = 30 * time.Second
	}
	if c.Hash == (HashParams{}) {
		c.Hash = DefaultHashParams
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Service is the auth domain's one entry point.
type Service struct {
	store  Store
	nonces Nonces
	cfg    Config
	aead   cipher.AEAD
	dummy  string // hash checked for unknown emails, so they cost as much as known ones
}

// NewService returns a Service over store and nonces with cfg (defaults filled in).
func NewService(store Store, nonces Nonces, cfg Config) (*Service, error) {
	cfg = cfg.WithDefaults()
	if len(cfg.TokenKey) < 32 {
		return nil, errors.New("auth: token key must be at least 32 bytes")
	}
	block, err := aes.NewCipher(cfg.SealKey)
	if err != nil || len(cfg.SealKey) != 32 {
		return nil, errors.New("auth: seal key must be 32 bytes")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth: gcm: %w", err)
	}
	dummy, err := hashPassword("not a password of anyone", cfg.Hash)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, nonces: nonces, cfg: cfg, aead: aead, dummy: dummy}, nil
}

var errBadCredentials = trading.Errorf(trading.EUNAUTHORIZED, "invalid email or password")

// LockedError is returned while an account is locked after too many failed logins. It wraps a
// trading.ERATELIMIT error and tells when to try again.
type LockedError struct {
	Until time.Time
	now   time.Time
}

func (e *LockedError) Error() string { return "account locked until " + e.Until.Format(time.RFC3339) }

// Unwrap gives the domain error.
func (e *LockedError) Unwrap() error {
	return trading.Errorf(trading.ERATELIMIT, "too many failed logins; try again later")
}

// RetryAfter is how long until the lock ends.
func (e *LockedError) RetryAfter() time.Duration { return e.Until.Sub(e.now) }

// Register creates a trader.
func (s *Service) Register(ctx context.Context, email, password string) (User, error) {
	return s.CreateUser(ctx, email, password, RoleTrader)
}

// CreateUser creates a user with role.
func (s *Service) CreateUser(ctx context.Context, email, password string, role Role) (User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if n := utf8.RuneCountInString(password); n < 12 || n > 128 || !utf8.ValidString(password) {
		return User{}, trading.Errorf(trading.EINVALID, "password must be 12 to 128 characters")
	}
	if role != RoleTrader && role != RoleAdmin {
		return User{}, trading.Errorf(trading.EINVALID, "unknown role")
	}
	hash, err := hashPassword(password, s.cfg.Hash)
	if err != nil {
		return User{}, err
	}
	u := User{ID: uuid.NewString(), Email: email, Role: role, PasswordHash: hash, CreatedAt: s.cfg.Now().UTC()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

func normalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email[strings.IndexByte(email, '@'):], ".") {
		return "", trading.Errorf(trading.EINVALID, "email is not a valid address")
	}
	return email, nil
}

// Login checks a password and issues tokens. Wrong passwords count towards a lock that grows
// with each further failure; a locked account answers *LockedError whatever the password.
func (s *Service) Login(ctx context.Context, email, password string) (Tokens, error) {
	now := s.cfg.Now()
	email, err := normalizeEmail(email)
	if err != nil {
		checkPassword(s.dummy, password)
		return Tokens{}, errBadCredentials
	}
	u, err := s.store.UserByEmail(ctx, email)
	if trading.ErrorCode(err) == trading.ENOTFOUND {
		checkPassword(s.dummy, password)
		return Tokens{}, errBadCredentials
	} else if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	if now.Before(u.LockedUntil) {
		return Tokens{}, &LockedError{Until: u.LockedUntil, now: now}
	}
	if !checkPassword(u.PasswordHash, password) {
		n, err := s.store.AddLoginFailure(ctx, u.ID)
		if err != nil {
			return Tokens{}, fmt.Errorf("login failure: %w", err)
		}
		if n >= s.cfg.MaxFailures {
			lock := s.cfg.LockBase
			for i := s.cfg.MaxFailures; i < n && lock < s.cfg.LockMax; i++ {
				lock *= 2
			}
			lock = min(lock, s.cfg.LockMax)
			if err := s.store.LockUser(ctx, u.ID, now.Add(lock)); err != nil {
				return Tokens{}, fmt.Errorf("lock user: %w", err)
			}
		}
		return Tokens{}, errBadCredentials
	}
	if u.FailedLogins > 0 {
		if err := s.store.ResetLoginFailures(ctx, u.ID); err != nil {
			return Tokens{}, fmt.Errorf("reset failures: %w", err)
		}
	}
	rt, hash := newRefreshToken()
	t := RefreshToken{Hash: hash, UserID: u.ID, CreatedAt: now.UTC(), ExpiresAt: now.Add(s.cfg.RefreshTTL).UTC()}
	if err := s.store.CreateRefreshToken(ctx, t); err != nil {
		return Tokens{}, fmt.Errorf("store refresh token: %w", err)
	}
	return s.tokens(u, rt, t.ExpiresAt, now), nil
}

// Refresh exchanges a refresh token for new tokens; the old refresh token stops working.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	now := s.cfg.Now()
	oldHash, ok := refreshHash(refreshToken)
	if !ok {
		return Tokens{}, trading.Errorf(trading.EUNAUTHORIZED, "invalid refresh token")
	}
	rt, hash := newRefreshToken()
	next := RefreshToken{Hash: hash, CreatedAt: now.UTC(), ExpiresAt: now.Add(s.cfg.RefreshTTL).UTC()}
	userID, err := s.store.RotateRefreshToken(ctx, oldHash, next, now)
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh user: %w", err)
	}
	return s.tokens(u, rt, next.ExpiresAt, now), nil
}

// Logout revokes a refresh token. Access tokens already issued run out on their own, within
// AccessTTL. Logging out an unknown or revoked token is not an error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	hash, ok := refreshHash(refreshToken)
	if !ok {
		return nil
	}
	if err := s.store.RevokeRefreshToken(ctx, hash, s.cfg.Now().UTC()); err != nil && trading.ErrorCode(err) != trading.ENOTFOUND {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

const refreshPrefix = "rt_"

func newRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	token = refreshPrefix + base64.RawURLEncoding.EncodeToString(b)
	h, _ := refreshHash(token)
	return token, h
}

func refreshHash(token string) (string, bool) {
	if !strings.HasPrefix(token, refreshPrefix) || len(token) > 100 {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:]), true
}

type claims struct {
	Sub  string `json:"sub"`
	Role Role   `json:"role"`
	Iat  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
}

const accessPrefix = "at1."

func (s *Service) tokens(u User, refresh string, refreshExp, now time.Time) Tokens {
	exp := now.Add(s.cfg.AccessTTL)
	payload, _ := json.Marshal(claims{Sub: u.ID, Role: u.Role, Iat: now.Unix(), Exp: exp.Unix()})
	body := accessPrefix + base64.RawURLEncoding.EncodeToString(payload)
	return Tokens{
		AccessToken:      body + "." + base64.RawURLEncoding.EncodeToString(s.mac(body)),
		AccessExpiresAt:  time.Unix(exp.Unix(), 0).UTC(),
		RefreshToken:     refresh,
		RefreshExpiresAt: refreshExp,
		UserID:           u.ID,
		Role:             u.Role,
	}
}

func (s *Service) mac(body string) []byte {
	m := hmac.New(sha256.New, s.cfg.TokenKey)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Authenticate checks an access token: signature, then expiry. It needs no storage.
func (s *Service) Authenticate(_ context.Context, accessToken string) (Principal, error) {
	invalid := trading.Errorf(trading.EUNAUTHORIZED, "invalid or expired access token")
	rest, ok := strings.CutPrefix(accessToken, accessPrefix)
	if !ok || len(accessToken) > 1024 {
		return Principal{}, invalid
	}
	payloadB64, sigB64, ok := strings.Cut(rest, ".")
	if !ok {
		return Principal{}, invalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sigB64)
	if err != nil || !hmac.Equal(got, s.mac(accessPrefix+payloadB64)) {
		return Principal{}, invalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(payloadB64)
	if err != nil {
		return Principal{}, invalid
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" {
		return Principal{}, invalid
	}
	if s.cfg.Now().Unix() >= c.Exp {
		return Principal{}, invalid
	}
	return Principal{UserID: c.Sub, Role: c.Role}, nil
}

// NewAPIKey is a created key with its secret, shown once.
type NewAPIKey struct {
	APIKey
	Secret string
}

// CreateAPIKey creates a key for userID with scopes. The secret is returned once and stored
// sealed.
func (s *Service) CreateAPIKey(ctx context.Context, userID, label string, scopes []Scope) (NewAPIKey, error) {
	if len(label) > 64 || !utf8.ValidString(label) {
		return NewAPIKey{}, trading.Errorf(trading.EINVALID, "label must be at most 64 characters")
	}
	if len(scopes) == 0 {
		return NewAPIKey{}, trading.Errorf(trading.EINVALID, "scopes must name at least one of read, trade")
	}
	var seen []Scope
	for _, sc := range scopes {
		if sc != ScopeRead && sc != ScopeTrade {
			return NewAPIKey{}, trading.Errorf(trading.EINVALID, "unknown scope %q", string(sc))
		}
		if !(APIKey{Scopes: seen}).Has(sc) {
			seen = append(seen, sc)
		}
	}
	keys, err := s.store.APIKeys(ctx, userID)
	if err != nil {
		return NewAPIKey{}, fmt.Errorf("list keys: %w", err)
	}
	active := 0
	for _, k := range keys {
		if k.RevokedAt.IsZero() {
			active++
		}
	}
	if active >= 20 {
		return NewAPIKey{}, trading.Errorf(trading.ECONFLICT, "at most 20 active API keys")
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	id := "ak_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	k := APIKey{
		ID: id, UserID: userID, Label: label, Scopes: seen,
		Sealed:    s.aead.Seal(nonce, nonce, secret, []byte(id)),
		CreatedAt: s.cfg.Now().UTC(),
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return NewAPIKey{}, fmt.Errorf("create key: %w", err)
	}
	return NewAPIKey{APIKey: k, Secret: base64.RawURLEncoding.EncodeToString(secret)}, nil
}

// APIKeys lists userID's keys, revoked ones included.
func (s *Service) APIKeys(ctx context.Context, userID string) ([]APIKey, error) {
	return s.store.APIKeys(ctx, userID)
}

// RevokeAPIKey revokes userID's key id.
func (s *Service) RevokeAPIKey(ctx context.Context, userID, id string) error {
	return s.store.RevokeAPIKey(ctx, userID, id, s.cfg.Now().UTC())
}

// SigningString is what a client signs: timestamp, method, path with query and body, one per
// line. The signature is hex(HMAC-SHA256(secret, SigningString)), where secret is the key's
// secret as shown at creation (its base64url text, used as bytes).
func SigningString(timestamp, method, pathAndQuery string, body []byte) []byte {
	b := make([]byte, 0, len(timestamp)+len(method)+len(pathAndQuery)+len(body)+3)
	b = append(b, timestamp...)
	b = append(b, '\n')
	b = append(b, strings.ToUpper(method)...)
	b = append(b, '\n')
	b = append(b, pathAndQuery...)
	b = append(b, '\n')
	return append(b, body...)
}

// Sign returns the signature a client sends for a request.
func Sign(secret, timestamp, method, pathAndQuery string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(SigningString(timestamp, method, pathAndQuery, body))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySigned authenticates a request signed with an API key. The timestamp (Unix seconds)
// must be within the signature window of now, the signature must match, and the same
// signature is accepted once only.
func (s *Service) VerifySigned(ctx context.Context, keyID, timestamp, signature, method, pathAndQuery string, body []byte) (Principal, error) {
	invalid := trading.Errorf(trading.EUNAUTHORIZED, "invalid API key signature")
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || len(timestamp) > 12 {
		return Principal{}, trading.Errorf(trading.EUNAUTHORIZED, "timestamp must be Unix seconds")
	}
	now := s.cfg.Now()
	if d := now.Sub(time.Unix(ts, 0)); d > s.cfg.SignatureWindow || d < -s.cfg.SignatureWindow {
		return Principal{}, trading.Errorf(trading.EUNAUTHORIZED, "timestamp outside the signature window")
	}
	sig, err := hex.DecodeString(signature)
	if err != nil || len(sig) != sha256.Size || !strings.HasPrefix(keyID, "ak_") || len(keyID) > 64 {
		return Principal{}, invalid
	}
	k, err := s.store.APIKey(ctx, keyID)
	if trading.ErrorCode(err) == trading.ENOTFOUND {
		return Principal{}, invalid
	} else if err != nil {
		return Principal{}, fmt.Errorf("api key: %w", err)
	}
	if !k.RevokedAt.IsZero() {
		return Principal{}, invalid
	}
	ns := s.aead.NonceSize()
	if len(k.Sealed) < ns {
		return Principal{}, fmt.Errorf("api key %s: sealed secret too short", k.ID)
	}
	secret, err := s.aead.Open(nil, k.Sealed[:ns], k.Sealed[ns:], []byte(k.ID))
	if err != nil {
		return Principal{}, fmt.Errorf("api key %s: unseal: %w", k.ID, err)
	}
	m := hmac.New(sha256.New, []byte(base64.RawURLEncoding.EncodeToString(secret)))
	m.Write(SigningString(timestamp, method, pathAndQuery, body))
	if !hmac.Equal(m.Sum(nil), sig) {
		return Principal{}, invalid
	}
	first, err := s.nonces.Claim(ctx, "sig:"+k.ID+":"+signature, 2*s.cfg.SignatureWindow)
	if err != nil {
		return Principal{}, fmt.Errorf("replay check: %w", err)
	}
	if !first {
		return Principal{}, trading.Errorf(trading.EUNAUTHORIZED, "signature already used")
	}
	u, err := s.store.UserByID(ctx, k.UserID)
	if err != nil {
		return Principal{}, fmt.Errorf("api key owner: %w", err)
	}
	return Principal{UserID: k.UserID, Role: u.Role, KeyID: k.ID, Scopes: k.Scopes}, nil
}
