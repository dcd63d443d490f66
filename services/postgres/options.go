package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	rdsauth "github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Auth is how the service proves who it is to PostgreSQL.
type Auth string

const (
	// AuthPassword uses the password of DATABASE_URL or of DB_SECRET_JSON.
	AuthPassword Auth = "password"
	// AuthIAM builds an RDS IAM authentication token (valid 15 minutes) before each new
	// connection, from the default AWS credential chain (IRSA in the cluster).
	AuthIAM Auth = "iam"
)

// Migrate is what Open does with the schema.
type Migrate string

const (
	// MigrateApply applies the embedded migrations not yet applied (local runs and tests: the
	// user owns the schema).
	MigrateApply Migrate = "apply"
	// MigrateVerify only checks that every embedded migration has been applied, and refuses to
	// start otherwise. In the cluster the services connect as users without DDL rights; the
	// database-migrations Job (services/cmd/migrate) applies the migrations before they roll.
	MigrateVerify Migrate = "verify"
)

// DefaultMaxConns is the pool size when DB_MAX_CONNS is unset.
const DefaultMaxConns = 16

// Options say how to reach PostgreSQL. On AWS, DATABASE_URL's host is the RDS Proxy endpoint
// (the database component's ProxyEndpoint), not the instance.
type Options struct {
	// URL is DATABASE_URL: postgres://[user[:password]@]host:port/db[?params].
	URL string
	// MaxConns (DB_MAX_CONNS, 1 to 1000, default 16) bounds the process's one pool.
	MaxConns int32
	// CAFile (DB_TLS_CA_FILE) is the PEM bundle (the RDS CA bundle, mounted) the server's
	// certificate must chain to; when set the connection is TLS with verify-full: the chain
	// and the host name are checked.
	CAFile string
	// Auth (DB_AUTH, password or iam; default password).
	Auth Auth
	// Region (AWS_REGION) signs IAM tokens; required with DB_AUTH=iam.
	Region string
	// User and Password, when set, replace DATABASE_URL's: they come from DB_SECRET_JSON, the
	// Secrets Manager secret RDS writes ({"username": ..., "password": ..., ...}).
	User, Password string
	// Migrate (DB_MIGRATE, apply or verify; default apply).
	Migrate Migrate
}

// OptionsFromEnv reads DATABASE_URL, DB_MAX_CONNS, DB_TLS_CA_FILE, DB_AUTH, AWS_REGION,
// DB_MIGRATE and DB_SECRET_JSON through getenv (os.Getenv in main). An empty DATABASE_URL is returned as is:
// the binary decides whether that is an error or the in-memory store.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := Options{
		URL:      getenv("DATABASE_URL"),
		MaxConns: DefaultMaxConns,
		CAFile:   getenv("DB_TLS_CA_FILE"),
		Auth:     Auth(getenv("DB_AUTH")),
		Region:   getenv("AWS_REGION"),
		Migrate:  Migrate(getenv("DB_MIGRATE")),
	}
	var errs []error
	if v := getenv("DB_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, fmt.Errorf("DB_MAX_CONNS %q: want 1 to 1000", v))
		}
		o.MaxConns = int32(n)
	}
	if o.Auth == "" {
		o.Auth = AuthPassword
	}
	if o.Migrate == "" {
		o.Migrate = MigrateApply
	}
	if s := getenv("DB_SECRET_JSON"); s != "" {
		var sec struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		// The secret's text never enters an error message.
		if err := json.Unmarshal([]byte(s), &sec); err != nil {
			errs = append(errs, errors.New(`DB_SECRET_JSON: not a JSON object {"username": ..., "password": ...}`))
		} else if sec.Username == "" || sec.Password == "" {
			errs = append(errs, errors.New("DB_SECRET_JSON: username and password are required"))
		}
		o.User, o.Password = sec.Username, sec.Password
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	return o, o.Validate()
}

