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
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
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
	ResetTTL        time.Duration // lifetime of a password reset token
	SignatureWindow time.Duration // how far a signed request's timestamp may be from now
	// SessionReuse bounds how long Authenticate reuses a session it read active while the
	// store's SessionFeed listens (5 s by default; see activeSessions).
	SessionReuse time.Duration
	// Login attempts are budgeted per e-mail and client address (PerAddress: an outsider
	// slows only their own guesses) and per e-mail from everywhere (PerAccount: a larger
	// budget against guessing from many addresses). Unknown e-mails are budgeted alike.
	PerAddress, PerAccount Throttle
	// ResetRequests budgets reset e-mails per address (beyond it, requests are answered
	// alike and send nothing).
	ResetRequests Throttle
	Keys          KeyLimits
	Hash          HashParams
	// HashWorkers is how many password hashes run at once (GOMAXPROCS by default);
	// HashQueue callers more wait up to HashWait for one; the rest are shed.
	HashWorkers int
	HashQueue   int
	HashWait    time.Duration
	Mailer      Mailer
	Now         func() time.Time
}

// Mailer delivers password reset tokens. The local platform logs them (LogMailer).
type Mailer interface {
	SendPasswordReset(ctx context.Context, email, token string, expires time.Time) error
}

// WithDefaults fills unset fields with production defaults.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AccessTTL, 15*time.Minute)
	def(&c.RefreshTTL, 7*24*time.Hour)
	def(&c.ResetTTL, 30*time.Minute)
	def(&c.SignatureWindow, 30*time.Second)
	def(&c.SessionReuse, 5*time.Second)
	if c.PerAddress == (Throttle{}) {
		c.PerAddress = Throttle{Max: 5, Base: 30 * time.Second, Cap: 15 * time.Minute, Forget: 24 * time.Hour}
	}
	if c.PerAccount == (Throttle{}) {
		c.PerAccount = Throttle{Max: 100, Base: time.Minute, Cap: 15 * time.Minute, Forget: 24 * time.Hour}
	}
	if c.ResetRequests == (Throttle{}) {
		c.ResetRequests = Throttle{Max: 3, Base: 15 * time.Minute, Cap: time.Hour, Forget: 24 * time.Hour}
	}
	if c.Keys == (KeyLimits{}) {
		c.Keys = KeyLimits{MaxActive: 20, RetainRevoked: 20}
	}
	if c.Hash == (HashParams{}) {
		c.Hash = DefaultHashParams
	}
	if c.HashWorkers == 0 {
		c.HashWorkers = runtime.GOMAXPROCS(0)
	}
	if c.HashQueue == 0 {
		c.HashQueue = 4 * c.HashWorkers
	}
	def(&c.HashWait, 500*time.Millisecond)
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
	pool   *hashPool
	dummy  string // hash checked for unknown emails, so they cost as much as known ones

	verified verifiedTokens
	sessions activeSessions
}

// SessionFeed is implemented by stores that tell every process of session revocations made
// anywhere (the PostgreSQL store, by LISTEN/NOTIFY). With one watched (Service.WatchSessions),
// Authenticate reuses a session it found active instead of reading it on every request.
type SessionFeed interface {
	// WatchRevocations calls listening once every revocation committed from then on will be
	// reported, then revoked after each one (several may be reported once), until ctx ends or
	// the feed fails; it returns why.
	WatchRevocations(ctx context.Context, listening, revoked func()) error
}

// activeSessions remembers sessions read active, by id, while a SessionFeed is listening
// (on). Each revocation (reported by the feed, or made through this Service) forgets them all
// and moves gen on, so that a read that began before it cannot put back what it saw.
// Bounded: when full it starts over.
type activeSessions struct {
	ttl time.Duration // Config.SessionReuse: a second line behind the feed
	mu  sync.Mutex
	on  bool
	gen uint64
	m   map[string]activeSession
}

type activeSession struct {
	user string
	read time.Time
}

const maxActiveSessions = 1 << 16

func (a *activeSessions) get(id string, now time.Time) (user string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[id]
	if !ok || !a.on || now.Sub(e.read) >= a.ttl || now.Before(e.read) {
		return "", false
	}
	return e.user, true
}

// generation is what a read of the store must quote to put its result.
func (a *activeSessions) generation() (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen, a.on
}

