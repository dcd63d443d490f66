// Package postgres stores auth's users, sessions, tokens, attempt budgets and API keys in
// PostgreSQL. Its schema is part of services/postgres's migrations (0100 onwards), applied by
// that package's Migrate with the rest of the platform's.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

var _ auth.Store = (*Store)(nil)

// Store is an auth.Store on a pgx pool.
type Store struct {
	pool   *pgxpool.Pool
	claims atomic.Uint64 // attempts claimed, to prune stale budgets now and then
}

// NewStore returns a Store on pool, which services/postgres has migrated.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

var _ auth.SessionFeed = (*Store)(nil)

// sessionsChannel is notified by the trigger auth_sessions_revoked (migrations/0103) whenever
// a session is revoked or removed.
const sessionsChannel = "cantondex_auth_sessions"

// WatchRevocations implements auth.SessionFeed with LISTEN on a connection of its own, taken
// from the pool and closed when it returns (it never goes back to the pool listening).
func (s *Store) WatchRevocations(ctx context.Context, listening, revoked func()) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("session feed: %w", err)
	}
	conn := c.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+sessionsChannel); err != nil {
		return fmt.Errorf("session feed: %w", err)
	}
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("session feed: %w", err)
		}
		revoked()
	}
}

func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	var de *trading.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return trading.Errorf(trading.ENOTFOUND, "%s not found", what)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return trading.Errorf(trading.ECONFLICT, "%s already exists", what)
		case "23503":
			return trading.Errorf(trading.ENOTFOUND, "%s: owner not found", what)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

type userRow struct {
	ID           string    `db:"id"`
	Email        string    `db:"email"`
	Role         string    `db:"role"`
	PasswordHash string    `db:"password_hash"`
	CreatedAt    time.Time `db:"created_at"`
}

func (r userRow) user() auth.User {
	return auth.User{ID: r.ID, Email: r.Email, Role: auth.Role(r.Role), PasswordHash: r.PasswordHash, CreatedAt: r.CreatedAt.UTC()}
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Store) CreateUser(ctx context.Context, u auth.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_users (id, email, role, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5)`, u.ID, u.Email, string(u.Role), u.PasswordHash, u.CreatedAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return trading.Errorf(trading.ECONFLICT, "email already registered")
	}
	return translate(err, "user")
}

const userCols = `id, email, role, password_hash, created_at`

func (s *Store) userWhere(ctx context.Context, where string, arg any) (auth.User, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userCols+` FROM auth_users WHERE `+where, arg)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[userRow])
	if err != nil {
		return auth.User{}, translate(err, "user")
	}
	return r.user(), nil
}

func (s *Store) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	return s.userWhere(ctx, `email = $1`, email)
}

func (s *Store) UserByID(ctx context.Context, id string) (auth.User, error) {
	return s.userWhere(ctx, `id = $1`, id)
}

func (s *Store) inTx(ctx context.Context, what string, f func(tx pgx.Tx) error) error {
	return translate(pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, f), what)
}

// revokeSessions revokes userID's sessions but keep, their refresh tokens and the user's
// unused reset tokens, inside tx.
func revokeSessions(ctx context.Context, tx pgx.Tx, userID, keep string, now time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE auth_sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`, userID, keep, now)
	b.Queue(`UPDATE auth_refresh_tokens SET revoked_at = $3 WHERE user_id = $1 AND session_id <> $2 AND revoked_at IS NULL`, userID, keep, now)
	b.Queue(`UPDATE auth_password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`, userID, now)
	return tx.SendBatch(ctx, b).Close()
}

