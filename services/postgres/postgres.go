// Package postgres is the PostgreSQL adapter: a pgx v5 pool, the schema migrations embedded
// in every binary, transactions retried on serialization failures and deadlocks, and Store,
// which implements the storage ports (ledger, orders, markets, risk settings, engine
// snapshots) on the pool or inside a transaction. Errors leave this package as domain errors
// (trading.Error) or wrapped internal errors; SQL text never does.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cantondex/platform/services/trading"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a migrated connection pool.
type DB struct {
	Pool *pgxpool.Pool
}

// Open connects with o (the process's one pool), pings the server and applies pending
// migrations, or with o.Migrate verify checks that none is pending.
func Open(ctx context.Context, o Options) (*DB, error) {
	cfg, err := o.poolConfig(ctx)
	if err != nil {
		return nil, err
	}
	// The cost the RDS parameter groups set (components/database): the tables live in memory
	// or on SSDs. With the server default of 4, a join of an id array with orders became a
	// scan of the whole table once it held some ten thousand orders (22 ms per batch of 500
	// ids at 40,000 orders, against 1.4 ms by index). A URL that sets it wins.
	if _, ok := cfg.ConnConfig.RuntimeParams["random_page_cost"]; !ok {
		cfg.ConnConfig.RuntimeParams["random_page_cost"] = "1.1"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	db := &DB{Pool: pool}
	migrate := db.Migrate
	if o.Migrate == MigrateVerify {
		migrate = db.Verify
	}
	if err := migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping reports whether the database answers, for readiness.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// Migrate applies the embedded migrations not yet applied, each in its own transaction, under
// an advisory lock so concurrent starts apply each once.
func (db *DB) Migrate(ctx context.Context) error { return db.MigrateTo(ctx, "") }

// Verify checks that every embedded migration has been applied, without changing anything:
// it names the first one missing. A database ahead of the binary (a newer release's
// migrations) is fine: migrations only add.
func (db *DB) Verify(ctx context.Context) error {
	versions, err := migrationVersions()
	if err != nil {
		return err
	}
	var applied []string
	err = db.Pool.QueryRow(ctx, `SELECT COALESCE(array_agg(version), '{}') FROM schema_migrations`).Scan(&applied)
	if pg := (*pgconn.PgError)(nil); errors.As(err, &pg) && pg.Code == "42P01" {
		return fmt.Errorf("schema not migrated (no schema_migrations table): run the migrations (services/cmd/migrate) first")
	}
	if err != nil {
		return fmt.Errorf("verify schema: %w", err)
	}
	have := map[string]bool{}
	for _, v := range applied {
		have[v] = true
	}
	for _, v := range versions {
		if !have[v] {
			return fmt.Errorf("schema is missing migration %s: run the migrations (services/cmd/migrate) first", v)
		}
	}
	return nil
}

// migrationVersions are the embedded migrations' versions, in order.
func migrationVersions() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for i, name := range names {
		names[i] = strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
	}
	return names, nil
}

// MigrateTo is Migrate stopping after the migration named last (all of them when last is
// empty); tests use it to build a database as an earlier release left it.
func (db *DB) MigrateTo(ctx context.Context, last string) error {
	versions, err := migrationVersions()
	if err != nil {
		return err
	}
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, version := range versions {
		if last != "" && version > last {
			break
		}
		body, err := migrations.ReadFile("migrations/" + version + ".sql")
		if err != nil {
			return err
		}
		err = db.InTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7242019)`); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", version, err)
		}
	}
	return nil
}

// InTx runs fn in a transaction, retrying it from the start on serialization failures
// (40001) and deadlocks (40P01), up to ten times with a short growing pause.
func (db *DB) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return Retry(ctx, func() error { return pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{}, fn) })
}

// Retry runs fn, a whole transaction, again from the start on serialization failures (40001)
// and deadlocks (40P01), up to ten times with a short growing pause.
func Retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		err = fn()
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * time.Millisecond):
		}
	}
	return err
}

func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01")
}

// translate turns driver errors into domain errors; anything unexpected is wrapped with what
// (and stays internal).
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
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return trading.Errorf(trading.ECONFLICT, "%s already exists", what)
		case "22003": // numeric_value_out_of_range: a sum past bigint, never stored
			return trading.Errorf(trading.EINVALID, "%s: amount out of range", what)
		case "23514":
			if strings.HasPrefix(pg.ConstraintName, "ledger_") {
				return trading.Errorf(trading.EINSUFFICIENT, "insufficient funds")
			}
			return trading.Errorf(trading.EINVALID, "%s is invalid", what)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