func (a *activeSessions) put(id, user string, gen uint64, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.on || gen != a.gen {
		return
	}
	if a.m == nil || len(a.m) >= maxActiveSessions {
		a.m = make(map[string]activeSession)
	}
	a.m[id] = activeSession{user: user, read: now}
}

// reset forgets every session; on says whether a feed now listens.
func (a *activeSessions) reset(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	a.m, a.on = nil, on
}

// revoked forgets every session (a revocation somewhere), leaving on as it is: under the one
// lock, so that a feed going down meanwhile cannot be taken for listening again.
func (a *activeSessions) revoked() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	a.m = nil
}

// WatchSessions follows the store's SessionFeed until ctx ends, so that Authenticate may reuse
// the sessions it read (see activeSessions); while the feed is down every request reads its
// session. A store without a feed is read on every request.
func (s *Service) WatchSessions(ctx context.Context) {
	feed, ok := s.store.(SessionFeed)
	if !ok {
		return
	}
	for {
		_ = feed.WatchRevocations(ctx, func() { s.sessions.reset(true) }, s.sessions.revoked)
		s.sessions.reset(false)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// verifiedTokens remembers the claims of access tokens whose MAC was checked, by the token's
// exact spelling: a token seen again costs a map read, not base64, HMAC and JSON. Only a
// token that passed the check gets in, so a forged one never matches; expiry and the session
// are still checked on every request. Bounded: when full it starts over.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]claims
}

const maxVerifiedTokens = 1 << 16

func (v *verifiedTokens) get(token string) (claims, bool) {
	v.mu.Lock()
	c, ok := v.m[token]
	v.mu.Unlock()
	return c, ok
}

func (v *verifiedTokens) put(token string, c claims) {
	v.mu.Lock()
	if v.m == nil || len(v.m) >= maxVerifiedTokens {
		v.m = make(map[string]claims)
	}
	v.m[token] = c
	v.mu.Unlock()
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
	return &Service{store: store, nonces: nonces, cfg: cfg, aead: aead, dummy: dummy,
		pool: newHashPool(cfg.HashWorkers, cfg.HashQueue, cfg.HashWait), sessions: activeSessions{ttl: cfg.SessionReuse}}, nil
}

var errBadCredentials = trading.Errorf(trading.EUNAUTHORIZED, "invalid email or password")

// LockedError is returned while login attempts on an e-mail (from an address, or from
// everywhere) are throttled after too many failures. It wraps a trading.ERATELIMIT error and
// tells when to try again.
type LockedError struct {
	Until time.Time
	now   time.Time
}

func (e *LockedError) Error() string {
	return "attempts throttled until " + e.Until.Format(time.RFC3339)
}

// Unwrap gives the domain error.
func (e *LockedError) Unwrap() error {
	return trading.Errorf(trading.ERATELIMIT, "too many failed attempts; try again later")
}

// RetryAfter is how long until the throttle ends.
func (e *LockedError) RetryAfter() time.Duration { return e.Until.Sub(e.now) }

// Register creates a trader. An e-mail that is already registered is answered exactly as a
// new one (nil), after the same work, so registration does not tell who has an account.
func (s *Service) Register(ctx context.Context, email, password string) error {
	_, err := s.CreateUser(ctx, email, password, RoleTrader)
	if trading.ErrorCode(err) == trading.ECONFLICT {
		return nil
	}
	return err
}

// CreateUser creates a user with role; an e-mail already registered is trading.ECONFLICT.
func (s *Service) CreateUser(ctx context.Context, email, password string, role Role) (User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if err := CheckPassword(password, email); err != nil {
		return User{}, err
	}
	if role != RoleTrader && role != RoleAdmin && role != RoleComplianceOfficer {
		return User{}, trading.Errorf(trading.EINVALID, "unknown role")
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: uuid.NewString(), Email: email, Role: role, PasswordHash: hash, CreatedAt: s.cfg.Now().UTC()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// User returns the user id (an account), trading.ENOTFOUND when there is none.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	if !validText(id, 128) {
		return User{}, trading.Errorf(trading.ENOTFOUND, "account not found")
	}
	return s.store.UserByID(ctx, id)
}

func normalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || !validText(email, 254) || !strings.Contains(email[strings.IndexByte(email, '@'):], ".") {
		return "", trading.Errorf(trading.EINVALID, "email is not a valid address")
	}
	return email, nil
}

