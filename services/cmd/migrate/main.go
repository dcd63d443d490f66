// Command migrate prepares the platform's database before the services roll: it applies the
// schema migrations embedded in services/postgres and creates the services' database users
// (the service catalog's DBUser of each entry on this database) with exactly the rights a
// service needs: read and write rows, no DDL. The services themselves then only verify the
// schema (DB_MIGRATE=verify). The program runs it as a Kubernetes Job from the platform's
// image, connecting directly to the instance as its owner with the credentials RDS keeps in
// Secrets Manager, synced into the pod; running it again changes nothing.
//
//	DATABASE_URL=postgres://<instance>:5432/trading DB_SECRET_JSON='{"username":...}' \
//	DB_TLS_CA_FILE=/etc/cantondex/rds-ca.pem MIGRATE_IAM_USERS=true migrate
//
// MIGRATE_IAM_USERS=true grants each user rds_iam (RDS then takes IAM tokens, the users have
// no password); leave it unset on a server that is not RDS. It prints what it did and exits 1
// on an error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/postgres"
)

// EnvIAMUsers says whether the users authenticate with IAM tokens.
const EnvIAMUsers = "MIGRATE_IAM_USERS"

// timeout bounds one run; the Job retries on failure.
const timeout = 10 * time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	entry := catalog.MustLookup(catalog.DatabaseMigrations)
	if err := run(ctx, os.Getenv, os.Stdout, catalog.DatabaseUsers()[entry.Database]); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

// run migrates the database of DATABASE_URL and ensures users on it.
func run(ctx context.Context, getenv func(string) string, out io.Writer, users []string) error {
	o, err := postgres.OptionsFromEnv(getenv)
	if err != nil {
		return err
	}
	if o.URL == "" {
		return fmt.Errorf("DATABASE_URL is required")
	}
	if o.Migrate != postgres.MigrateApply {
		return fmt.Errorf("DB_MIGRATE=%s: this command applies the migrations; leave DB_MIGRATE unset", o.Migrate)
	}
	iam := false
	if v := getenv(EnvIAMUsers); v != "" {
		if iam, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%s %q: want true or false", EnvIAMUsers, v)
		}
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	o.MaxConns = 2
	db, err := postgres.Open(ctx, o) // applies the migrations
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(out, "database %s: migrations applied\n", cfg.ConnConfig.Database)
	if err := db.EnsureUsers(ctx, cfg.ConnConfig.Database, users, iam); err != nil {
		return err
	}
	for _, u := range users {
		fmt.Fprintf(out, "user %s: ready (IAM authentication %v)\n", u, iam)
	}
	return nil
}
