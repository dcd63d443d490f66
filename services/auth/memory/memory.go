// Package memory keeps auth's users, sessions, tokens, keys and nonces in process memory: for
// tests and for a single-process platform without PostgreSQL or Redis.
package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

var (
	_ auth.Store  = (*Store)(nil)
	_ auth.Nonces = (*Nonces)(nil)
)

// Store is an in-memory auth.Store. One mutex serialises every operation, so each is atomic.
type Store struct {
	mu       sync.Mutex
	users    map[string]auth.User // by id
	byEmail  map[string]string
	sessions map[string]auth.Session
	refresh  map[string]auth.RefreshToken
	resets   map[string]auth.PasswordReset
	used     map[string]bool // reset token hashes used or withdrawn
	attempts map[string]attempt
	keys     map[string]auth.APIKey
}

type attempt struct {
	failures int
	until    time.Time
	touched  time.Time
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		users:    map[string]auth.User{},
		byEmail:  map[string]string{},
		sessions: map[string]auth.Session{},
		refresh:  map[string]auth.RefreshToken{},
		resets:   map[string]auth.PasswordReset{},
		used:     map[string]bool{},
		attempts: map[string]attempt{},
		keys:     map[string]auth.APIKey{},
	}
}

func notFound(what string) error { return trading.Errorf(trading.ENOTFOUND, "%s not found", what) }

func (s *Store) CreateUser(_ context.Context, u auth.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byEmail[u.Email]; ok {
		return trading.Errorf(trading.ECONFLICT, "email already registered")
	}
	s.users[u.ID] = u
	s.byEmail[u.Email] = u.ID
	return nil
}

func (s *Store) UserByEmail(_ context.Context, email string) (auth.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byEmail[email]
	if !ok {
		return auth.User{}, notFound("user")
	}
	return s.users[id], nil
}

func (s *Store) UserByID(_ context.Context, id string) (auth.User, error) {
	return lookup(s, s.users, id, "user")
}

// lookup reads m[id] under s's lock; a missing id is trading.ENOTFOUND for what.
func lookup[V any](s *Store, m map[string]V, id, what string) (V, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := m[id]
	if !ok {
		return v, notFound(what)
	}
	return v, nil
}

func (s *Store) SetPassword(_ context.Context, userID, hash, keep string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return notFound("user")
	}
	u.PasswordHash = hash
	s.users[userID] = u
	s.revokeSessions(userID, keep, now)
	return nil
}

// revokeSessions revokes userID's sessions but keep, their refresh tokens and the user's
// reset tokens. The caller holds mu.
func (s *Store) revokeSessions(userID, keep string, now time.Time) {
	for id, ss := range s.sessions {
		if ss.UserID == userID && id != keep && ss.RevokedAt.IsZero() {
			ss.RevokedAt = now
			s.sessions[id] = ss
		}
	}
	for h, t := range s.refresh {
		if t.UserID == userID && t.SessionID != keep && t.RevokedAt.IsZero() {
			t.RevokedAt = now
			s.refresh[h] = t
		}
	}
	for h, r := range s.resets {
		if r.UserID == userID {
			s.used[h] = true
		}
	}
}

func (s *Store) ClaimAttempt(_ context.Context, key string, p auth.Throttle, now time.Time) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.attempts[key]
	if now.Before(a.until) {
		return a.until, nil
	}
	if !a.touched.IsZero() && now.Sub(a.touched) >= p.Forget {
		a = attempt{}
	}
	a.failures++
	a.until, a.touched = p.BlockAfter(a.failures, now), now
	s.attempts[key] = a
	if len(s.attempts) > 100_000 {
		for k, v := range s.attempts {
			if now.Sub(v.touched) >= p.Forget && !now.Before(v.until) {
				delete(s.attempts, k)
			}
		}
	}
	return time.Time{}, nil
}

func (s *Store) ClearAttempts(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.attempts, key)
	return nil
}

func (s *Store) CreateSession(_ context.Context, ss auth.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[ss.UserID]; !ok {
		return notFound("user")
	}
	s.sessions[ss.ID] = ss
	return nil
}

func (s *Store) Session(_ context.Context, id string) (auth.Session, error) {
	return lookup(s, s.sessions, id, "session")
}

func (s *Store) CreateRefreshToken(_ context.Context, t auth.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[t.SessionID]; !ok {
		return notFound("session")
	}
	s.refresh[t.Hash] = t
	return nil
}