// validText reports whether s is valid UTF-8 of at most max bytes without control characters.
func validText(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// claim takes one attempt from the e-mail's budgets: from this address, and from everywhere.
// It runs before any password is hashed, so throttled guesses cost nothing.
func (s *Service) claim(ctx context.Context, email, addr string, now time.Time) error {
	for _, c := range []struct {
		key string
		p   Throttle
	}{{"login:" + email + "|" + addr, s.cfg.PerAddress}, {"login:" + email, s.cfg.PerAccount}} {
		until, err := s.store.ClaimAttempt(ctx, c.key, c.p, now)
		if err != nil {
			return fmt.Errorf("login attempt: %w", err)
		}
		if !until.IsZero() {
			return &LockedError{Until: until, now: now}
		}
	}
	return nil
}

func (s *Service) clearClaims(ctx context.Context, email, addr string) error {
	for _, key := range []string{"login:" + email + "|" + addr, "login:" + email} {
		if err := s.store.ClearAttempts(ctx, key); err != nil {
			return fmt.Errorf("clear attempts: %w", err)
		}
	}
	return nil
}

// verify checks email's password from addr under the attempt budgets, through the hashing
// pool. Unknown e-mails are budgeted and hashed exactly like known ones.
func (s *Service) verify(ctx context.Context, email, password, addr string) (User, error) {
	now := s.cfg.Now()
	email, err := normalizeEmail(email)
	if err != nil || !utf8.ValidString(password) || len(password) > 4*MaxPasswordLen {
		return User{}, errBadCredentials
	}
	var u User
	var verr error
	err = s.pool.do(ctx, func() {
		if verr = s.claim(ctx, email, addr, now); verr != nil {
			return
		}
		var lerr error
		u, lerr = s.store.UserByEmail(ctx, email)
		if lerr != nil && trading.ErrorCode(lerr) != trading.ENOTFOUND {
			verr = fmt.Errorf("login: %w", lerr)
			return
		}
		encoded := u.PasswordHash
		if lerr != nil {
			encoded = s.dummy
		}
		if !checkPassword(encoded, password) || lerr != nil {
			verr = errBadCredentials
		}
	})
	if err == nil {
		err = verr
	}
	if err != nil {
		return User{}, err
	}
	return u, s.clearClaims(ctx, email, addr)
}

// Login checks a password and opens a session. Every attempt, right or wrong, takes one from
// the e-mail's budgets first (atomically with the check, so concurrent guesses cannot
// overrun them); beyond a budget the answer is *LockedError whatever the password. A
// success restores the budgets.
func (s *Service) Login(ctx context.Context, email, password, addr string) (Tokens, error) {
	u, err := s.verify(ctx, email, password, addr)
	if err != nil {
		return Tokens{}, err
	}
	now := s.cfg.Now()
	sess := Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now.UTC()}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Tokens{}, fmt.Errorf("create session: %w", err)
	}
	rt, hash := newSecretToken(refreshPrefix)
	t := RefreshToken{Hash: hash, UserID: u.ID, SessionID: sess.ID, CreatedAt: now.UTC(), ExpiresAt: now.Add(s.cfg.RefreshTTL).UTC()}
	if err := s.store.CreateRefreshToken(ctx, t); err != nil {
		return Tokens{}, fmt.Errorf("store refresh token: %w", err)
	}
	return s.tokens(u, sess.ID, rt, t.ExpiresAt, now), nil
}

// Refresh exchanges a refresh token for new tokens; the old refresh token stops working.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	now := s.cfg.Now()
	oldHash, ok := secretHash(refreshPrefix, refreshToken)
	if !ok {
		return Tokens{}, trading.Errorf(trading.EUNAUTHORIZED, "invalid refresh token")
	}
	rt, hash := newSecretToken(refreshPrefix)
	next := RefreshToken{Hash: hash, CreatedAt: now.UTC(), ExpiresAt: now.Add(s.cfg.RefreshTTL).UTC()}
	old, err := s.store.RotateRefreshToken(ctx, oldHash, next, now)
	if err != nil {
		s.sessions.revoked() // a reused token revokes every session of its user
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	u, err := s.store.UserByID(ctx, old.UserID)
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh user: %w", err)
	}
	return s.tokens(u, old.SessionID, rt, next.ExpiresAt, now), nil
}

