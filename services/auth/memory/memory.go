// Package memory keeps auth's users, tokens, keys and nonces in process memory: for tests and
// for a single-process platform without PostgreSQL or Redis.
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

// Store is an in-memory auth.Store.
type Store struct {
	mu      sync.Mutex
	users   map[string]auth.User // by id
	byEmail map[string]string
	refresh map[string]auth.RefreshToken
	keys    map[string]auth.APIKey
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		users:   map[string]auth.User{},
		byEmail: map[string]string{},
		refresh: map[string]auth.RefreshToken{},
		keys:    map[string]auth.APIKey{},
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
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return auth.User{}, notFound("user")
	}
	return u, nil
}

func (s *Store) update(id string, f func(*auth.User)) (auth.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return auth.User{}, notFound("user")
	}
	f(&u)
	s.users[id] = u
	return u, nil
}

func (s *Store) AddLoginFailure(_ context.Context, id string) (int, error) {
	u, err := s.update(id, func(u *auth.User) { u.FailedLogins++ })
	return u.FailedLogins, err
}

func (s *Store) LockUser(_ context.Context, id string, until time.Time) error {
	_, err := s.update(id, func(u *auth.User) { u.LockedUntil = until })
	return err
}

func (s *Store) ResetLoginFailures(_ context.Context, id string) error {
	_, err := s.update(id, func(u *auth.User) { u.FailedLogins = 0; u.LockedUntil = time.Time{} })
	return err
}

func (s *Store) CreateRefreshToken(_ context.Context, t auth.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh[t.Hash] = t
	return nil
}

func (s *Store) RotateRefreshToken(_ context.Context, oldHash string, next auth.RefreshToken, now time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refresh[oldHash]
	if !ok || !now.Before(old.ExpiresAt) {
		return "", trading.Errorf(trading.EUNAUTHORIZED, "invalid refresh token")
	}
	if !old.RevokedAt.IsZero() {
		for h, t := range s.refresh {
			if t.UserID == old.UserID && t.RevokedAt.IsZero() {
				t.RevokedAt = now
				s.refresh[h] = t
			}
		}
		return "", trading.Errorf(trading.EUNAUTHORIZED, "invalid refresh token")
	}
	old.RevokedAt = now
	s.refresh[oldHash] = old
	next.UserID = old.UserID
	s.refresh[next.Hash] = next
	return old.UserID, nil
}

func (s *Store) RevokeRefreshToken(_ context.Context, hash string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[hash]
	if !ok {
		return notFound("refresh token")
	}
	if t.RevokedAt.IsZero() {
		t.RevokedAt = at
		s.refresh[hash] = t
	}
	return nil
}

func (s *Store) CreateAPIKey(_ context.Context, k auth.APIKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return trading.Errorf(trading.ECONFLICT, "api key exists")
	}
	s.keys[k.ID] = k
	return nil
}

func (s *Store) APIKey(_ context.Context, id string) (auth.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return auth.APIKey{}, notFound("api key")
	}
	return k, nil
}

func (s *Store) APIKeys(_ context.Context, userID string) ([]auth.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	return out, nil
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
