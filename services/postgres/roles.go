package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// userName is what a service's database user may be called: a plain lower-case identifier,
// so that it reads the same quoted or not.
var userName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// User is a service's database user. Password, when set, becomes the user's password, sent
// to the server only as a SCRAM-SHA-256 verifier (the password itself never reaches the
// server, its logs or pg_authid): RDS Proxy logs in with it, from the user's secret, on
// behalf of the service, which authenticates to the proxy with IAM.
type User struct {
	Name, Password string
}

// EnsureUsers creates the services' database users that do not exist yet and gives each
// exactly what a service needs on the migrated schema: to connect, and to read and write the
// rows of every table (no DDL, no ownership, no TRUNCATE; schema_migrations read-only; the
// compliance audit trail insert-only). It is
// idempotent, runs in one transaction, and is meant to run after Migrate, as the database's
// owner: services/cmd/migrate does both.
func (db *DB) EnsureUsers(ctx context.Context, database string, users []User) error {
	for _, u := range users {
		if !userName.MatchString(u.Name) {
			return fmt.Errorf("database user %q: want a lower-case identifier ([a-z_][a-z0-9_]*, at most 63)", u.Name)
		}
	}
	return db.InTx(ctx, func(tx pgx.Tx) error {
		// Users are cluster-wide: two Jobs at once must not both try to create one.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7242020)`); err != nil {
			return err
		}
		for _, u := range users {
			id := pgx.Identifier{u.Name}.Sanitize()
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, u.Name).Scan(&exists); err != nil {
				return fmt.Errorf("look up user %s: %w", u.Name, err)
			}
			stmts := []string{}
			if !exists {
				stmts = append(stmts, `CREATE ROLE `+id+` LOGIN`)
			}
			if u.Password != "" {
				v, err := SCRAMVerifier(u.Password)
				if err != nil {
					return err
				}
				// A verifier is stored as given; it holds no secret a log could leak.
				stmts = append(stmts, `ALTER ROLE `+id+` LOGIN PASSWORD '`+v+`'`)
			}
			stmts = append(stmts,
				`GRANT CONNECT ON DATABASE `+pgx.Identifier{database}.Sanitize()+` TO `+id,
				`GRANT USAGE ON SCHEMA public TO `+id,
				`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO `+id,
				`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO `+id,
				`REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM `+id,
				// The compliance schema (the gateway hosts the compliance API and the KYC
				// gate, the compliance-service writes the trail): rows only, and the audit
				// trail append-only (its trigger refuses UPDATE, DELETE and TRUNCATE too).
				`GRANT USAGE ON SCHEMA compliance TO `+id,
				`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA compliance TO `+id,
				`REVOKE UPDATE, DELETE, TRUNCATE ON compliance.audit_log, compliance.audit_checkpoints FROM `+id,
			)
			for _, st := range stmts {
				if _, err := tx.Exec(ctx, st); err != nil {
					return fmt.Errorf("user %s: %w", u.Name, err)
				}
			}
		}
		return nil
	})
}

// scramIterations is PostgreSQL's default (scram_iterations).
const scramIterations = 4096

// SCRAMVerifier is PostgreSQL's SCRAM-SHA-256 verifier of password with a fresh random salt
// (RFC 5802, RFC 7677; the format of pg_authid.rolpassword). The password must be ASCII
// without control characters, so that SASLprep leaves it unchanged: the migrations Job
// generates such passwords.
func SCRAMVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifier(password, salt, scramIterations)
}

func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	for _, r := range password {
		if r < 0x21 || r > 0x7e {
			return "", fmt.Errorf("password: printable ASCII only")
		}
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(msg string) []byte {
		h := hmac.New(sha256.New, salted)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac("Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(mac("Server Key"))), nil
}

// SCRAMMatches reports whether verifier (as in pg_authid.rolpassword) is password's.
func SCRAMMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	head, _, ok2 := strings.Cut(rest, "$")
	iter, salt64, ok3 := strings.Cut(head, ":")
	n, err := strconv.Atoi(iter)
	if !ok || !ok2 || !ok3 || err != nil || n < 1 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		return false
	}
	v, err := scramVerifier(password, salt, n)
	return err == nil && subtle.ConstantTimeCompare([]byte(v), []byte(verifier)) == 1
}