// Logout ends the refresh token's session: its refresh tokens and its access tokens stop
// working at once. Logging out an unknown or revoked token is not an error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	hash, ok := secretHash(refreshPrefix, refreshToken)
	if !ok {
		return nil
	}
	err := s.store.RevokeRefreshToken(ctx, hash, s.cfg.Now().UTC())
	s.sessions.revoked()
	if err != nil && trading.ErrorCode(err) != trading.ENOTFOUND {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// ChangePassword replaces the password of p's user after checking the old one (under the
// same attempt budgets as a login from addr), and ends every other session of the user.
func (s *Service) ChangePassword(ctx context.Context, p Principal, oldPassword, newPassword, addr string) error {
	if p.SessionID == "" {
		return trading.Errorf(trading.EFORBIDDEN, "a session is required")
	}
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := CheckPassword(newPassword, u.Email); err != nil {
		return err
	}
	if _, err := s.verify(ctx, u.Email, oldPassword, addr); err != nil {
		if trading.ErrorCode(err) == trading.EUNAUTHORIZED {
			return trading.Errorf(trading.EUNAUTHORIZED, "current password is wrong")
		}
		return err
	}
	hash, err := s.hash(ctx, newPassword)
	if err != nil {
		return err
	}
	defer s.sessions.revoked()
	return s.store.SetPassword(ctx, u.ID, hash, p.SessionID, s.cfg.Now().UTC())
}

// RequestPasswordReset mails a single-use reset token to email when it is registered. It
// answers nil whatever the e-mail (registered, unknown, malformed, or over its budget), so it
// does not tell who has an account.
func (s *Service) RequestPasswordReset(ctx context.Context, email, addr string) error {
	now := s.cfg.Now()
	email, err := normalizeEmail(email)
	if err != nil {
		return nil
	}
	if until, err := s.store.ClaimAttempt(ctx, "reset:"+addr, s.cfg.ResetRequests, now); err != nil || !until.IsZero() {
		return err
	}
	u, err := s.store.UserByEmail(ctx, email)
	if trading.ErrorCode(err) == trading.ENOTFOUND {
		return nil
	} else if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	token, hash := newSecretToken(resetPrefix)
	r := PasswordReset{Hash: hash, UserID: u.ID, CreatedAt: now.UTC(), ExpiresAt: now.Add(s.cfg.ResetTTL).UTC()}
	if err := s.store.CreatePasswordReset(ctx, r); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if s.cfg.Mailer == nil {
		return errors.New("reset: no mailer")
	}
	if err := s.cfg.Mailer.SendPasswordReset(ctx, u.Email, token, r.ExpiresAt); err != nil {
		return fmt.Errorf("reset mail: %w", err)
	}
	return nil
}

// ResetPassword sets a new password with a reset token, once: the token, every other reset
// token of the user and every session of the user stop working.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	invalid := trading.Errorf(trading.EUNAUTHORIZED, "invalid or expired reset token")
	hash, ok := secretHash(resetPrefix, token)
	if !ok {
		return invalid
	}
	if err := CheckPassword(newPassword, ""); err != nil {
		return err
	}
	ph, err := s.hash(ctx, newPassword)
	if err != nil {
		return err
	}
	_, err = s.store.ResetPassword(ctx, hash, ph, s.cfg.Now().UTC())
	s.sessions.revoked()
	if err != nil {
		if c := trading.ErrorCode(err); c == trading.EUNAUTHORIZED || c == trading.ENOTFOUND {
			return invalid
		}
		return fmt.Errorf("reset password: %w", err)
	}
	return nil
}

const (
	refreshPrefix = "rt_"
	resetPrefix   = "pr_"
	secretLen     = 32
)

// newSecretToken returns a random token with prefix and the hash it is stored by.
func newSecretToken(prefix string) (token, hash string) {
	b := make([]byte, secretLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	h, _ := secretHash(prefix, token)
	return token, h
}

// secretHash is the stored form of a token: the SHA-256 of its canonical spelling. Any other
// spelling of the same bytes (padding bits, line breaks) is not a token.
func secretHash(prefix, token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok || len(token) > 100 {
		return "", false
	}
	if b, ok := canonicalB64(rest); !ok || len(b) != secretLen {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:]), true
}

