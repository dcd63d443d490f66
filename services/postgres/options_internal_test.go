package postgres

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The IAM hook builds a token for the connection's own host:port, user and region, signed with
// the credentials it was given, and sets it as the connection's password, anew for every
// connection it is called for.
func TestIAMPasswordBeforeEachConnection(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")
	hook := iamPassword("eu-west-1", creds)
	ctx := context.Background()
	day := time.Now().UTC().Format("20060102")

	cc := &pgx.ConnConfig{}
	cc.Host, cc.Port, cc.User = "cdx-prod.proxy-abc.eu-west-1.rds.amazonaws.com", 5432, "api_gateway"
	require.NoError(t, hook(ctx, cc))
	assertToken(t, cc.Password, "cdx-prod.proxy-abc.eu-west-1.rds.amazonaws.com:5432", "api_gateway", "AKIDEXAMPLE/"+day+"/eu-west-1/rds-db/aws4_request")

	other := &pgx.ConnConfig{}
	other.Host, other.Port, other.User = "other.proxy-abc.eu-west-1.rds.amazonaws.com", 6432, "settlement"
	require.NoError(t, hook(ctx, other))
	assertToken(t, other.Password, "other.proxy-abc.eu-west-1.rds.amazonaws.com:6432", "settlement", "AKIDEXAMPLE/"+day+"/eu-west-1/rds-db/aws4_request")
	assert.NotEqual(t, cc.Password, other.Password)

	failing := iamPassword("eu-west-1", credentials.StaticCredentialsProvider{})
	err := failing(ctx, &pgx.ConnConfig{})
	assert.ErrorContains(t, err, "DB_AUTH=iam", "a token that cannot be built fails the connection, naming the setting")
}

// assertToken checks an RDS auth token: host:port?Action=connect&DBUser=user, presigned with
// SigV4 for the rds-db service under credential scope.
func assertToken(t *testing.T, tok, endpoint, user, scope string) {
	t.Helper()
	require.True(t, strings.HasPrefix(tok, endpoint+"?"), "token %q starts with %s?", tok, endpoint)
	q, err := url.ParseQuery(strings.TrimPrefix(tok, endpoint+"?"))
	require.NoError(t, err)
	assert.Equal(t, "connect", q.Get("Action"))
	assert.Equal(t, user, q.Get("DBUser"))
	assert.Equal(t, scope, q.Get("X-Amz-Credential"))
	assert.Equal(t, "AWS4-HMAC-SHA256", q.Get("X-Amz-Algorithm"))
	assert.Equal(t, "900", q.Get("X-Amz-Expires"), "valid 15 minutes")
	assert.Len(t, q.Get("X-Amz-Signature"), 64)
}

// DB_AUTH=iam installs the hook on the pool, with the credentials of the default AWS chain
// (here the environment's static keys) and AWS_REGION; the URL carries no password.
func TestPoolConfigIAM(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ca := writeCA(t)
	o, err := OptionsFromEnv(env(map[string]string{
		"DATABASE_URL":   "postgres://api_gateway@cdx-prod.proxy-abc.eu-west-1.rds.amazonaws.com:5432/trading",
		"DB_AUTH":        "iam",
		"AWS_REGION":     "eu-west-1",
		"DB_TLS_CA_FILE": ca,
	}))
	require.NoError(t, err)
	cfg, err := o.poolConfig(context.Background())
	require.NoError(t, err)
	require.NotNil(t, cfg.BeforeConnect, "the IAM hook")
	assert.Empty(t, cfg.ConnConfig.Password)
	cc := cfg.ConnConfig.Copy()
	require.NoError(t, cfg.BeforeConnect(context.Background(), cc))
	assertToken(t, cc.Password, "cdx-prod.proxy-abc.eu-west-1.rds.amazonaws.com:5432", "api_gateway",
		"AKIDEXAMPLE/"+time.Now().UTC().Format("20060102")+"/eu-west-1/rds-db/aws4_request")
	require.NotNil(t, cfg.ConnConfig.TLSConfig, "IAM goes over TLS")
	assert.Equal(t, "cdx-prod.proxy-abc.eu-west-1.rds.amazonaws.com", cfg.ConnConfig.TLSConfig.ServerName)
	assert.False(t, cfg.ConnConfig.TLSConfig.InsecureSkipVerify)
	assert.Empty(t, cfg.ConnConfig.Fallbacks, "no plaintext fallback")

	o.Auth = AuthPassword
	cfg, err = o.poolConfig(context.Background())
	require.NoError(t, err)
	assert.Nil(t, cfg.BeforeConnect, "passwords need no hook")
}

// writeCA writes a fresh self-signed CA certificate and returns its file.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the server's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return file
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// verify-full against the machine's PostgreSQL, when it serves TLS: its own certificate as the
// CA and the certificate's host name connect; another CA, or another host name for the same
// server, do not. The host names resolve to the server's address through the pool's lookup, so
// the test needs no DNS.
func TestVerifyFullAgainstTheServer(t *testing.T) {
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL unreachable at TEST_DATABASE_URL and CI is set: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (set TEST_DATABASE_URL): %v", err)
	}
	var ssl, certFile string
	require.NoError(t, conn.QueryRow(ctx, "SHOW ssl").Scan(&ssl))
	require.NoError(t, conn.QueryRow(ctx, "SHOW ssl_cert_file").Scan(&certFile))
	conn.Close(ctx)
	if ssl != "on" {
		t.Skip("the PostgreSQL server has ssl=off: verify-full cannot be tested against it (its configuration is left alone)")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Skipf("the server's certificate %s is not readable here (a remote server?): %v", certFile, err)
	}
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block, "PEM in %s", certFile)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	if !cert.IsCA && cert.Issuer.String() != cert.Subject.String() {
		t.Skipf("the server's certificate %s is not self-signed: its CA is not at hand", certFile)
	}
	name := cert.Subject.CommonName
	if len(cert.DNSNames) > 0 {
		name = cert.DNSNames[0]
	}
	require.NotEmpty(t, name, "the certificate names a host")

	u, err := url.Parse(admin)
	require.NoError(t, err)
	addr := u.Hostname()
	q := u.Query()
	q.Del("sslmode")
	u.RawQuery = q.Encode()
	connect := func(host, caFile string) error {
		v := *u
		v.Host = net.JoinHostPort(host, u.Port())
		cfg, err := Options{URL: v.String(), CAFile: caFile}.poolConfig(ctx)
		if err != nil {
			return err
		}
		cfg.ConnConfig.LookupFunc = func(context.Context, string) ([]string, error) { return []string{addr}, nil }
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer pool.Close()
		var encrypted bool
		if err := pool.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&encrypted); err != nil {
			return err
		}
		assert.True(t, encrypted, "the session is encrypted")
		return nil
	}
	own := filepath.Join(t.TempDir(), "server-ca.pem")
	require.NoError(t, os.WriteFile(own, certPEM, 0o600))

	assert.NoError(t, connect(name, own), "the server's CA and host name %s", name)
	err = connect(name, writeCA(t))
	if assert.Error(t, err, "another CA") {
		assert.Contains(t, err.Error(), "certificate")
	}
	err = connect("wrong-host.invalid", own)
	if assert.Error(t, err, "another host name") {
		assert.Contains(t, err.Error(), "certificate")
	}
}