func (s *Store) SetPassword(ctx context.Context, userID, hash, keep string, now time.Time) error {
	return s.inTx(ctx, "user", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE auth_users SET password_hash = $2 WHERE id = $1`, userID, hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return trading.Errorf(trading.ENOTFOUND, "user not found")
		}
		return revokeSessions(ctx, tx, userID, keep, now)
	})
}

// ClaimAttempt locks key's row (creating it when new), so concurrent claims on one key
// queue: each sees the count the one before it left.
func (s *Store) ClaimAttempt(ctx context.Context, key string, p auth.Throttle, now time.Time) (time.Time, error) {
	var blocked time.Time
	err := s.inTx(ctx, "attempts", func(tx pgx.Tx) error {
		var failures int
		var until *time.Time
		var touched time.Time
		err := tx.QueryRow(ctx, `INSERT INTO auth_attempts (key, failures, touched_at) VALUES ($1, 0, $2)
			ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
			RETURNING failures, blocked_until, touched_at`, key, now).Scan(&failures, &until, &touched)
		if err != nil {
			return err
		}
		if until != nil && now.Before(*until) {
			blocked = until.UTC()
			return nil
		}
		if failures > 0 && now.Sub(touched) >= p.Forget {
			failures = 0
		}
		failures++
		_, err = tx.Exec(ctx, `UPDATE auth_attempts SET failures = $2, blocked_until = $3, touched_at = $4 WHERE key = $1`,
			key, failures, nullTime(p.BlockAfter(failures, now)), now)
		return err
	})
	if err == nil && s.claims.Add(1)%1024 == 0 {
		_, err = s.pool.Exec(ctx, `DELETE FROM auth_attempts WHERE touched_at < $1 AND (blocked_until IS NULL OR blocked_until < $2)`,
			now.Add(-p.Forget), now)
		err = translate(err, "attempts")
	}
	return blocked, err
}

func (s *Store) ClearAttempts(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM auth_attempts WHERE key = $1`, key)
	return translate(err, "attempts")
}

func (s *Store) CreateSession(ctx context.Context, ss auth.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_sessions (id, user_id, created_at, revoked_at) VALUES ($1, $2, $3, $4)`,
		ss.ID, ss.UserID, ss.CreatedAt, nullTime(ss.RevokedAt))
	return translate(err, "session")
}

func (s *Store) Session(ctx context.Context, id string) (auth.Session, error) {
	ss := auth.Session{ID: id}
	var revoked *time.Time
	err := s.pool.QueryRow(ctx, `SELECT user_id, created_at, revoked_at FROM auth_sessions WHERE id = $1`, id).
		Scan(&ss.UserID, &ss.CreatedAt, &revoked)
	if err != nil {
		return auth.Session{}, translate(err, "session")
	}
	if revoked != nil {
		ss.RevokedAt = revoked.UTC()
	}
	ss.CreatedAt = ss.CreatedAt.UTC()
	return ss, nil
}

func (s *Store) CreateRefreshToken(ctx context.Context, t auth.RefreshToken) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_refresh_tokens (hash, user_id, session_id, expires_at, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, t.Hash, t.UserID, t.SessionID, t.ExpiresAt, t.CreatedAt, nullTime(t.RevokedAt))
	return translate(err, "refresh token")
}

func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next auth.RefreshToken, now time.Time) (auth.RefreshToken, error) {
	invalid := trading.Errorf(trading.EUNAUTHORIZED, "invalid refresh token")
	old := auth.RefreshToken{Hash: oldHash}
	var reused bool
	err := s.inTx(ctx, "refresh token", func(tx pgx.Tx) error {
		var revoked, sessionRevoked *time.Time
		err := tx.QueryRow(ctx, `SELECT t.user_id, t.session_id, t.expires_at, t.created_at, t.revoked_at, s.revoked_at
			FROM auth_refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id
			WHERE t.hash = $1 FOR UPDATE OF t, s`, oldHash).
			Scan(&old.UserID, &old.SessionID, &old.ExpiresAt, &old.CreatedAt, &revoked, &sessionRevoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return invalid
		} else if err != nil {
			return err
		}
		if !now.Before(old.ExpiresAt) {
			return invalid
		}
		if sessionRevoked != nil {
			return invalid // logged out: nothing left to protect
		}
		if revoked != nil {
			reused = true
			return revokeSessions(ctx, tx, old.UserID, "", now) // commit the revocation
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET revoked_at = $2 WHERE hash = $1`, oldHash, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO auth_refresh_tokens (hash, user_id, session_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
			next.Hash, old.UserID, old.SessionID, next.ExpiresAt, next.CreatedAt)
		return err
	})
	if err != nil {
		return auth.RefreshToken{}, err
	}
	if reused {
		return auth.RefreshToken{}, invalid
	}
	return old, nil
}

func (s *Store) RevokeRefreshToken(ctx context.Context, hash string, at time.Time) error {
	return s.inTx(ctx, "refresh token", func(tx pgx.Tx) error {
		var session string
		if err := tx.QueryRow(ctx, `SELECT session_id FROM auth_refresh_tokens WHERE hash = $1`, hash).Scan(&session); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE auth_sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, session, at)
		b.Queue(`UPDATE auth_refresh_tokens SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL`, session, at)
		return tx.SendBatch(ctx, b).Close()
	})
}

