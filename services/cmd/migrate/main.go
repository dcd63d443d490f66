// Command migrate prepares the platform's database before the services roll: it applies the
// schema migrations embedded in services/postgres and creates the services' database users
// (the service catalog's DBUser of each entry on this database) with exactly the rights a
// service needs: read and write rows, no DDL. The services themselves then only verify the
// schema (DB_MIGRATE=verify). The program runs it as a Kubernetes Job from the platform's
// image, connecting directly to the instance as its owner with the credentials RDS keeps in
// Secrets Manager, synced into the pod; running it again changes nothing.
//
//	DATABASE_URL=postgres://<instance>:5432/trading DB_SECRET_JSON='{"username":...}' \
//	DB_TLS_CA_FILE=/etc/cantondex/rds-ca.pem AWS_REGION=us-east-1 \
//	MIGRATE_USER_SECRETS='{"cdx_api_gateway":"arn:aws:secretsmanager:...",...}' migrate
//
// The services authenticate to RDS Proxy with IAM; the proxy logs in to PostgreSQL as the
// same user with the password in that user's Secrets Manager secret (the database component
// creates one per user, empty). MIGRATE_USER_SECRETS maps every user to its secret: a secret
// without a value gets a generated password (32 random bytes), and each user's password is
// set from its secret, as a SCRAM verifier. Unset (local runs), the users get no password. The
// Job's role may read and write those secrets and nothing else. It prints what it did, never
// a secret, and exits 1 on an error.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/postgres"
)

// EnvUserSecrets maps each database user to its Secrets Manager secret (a JSON object).
const EnvUserSecrets = "MIGRATE_USER_SECRETS"

// timeout bounds one run; the Job retries on failure.
const timeout = 10 * time.Minute

// secretStore is what the Job does with Secrets Manager.
type secretStore interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	entry := catalog.MustLookup(catalog.DatabaseMigrations)
	if err := run(ctx, os.Getenv, os.Stdout, catalog.DatabaseUsers()[entry.Database], awsSecrets); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

// awsSecrets is Secrets Manager in region, with the default credential chain (IRSA).
func awsSecrets(ctx context.Context, region string) (secretStore, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("AWS credentials: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg), nil
}

// run migrates the database of DATABASE_URL and ensures users on it.
func run(ctx context.Context, getenv func(string) string, out io.Writer, users []string, newStore func(context.Context, string) (secretStore, error)) error {
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
	secretOf, err := userSecrets(getenv(EnvUserSecrets), users)
	if err != nil {
		return err
	}
	var store secretStore
	if secretOf != nil {
		if getenv("AWS_REGION") == "" {
			return fmt.Errorf("AWS_REGION is required with %s", EnvUserSecrets)
		}
		if store, err = newStore(ctx, getenv("AWS_REGION")); err != nil {
			return err
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
	us := make([]postgres.User, len(users))
	for i, u := range users {
		us[i].Name = u
		if store == nil {
			continue
		}
		created := false
		if us[i].Password, created, err = password(ctx, store, u, secretOf[u]); err != nil {
			return err
		}
		if created {
			fmt.Fprintf(out, "user %s: password generated into its secret\n", u)
		}
	}
	if err := db.EnsureUsers(ctx, cfg.ConnConfig.Database, us); err != nil {
		return err
	}
	for _, u := range us {
		fmt.Fprintf(out, "user %s: ready (password from its secret: %v)\n", u.Name, u.Password != "")
	}
	return nil
}

// userSecrets parses MIGRATE_USER_SECRETS (nil when unset): exactly the users, each with a
// secret ARN.
func userSecrets(raw string, users []string) (map[string]string, error) {
	if raw == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf(`%s: want a JSON object {"<user>": "<secret ARN>", ...}: %w`, EnvUserSecrets, err)
	}
	var errs []error
	for _, u := range users {
		if m[u] == "" {
			errs = append(errs, fmt.Errorf("%s: no secret for user %s", EnvUserSecrets, u))
		}
	}
	for _, u := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(users, u) {
			errs = append(errs, fmt.Errorf("%s: %s is not a database user of the catalog", EnvUserSecrets, u))
		}
	}
	return m, errors.Join(errs...)
}

// credential is the JSON of a user's secret, as RDS Proxy reads it.
type credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// password is user's password from its secret; a secret without a value (or without a
// password) gets a generated one first. Errors never carry the secret's text.
func password(ctx context.Context, store secretStore, user, arn string) (string, bool, error) {
	got, err := store.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	var missing *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		// The secret exists with no value yet (or not at all: then Put fails, below).
	case err != nil:
		return "", false, fmt.Errorf("read the secret of user %s: %w", user, err)
	default:
		var c credential
		if json.Unmarshal([]byte(aws.ToString(got.SecretString)), &c) != nil {
			return "", false, fmt.Errorf(`secret of user %s: not a JSON object {"username": ..., "password": ...}`, user)
		}
		if c.Username != user {
			return "", false, fmt.Errorf("secret of user %s names user %q", user, c.Username)
		}
		if c.Password != "" {
			return c.Password, false, nil
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	c := credential{Username: user, Password: base64.RawURLEncoding.EncodeToString(b)}
	body, err := json.Marshal(c)
	if err != nil {
		return "", false, err
	}
	if _, err := store.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(string(body))}); err != nil {
		return "", false, fmt.Errorf("write the secret of user %s: %w", user, err)
	}
	return c.Password, true, nil
}
