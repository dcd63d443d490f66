// Package postgres stores auth's users, refresh tokens and API keys in PostgreSQL.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/trading"
)

var _ auth.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the auth schema. It is idempotent and serialised by an advisory lock, so
// replicas starting together are safe.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('cantondex auth migrate'))`); err != nil {
			return fmt.Errorf("migrate lock: %w", err)
		}
		for _, n := range names {
			sql, err := migrations.ReadFile(n)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("migrate %s: %w", n, err)
			}
		}
		return nil
	})
}

// Store is an auth.Store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool. Call Migrate first.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return trading.Errorf(trading.ENOTFOUND, "%s not found", what)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return trading.Errorf(trading.ECONFLICT, "%s already exists", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

type userRow struct {
	ID           string     `db:"id"`
	Email        string     `db:"email"`
	Role         string     `db:"role"`
	PasswordHash string     `db:"password_hash"`
	FailedLogins int        `db:"failed_logins"`
	LockedUntil  *time.Time `db:"locked_until"`
	CreatedAt    time.Time  `db:"created_at"`
}

func (r userRow) user() auth.User {
	u := auth.User{ID: r.ID, Email: r.Email, Role: auth.Role(r.Role), PasswordHash: r.PasswordHash,
		FailedLogins: r.FailedLogins, CreatedAt: r.CreatedAt.UTC()}
	if r.LockedUntil != nil {
		u.LockedUntil = r.LockedUntil.UTC()
	}
	return u
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Store) CreateUser(ctx context.Context, u auth.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_users (id, email, role, password_hash, failed_logins, locked_until, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.ID, u.Email, string(u.Role), u.PasswordHash, u.FailedLogins, nullTime(u.LockedUntil), u.CreatedAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return trading.Errorf(trading.ECONFLICT, "email already registered")
	}
	return translate(err, "user")
}

const userCols = `id, email, role, password_hash, failed_logins, locked_until, created_at`

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

func (s *Store) AddLoginFailure(ctx context.Context, id string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `UPDATE auth_users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins`, id).Scan(&n)
	return n, translate(err, "user")
}

func (s *Store) exec1(ctx context.Context, what, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return translate(err, what)
	}
	if tag.RowsAffected() == 0 {
		return trading.Errorf(trading.ENOTFOUND, "%s not found", what)
	}
	return nil
}

func (s *Store) LockUser(ctx context.Context, id string, until time.Time) error {
	return s.exec1(ctx, "user", `UPDATE auth_users SET locked_until = $2 WHERE id = $1`, id, until)
}

func (s *Store) ResetLoginFailures(ctx context.Context, id string) error {
	return s.exec1(ctx, "user", `UPDATE auth_users SET failed_logins = 0, locked_until = NULL WHERE id = $1`, id)
}

func (s *Store) CreateRefreshToken(ctx context.Context, t auth.RefreshToken) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_refresh_tokens (hash, user_id, expires_at, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5)`, t.Hash, t.UserID, t.ExpiresAt, t.CreatedAt, nullTime(t.RevokedAt))
	return translate(err, "refresh token")
}

func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next auth.RefreshToken, now time.Time) (string, error) {
	invalid := trading.Errorf(trading.EUNAUTHORIZED, "invalid refresh token")
	var userID string
	var reused bool
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var expires time.Time
		var revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT user_id, expires_at, revoked_at FROM auth_refresh_tokens WHERE hash = $1 FOR UPDATE`, oldHash).
			Scan(&userID, &expires, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return invalid
		} else if err != nil {
			return err
		}
		if !now.Before(expires) {
			return invalid
		}
		if revoked != nil {
			reused = true
			_, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, now)
			return err // commit the revocation
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET revoked_at = $2 WHERE hash = $1`, oldHash, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO auth_refresh_tokens (hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)`,
			next.Hash, userID, next.ExpiresAt, next.CreatedAt)
		return err
	})
	if err != nil {
		if trading.ErrorCode(err) == trading.EUNAUTHORIZED {
			return "", err
		}
		return "", translate(err, "refresh token")
	}
	if reused {
		return "", invalid
	}
	return userID, nil
}

func (s *Store) RevokeRefreshToken(ctx context.Context, hash string, at time.Time) error {
	return s.exec1(ctx, "refresh token", `UPDATE auth_refresh_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE hash = $1`, hash, at)
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

func (s *Store) CreateAPIKey(ctx context.Context, k auth.APIKey) error {
	scopes := make([]string, len(k.Scopes))
	for i, sc := range k.Scopes {
		scopes[i] = string(sc)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_api_keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.UserID, k.Label, scopes, k.Sealed, k.CreatedAt, nullTime(k.RevokedAt))
	return translate(err, "api key")
}

func (s *Store) APIKey(ctx context.Context, id string) (auth.APIKey, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+keyCols+` FROM auth_api_keys WHERE id = $1`, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[keyRow])
	if err != nil {
		return auth.APIKey{}, translate(err, "api key")
	}
	return r.key(), nil
}

func (s *Store) APIKeys(ctx context.Context, userID string) ([]auth.APIKey, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+keyCols+` FROM auth_api_keys WHERE user_id = $1 ORDER BY created_at, id`, userID)
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
	return s.exec1(ctx, "api key", `UPDATE auth_api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND user_id = $2`, id, userID, at)
}