func (s *Store) CreatePasswordReset(ctx context.Context, r auth.PasswordReset) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_password_resets (hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)`,
		r.Hash, r.UserID, r.ExpiresAt, r.CreatedAt)
	return translate(err, "reset token")
}

func (s *Store) ResetPassword(ctx context.Context, hash, passwordHash string, now time.Time) (string, error) {
	var userID string
	err := s.inTx(ctx, "reset token", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE auth_password_resets SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2
			RETURNING user_id`, hash, now).Scan(&userID)
		if errors.Is(err, pgx.ErrNoRows) {
			return trading.Errorf(trading.EUNAUTHORIZED, "invalid or expired reset token")
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_users SET password_hash = $2 WHERE id = $1`, userID, passwordHash); err != nil {
			return err
		}
		return revokeSessions(ctx, tx, userID, "", now)
	})
	return userID, err
}

type keyRow struct {
	ID        string     `db:"id"`
	UserID    string     `db:"user_id"`
	Label     string     `db:"label"`
	Scopes    []string   `db:"scopes"`
	Sealed    []byte     `db:"sealed"`
	CreatedAt time.Time  `db:"created_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

func (r keyRow) key() auth.APIKey {
	k := auth.APIKey{ID: r.ID, UserID: r.UserID, Label: r.Label, Sealed: r.Sealed, CreatedAt: r.CreatedAt.UTC()}
	for _, s := range r.Scopes {
		k.Scopes = append(k.Scopes, auth.Scope(s))
	}
	if r.RevokedAt != nil {
		k.RevokedAt = r.RevokedAt.UTC()
	}
	return k
}

const keyCols = `id, user_id, label, scopes, sealed, created_at, revoked_at`

// CreateAPIKey locks the owner's user row, so concurrent creations for one user count one
// after the other.
func (s *Store) CreateAPIKey(ctx context.Context, k auth.APIKey, lim auth.KeyLimits) error {
	scopes := make([]string, len(k.Scopes))
	for i, sc := range k.Scopes {
		scopes[i] = string(sc)
	}
	return s.inTx(ctx, "api key", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM auth_users WHERE id = $1 FOR UPDATE`, k.UserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return trading.Errorf(trading.ENOTFOUND, "user not found")
		}
		// A statement of its own, so it sees the keys of the creations that held the lock.
		var active int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM auth_api_keys WHERE user_id = $1 AND revoked_at IS NULL`, k.UserID).Scan(&active); err != nil {
			return err
		}
		if active >= lim.MaxActive {
			return trading.Errorf(trading.ECONFLICT, "at most %d active API keys", lim.MaxActive)
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM auth_api_keys WHERE id IN (SELECT id FROM auth_api_keys WHERE user_id = $1 AND revoked_at IS NOT NULL
			ORDER BY revoked_at DESC, id OFFSET $2)`, k.UserID, lim.RetainRevoked)
		b.Queue(`INSERT INTO auth_api_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			k.ID, k.UserID, k.Label, scopes, k.Sealed, k.CreatedAt, nullTime(k.RevokedAt))
		return tx.SendBatch(ctx, b).Close()
	})
}

func (s *Store) APIKey(ctx context.Context, id string) (auth.APIKey, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+keyCols+` FROM auth_api_keys WHERE id = $1`, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[keyRow])
	if err != nil {
		return auth.APIKey{}, translate(err, "api key")
	}
	return r.key(), nil
}

func (s *Store) APIKeys(ctx context.Context, userID, after string, limit int) ([]auth.APIKey, error) {
	var rows pgx.Rows
	if after == "" {
		rows, _ = s.pool.Query(ctx, `SELECT `+keyCols+` FROM auth_api_keys WHERE user_id = $1 ORDER BY created_at, id LIMIT $2`, userID, limit)
	} else {
		rows, _ = s.pool.Query(ctx, `SELECT `+keyCols+` FROM auth_api_keys k WHERE user_id = $1
			AND (created_at, id) > (SELECT created_at, id FROM auth_api_keys WHERE id = $2 AND user_id = $1)
			ORDER BY created_at, id LIMIT $3`, userID, after, limit)
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[keyRow])
	if err != nil {
		return nil, translate(err, "api keys")
	}
	out := make([]auth.APIKey, len(rs))
	for i, r := range rs {
		out[i] = r.key()
	}
	return out, nil
}

func (s *Store) RevokeAPIKey(ctx context.Context, userID, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE auth_api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND user_id = $2`, id, userID, at)
	if err != nil {
		return translate(err, "api key")
	}
	if tag.RowsAffected() == 0 {
		return trading.Errorf(trading.ENOTFOUND, "api key not found")
	}
	return nil
}
