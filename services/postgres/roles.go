package postgres

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// userName is what a service's database user may be called: a plain lower-case identifier,
// so that it reads the same quoted or not.
var userName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// EnsureUsers creates the services' database users that do not exist yet and gives each
// exactly what a service needs on the migrated schema: to connect, and to read and write the
// rows of every table (no DDL, no ownership, no TRUNCATE; schema_migrations read-only). With
// iam, each is also granted rds_iam, so RDS accepts an IAM token instead of a password (the
// users have none). It is idempotent, runs in one transaction, and is meant to run after
// Migrate, as the database's owner: services/cmd/migrate does both.
func (db *DB) EnsureUsers(ctx context.Context, database string, users []string, iam bool) error {
	for _, u := range users {
		if !userName.MatchString(u) {
			return fmt.Errorf("database user %q: want a lower-case identifier ([a-z_][a-z0-9_]*, at most 63)", u)
		}
	}
	return db.InTx(ctx, func(tx pgx.Tx) error {
		// Users are cluster-wide: two Jobs at once must not both try to create one.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7242020)`); err != nil {
			return err
		}
		if iam {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')`).Scan(&ok); err != nil {
				return fmt.Errorf("look up rds_iam: %w", err)
			}
			if !ok {
				return fmt.Errorf("IAM database users asked for, but this server has no rds_iam role (not RDS?)")
			}
		}
		for _, u := range users {
			id := pgx.Identifier{u}.Sanitize()
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, u).Scan(&exists); err != nil {
				return fmt.Errorf("look up user %s: %w", u, err)
			}
			stmts := []string{}
			if !exists {
				stmts = append(stmts, `CREATE ROLE `+id+` LOGIN`)
			}
			if iam {
				stmts = append(stmts, `GRANT rds_iam TO `+id)
			}
			stmts = append(stmts,
				`GRANT CONNECT ON DATABASE `+pgx.Identifier{database}.Sanitize()+` TO `+id,
				`GRANT USAGE ON SCHEMA public TO `+id,
				`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO `+id,
				`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO `+id,
				`REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM `+id,
			)
			for _, st := range stmts {
				if _, err := tx.Exec(ctx, st); err != nil {
					return fmt.Errorf("user %s: %w", u, err)
				}
			}
		}
		return nil
	})
}
