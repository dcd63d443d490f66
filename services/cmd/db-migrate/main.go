// Command db-migrate applies the database migrations of services/postgres and exits: the
// program runs it as a Kubernetes Job before the services roll, so a release's schema is in
// place before any of its binaries starts (they still migrate on start, under the same
// advisory lock, which is then a no-op). It needs DATABASE_URL and the database settings of
// its catalog entry (IAM authentication through the RDS Proxy in the cluster); it prints the
// migrations it found applied and exits non-zero on an error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/postgres"
)

func main() {
	ctx, stop := platform.SignalContext()
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "db-migrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg, err := platform.LoadConfig(catalog.MustLookup(catalog.DBMigrate), getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	// Open applies every pending migration before it returns.
	db, err := postgres.Open(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer db.Close()
	var applied int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		return fmt.Errorf("count migrations: %w", err)
	}
	fmt.Fprintf(out, "%d migrations applied\n", applied)
	return nil
}