func (s *Store) RotateRefreshToken(_ context.Context, oldHash string, next auth.RefreshToken, now time.Time) (auth.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	invalid := trading.Errorf(trading.EUNAUTHORIZED, "invalid refresh token")
	old, ok := s.refresh[oldHash]
	if !ok || !now.Before(old.ExpiresAt) {
		return auth.RefreshToken{}, invalid
	}
	if ss := s.sessions[old.SessionID]; !ss.RevokedAt.IsZero() {
		return auth.RefreshToken{}, invalid // logged out: nothing left to protect
	}
	if !old.RevokedAt.IsZero() {
		s.revokeSessions(old.UserID, "", now)
		return auth.RefreshToken{}, invalid
	}
	old.RevokedAt = now
	s.refresh[oldHash] = old
	next.UserID, next.SessionID = old.UserID, old.SessionID
	s.refresh[next.Hash] = next
	return old, nil
}

func (s *Store) RevokeRefreshToken(_ context.Context, hash string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[hash]
	if !ok {
		return notFound("refresh token")
	}
	if ss, ok := s.sessions[t.SessionID]; ok && ss.RevokedAt.IsZero() {
		ss.RevokedAt = at
		s.sessions[t.SessionID] = ss
	}
	for h, rt := range s.refresh {
		if rt.SessionID == t.SessionID && rt.RevokedAt.IsZero() {
			rt.RevokedAt = at
			s.refresh[h] = rt
		}
	}
	return nil
}

func (s *Store) CreatePasswordReset(_ context.Context, r auth.PasswordReset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[r.UserID]; !ok {
		return notFound("user")
	}
	s.resets[r.Hash] = r
	return nil
}

func (s *Store) ResetPassword(_ context.Context, hash, passwordHash string, now time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resets[hash]
	if !ok || s.used[hash] || !now.Before(r.ExpiresAt) {
		return "", trading.Errorf(trading.EUNAUTHORIZED, "invalid or expired reset token")
	}
	u := s.users[r.UserID]
	u.PasswordHash = passwordHash
	s.users[r.UserID] = u
	s.revokeSessions(r.UserID, "", now)
	return r.UserID, nil
}

func (s *Store) CreateAPIKey(_ context.Context, k auth.APIKey, lim auth.KeyLimits) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return trading.Errorf(trading.ECONFLICT, "api key exists")
	}
	if _, ok := s.users[k.UserID]; !ok {
		return notFound("user")
	}
	mine := s.keysOf(k.UserID)
	var revoked []auth.APIKey
	active := 0
	for _, x := range mine {
		if x.RevokedAt.IsZero() {
			active++
		} else {
			revoked = append(revoked, x)
		}
	}
	if active >= lim.MaxActive {
		return trading.Errorf(trading.ECONFLICT, "at most %d active API keys", lim.MaxActive)
	}
	sort.Slice(revoked, func(i, j int) bool { return revoked[i].RevokedAt.After(revoked[j].RevokedAt) })
	for i := lim.RetainRevoked; i < len(revoked); i++ {
		delete(s.keys, revoked[i].ID)
	}
	s.keys[k.ID] = k
	return nil
}

func (s *Store) APIKey(_ context.Context, id string) (auth.APIKey, error) {
	return lookup(s, s.keys, id, "api key")
}

// keysOf lists userID's keys by creation, then id. The caller holds mu.
func (s *Store) keysOf(userID string) []auth.APIKey {
	var out []auth.APIKey
	for _, k := range s.keys {
		if k.UserID == userID {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (s *Store) APIKeys(_ context.Context, userID, after string, limit int) ([]auth.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.keysOf(userID)
	if after != "" {
		cur, ok := s.keys[after]
		if !ok || cur.UserID != userID {
			return nil, nil
		}
		i := sort.Search(len(all), func(i int) bool {
			k := all[i]
			return k.CreatedAt.After(cur.CreatedAt) || (k.CreatedAt.Equal(cur.CreatedAt) && k.ID > cur.ID)
		})
		all = all[i:]
	}
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

func (s *Store) RevokeAPIKey(_ context.Context, userID, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok || k.UserID != userID {
		return notFound("api key")
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = at
		s.keys[id] = k
	}
	return nil
}

// Nonces is an in-memory auth.Nonces.
type Nonces struct {
	mu   sync.Mutex
	seen map[string]time.Time // key -> expiry
	now  func() time.Time
}

// NewNonces returns an empty nonce set using now as the clock (time.Now when nil).
func NewNonces(now func() time.Time) *Nonces {
	if now == nil {
		now = time.Now
	}
	return &Nonces{seen: map[string]time.Time{}, now: now}
}

func (n *Nonces) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	if exp, ok := n.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(n.seen) > 10000 {
		for k, exp := range n.seen {
			if !now.Before(exp) {
				delete(n.seen, k)
			}
		}
	}
	n.seen[key] = now.Add(ttl)
	return true, nil
}