// canonicalB64 decodes unpadded base64url that is spelled exactly as it encodes.
func canonicalB64(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawURLEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

type claims struct {
	Sub  string `json:"sub"`
	Sid  string `json:"sid"`
	Role Role   `json:"role"`
	Iat  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
}

const accessPrefix = "at1."

func (s *Service) tokens(u User, sid, refresh string, refreshExp, now time.Time) Tokens {
	exp := now.Add(s.cfg.AccessTTL)
	payload, _ := json.Marshal(claims{Sub: u.ID, Sid: sid, Role: u.Role, Iat: now.Unix(), Exp: exp.Unix()})
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

// Authenticate checks an access token: its one canonical spelling, signature, expiry, then
// that its session is still active (so logout, password change and detected refresh token
// theft end it at once: in this process before the revoking call returns, in the others as
// soon as the store's SessionFeed reports it, and on every request while no feed listens).
func (s *Service) Authenticate(ctx context.Context, accessToken string) (Principal, error) {
	invalid := errInvalidAccess
	c, ok := s.verified.get(accessToken)
	if !ok {
		if c, ok = s.parseAccess(accessToken); ok {
			s.verified.put(accessToken, c)
		}
	}
	now := s.cfg.Now()
	if !ok || now.Unix() >= c.Exp {
		return Principal{}, invalid
	}
	if user, ok := s.sessions.get(c.Sid, now); ok && user == c.Sub {
		return Principal{UserID: c.Sub, Role: c.Role, SessionID: c.Sid}, nil
	}
	gen, reuse := s.sessions.generation()
	sess, err := s.store.Session(ctx, c.Sid)
	if trading.ErrorCode(err) == trading.ENOTFOUND {
		return Principal{}, invalid
	} else if err != nil {
		return Principal{}, fmt.Errorf("session: %w", err)
	}
	if !sess.RevokedAt.IsZero() || sess.UserID != c.Sub {
		return Principal{}, invalid
	}
	if reuse {
		s.sessions.put(c.Sid, c.Sub, gen, now)
	}
	return Principal{UserID: c.Sub, Role: c.Role, SessionID: c.Sid}, nil
}

var errInvalidAccess = trading.Errorf(trading.EUNAUTHORIZED, "invalid or expired access token")

// parseAccess checks an access token's shape and MAC and returns its claims.
func (s *Service) parseAccess(token string) (claims, bool) {
	rest, ok := strings.CutPrefix(token, accessPrefix)
	if !ok || len(token) > 1024 {
		return claims{}, false
	}
	payloadB64, sigB64, ok := strings.Cut(rest, ".")
	if !ok {
		return claims{}, false
	}
	got, ok := canonicalB64(sigB64)
	if !ok || !hmac.Equal(got, s.mac(accessPrefix+payloadB64)) {
		return claims{}, false
	}
	payload, ok := canonicalB64(payloadB64)
	if !ok {
		return claims{}, false
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" || c.Sid == "" {
		return claims{}, false
	}
	return c, true
}

// NewAPIKey is a created key with its secret, shown once.
type NewAPIKey struct {
	APIKey
	Secret string
}

// CreateAPIKey creates a key for userID with scopes. The secret is returned once and stored
// sealed.
func (s *Service) CreateAPIKey(ctx context.Context, userID, label string, scopes []Scope) (NewAPIKey, error) {
	if !validText(label, 64) {
		return NewAPIKey{}, trading.Errorf(trading.EINVALID, "label must be at most 64 characters of text")
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
	if err := s.store.CreateAPIKey(ctx, k, s.cfg.Keys); err != nil {
		return NewAPIKey{}, fmt.Errorf("create key: %w", err)
	}
	return NewAPIKey{APIKey: k, Secret: base64.RawURLEncoding.EncodeToString(secret)}, nil
}

// APIKeys lists a page of userID's keys, revoked ones included, after the key id cursor
// ("" from the start), and the cursor of the next page ("" at the end).
func (s *Service) APIKeys(ctx context.Context, userID, cursor string, limit int) ([]APIKey, string, error) {
	if cursor != "" && !keyIDPattern.MatchString(cursor) {
		return nil, "", trading.Errorf(trading.EINVALID, "invalid cursor")
	}
	keys, err := s.store.APIKeys(ctx, userID, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(keys) > limit {
		return keys[:limit], keys[limit-1].ID, nil
	}
	return keys, "", nil
}

// keyIDPattern is the one spelling of an API key id.
var keyIDPattern = regexp.MustCompile(`^ak_[0-9a-f]{32}$`)

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
	if err != nil || len(sig) != sha256.Size || !keyIDPattern.MatchString(keyID) {
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
	// The replay key is the signature's bytes, not its spelling: hex in any letter case is
	// one signature.
	first, err := s.nonces.Claim(ctx, "sig:"+k.ID+":"+hex.EncodeToString(sig), 2*s.cfg.SignatureWindow)
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