// Validate checks the options without connecting; its errors name the variables.
func (o Options) Validate() error {
	var errs []error
	if o.MaxConns < 0 || o.MaxConns > 1000 {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS %d: want 1 to 1000", o.MaxConns))
	}
	if o.Auth != "" && o.Auth != AuthPassword && o.Auth != AuthIAM {
		errs = append(errs, fmt.Errorf("DB_AUTH %q: want password or iam", o.Auth))
	}
	if o.Migrate != "" && o.Migrate != MigrateApply && o.Migrate != MigrateVerify {
		errs = append(errs, fmt.Errorf("DB_MIGRATE %q: want apply or verify", o.Migrate))
	}
	if o.URL == "" {
		if o.CAFile != "" || o.Auth == AuthIAM || o.User != "" {
			errs = append(errs, errors.New("DATABASE_URL is required with DB_TLS_CA_FILE, DB_AUTH=iam or DB_SECRET_JSON"))
		}
		return errors.Join(errs...)
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		// pgconn's message masks the password.
		return errors.Join(append(errs, fmt.Errorf("DATABASE_URL: %w", err))...)
	}
	urlUser, urlPassword := cfg.ConnConfig.User, cfg.ConnConfig.Password
	if mode := sslMode(o.URL); o.CAFile != "" && mode != "" && mode != "verify-full" {
		errs = append(errs, fmt.Errorf("DB_TLS_CA_FILE is set but DATABASE_URL says sslmode=%s: drop it or say verify-full", mode))
	}
	if o.User != "" && urlPassword != "" {
		errs = append(errs, errors.New("DATABASE_URL carries a password and DB_SECRET_JSON is set: keep the credentials in the secret alone"))
	}
	if o.User != "" && userInURL(o.URL) && urlUser != o.User {
		errs = append(errs, errors.New("DATABASE_URL's user differs from DB_SECRET_JSON's username"))
	}
	if o.Auth == AuthIAM {
		if o.Region == "" {
			errs = append(errs, errors.New("AWS_REGION is required with DB_AUTH=iam"))
		}
		if o.CAFile == "" {
			errs = append(errs, errors.New("DB_TLS_CA_FILE is required with DB_AUTH=iam: the token travels only over verified TLS"))
		}
		if o.User != "" || urlPassword != "" {
			errs = append(errs, errors.New("DB_AUTH=iam takes no password: unset DB_SECRET_JSON and the password of DATABASE_URL"))
		}
		if !userInURL(o.URL) {
			errs = append(errs, errors.New("DATABASE_URL must name the database user with DB_AUTH=iam"))
		}
	}
	return errors.Join(errs...)
}

// userInURL reports whether the connection string names a user itself (pgconn otherwise
// falls back to the operating-system user).
func userInURL(s string) bool {
	if u, err := url.Parse(s); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.User != nil && u.User.Username() != ""
	}
	return keyword(s, "user") != ""
}

// sslMode is the sslmode the connection string sets ("" when none).
func sslMode(s string) string {
	if u, err := url.Parse(s); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Query().Get("sslmode")
	}
	return keyword(s, "sslmode")
}

// keyword is the value of key in a keyword/value connection string (unquoted values only,
// which is what sslmode and user take in practice).
func keyword(s, key string) string {
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return strings.Trim(v, "'")
		}
	}
	return ""
}

// poolConfig turns the options into pgxpool's configuration: credentials, TLS, the IAM hook.
func (o Options) poolConfig(ctx context.Context) (*pgxpool.Config, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.URL == "" {
		return nil, errors.New("DATABASE_URL is required")
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.User != "" {
		cfg.ConnConfig.User, cfg.ConnConfig.Password = o.User, o.Password
	}
	if o.CAFile != "" {
		if err := verifyFull(cfg, o.CAFile); err != nil {
			return nil, err
		}
	}
	if o.Auth == AuthIAM {
		aws, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(o.Region))
		if err != nil {
			return nil, fmt.Errorf("DB_AUTH=iam: AWS credentials: %w", err)
		}
		cfg.BeforeConnect = iamPassword(o.Region, aws.Credentials)
	}
	return cfg, nil
}

// verifyFull makes every connection attempt TLS, verified against the CA bundle in file for
// the host it dials: no plaintext fallback, no unverified certificate.
func verifyFull(cfg *pgxpool.Config, file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("DB_TLS_CA_FILE: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("DB_TLS_CA_FILE %s: no PEM certificate in it", file)
	}
	tlsFor := func(host string) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	cc := cfg.ConnConfig
	cc.TLSConfig = tlsFor(cc.Host)
	// sslmode=prefer (the default) adds a plaintext fallback per host: keep one TLS attempt per
	// host.
	var fbs []*pgconn.FallbackConfig
	seen := map[string]bool{cc.Host + ":" + strconv.Itoa(int(cc.Port)): true}
	for _, fb := range cc.Fallbacks {
		k := fb.Host + ":" + strconv.Itoa(int(fb.Port))
		if seen[k] {
			continue
		}
		seen[k] = true
		fb.TLSConfig = tlsFor(fb.Host)
		fbs = append(fbs, fb)
	}
	cc.Fallbacks = fbs
	return nil
}

// iamPassword is the BeforeConnect hook of DB_AUTH=iam: each new connection gets a fresh
// token for its host:port, user and region as its password (the token is a presigned request,
// built locally without a network call, valid 15 minutes; RDS checks it only at connect).
func iamPassword(region string, creds aws.CredentialsProvider) func(context.Context, *pgx.ConnConfig) error {
	return func(ctx context.Context, cc *pgx.ConnConfig) error {
		endpoint := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
		tok, err := rdsauth.BuildAuthToken(ctx, endpoint, region, cc.User, creds)
		if err != nil {
			return fmt.Errorf("DB_AUTH=iam: build token for %s: %w", endpoint, err)
		}
		cc.Password = tok
		return nil
	}
}
