package postgres_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOptionsFromEnv(t *testing.T) {
	o, err := postgres.OptionsFromEnv(env(map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cdx?sslmode=disable"}))
	require.NoError(t, err)
	assert.Equal(t, postgres.Options{URL: "postgres://postgres@127.0.0.1:5432/cdx?sslmode=disable", MaxConns: 16, Auth: postgres.AuthPassword, Migrate: postgres.MigrateApply}, o, "local defaults")

	o, err = postgres.OptionsFromEnv(env(map[string]string{
		"DATABASE_URL":   "postgres://cdx-prod.proxy-abc.eu-west-1.rds.amazonaws.com:5432/trading",
		"DB_MAX_CONNS":   "8",
		"DB_TLS_CA_FILE": "/etc/rds/global-bundle.pem",
		"DB_SECRET_JSON": `{"username":"api_gateway","password":"pw","engine":"postgres","host":"cdx-prod.abc.rds.amazonaws.com","port":5432,"dbname":"trading"}`,
	}))
	require.NoError(t, err)
	assert.Equal(t, postgres.Options{URL: "postgres://cdx-prod.proxy-abc.eu-west-1.rds.amazonaws.com:5432/trading", MaxConns: 8,
		CAFile: "/etc/rds/global-bundle.pem", Auth: postgres.AuthPassword, User: "api_gateway", Password: "pw", Migrate: postgres.MigrateApply}, o, "RDS Proxy, secret from Secrets Manager")

	o, err = postgres.OptionsFromEnv(env(map[string]string{
		"DATABASE_URL": "postgres://api_gateway@cdx-prod.proxy-abc.eu-west-1.rds.amazonaws.com:5432/trading",
		"DB_AUTH":      "iam", "AWS_REGION": "eu-west-1", "DB_TLS_CA_FILE": "/etc/rds/global-bundle.pem",
	}))
	require.NoError(t, err)
	assert.Equal(t, postgres.AuthIAM, o.Auth, "RDS Proxy, IAM")

	o, err = postgres.OptionsFromEnv(env(nil))
	require.NoError(t, err, "no DATABASE_URL is the binary's decision")
	assert.Empty(t, o.URL)

	proxy := "postgres://cdx.proxy.example:5432/trading"
	for _, c := range []struct {
		env  map[string]string
		want string // what the error names
	}{
		{map[string]string{"DATABASE_URL": proxy, "DB_MAX_CONNS": "0"}, "DB_MAX_CONNS"},
		{map[string]string{"DATABASE_URL": proxy, "DB_MAX_CONNS": "many"}, "DB_MAX_CONNS"},
		{map[string]string{"DATABASE_URL": proxy, "DB_AUTH": "kerberos"}, "DB_AUTH"},
		{map[string]string{"DATABASE_URL": "postgres://u:s3cret-pw@h:notaport/db"}, "DATABASE_URL"},
		{map[string]string{"DATABASE_URL": proxy + "?sslmode=disable", "DB_TLS_CA_FILE": "ca.pem"}, "DB_TLS_CA_FILE"},
		{map[string]string{"DATABASE_URL": proxy + "?sslmode=require", "DB_TLS_CA_FILE": "ca.pem"}, "sslmode=require"},
		{map[string]string{"DATABASE_URL": proxy, "DB_SECRET_JSON": `{"username": "u", "password": "s3cret-pw"`}, "DB_SECRET_JSON"},
		{map[string]string{"DATABASE_URL": proxy, "DB_SECRET_JSON": `{"username": "u"}`}, "DB_SECRET_JSON"},
		{map[string]string{"DATABASE_URL": "postgres://u:s3cret-pw@h:5432/db", "DB_SECRET_JSON": `{"username":"u","password":"p"}`}, "DB_SECRET_JSON"},
		{map[string]string{"DATABASE_URL": "postgres://other@h:5432/db", "DB_SECRET_JSON": `{"username":"u","password":"s3cret-pw"}`}, "username"},
		{map[string]string{"DATABASE_URL": "postgres://u@h:5432/db", "DB_AUTH": "iam", "DB_TLS_CA_FILE": "ca.pem"}, "AWS_REGION"},
		{map[string]string{"DATABASE_URL": "postgres://u@h:5432/db", "DB_AUTH": "iam", "AWS_REGION": "eu-west-1"}, "DB_TLS_CA_FILE"},
		{map[string]string{"DATABASE_URL": "postgres://h:5432/db", "DB_AUTH": "iam", "AWS_REGION": "eu-west-1", "DB_TLS_CA_FILE": "ca.pem"}, "user"},
		{map[string]string{"DATABASE_URL": "postgres://u:s3cret-pw@h:5432/db", "DB_AUTH": "iam", "AWS_REGION": "eu-west-1", "DB_TLS_CA_FILE": "ca.pem"}, "DB_AUTH=iam"},
		{map[string]string{"DB_AUTH": "iam"}, "DATABASE_URL"},
	} {
		_, err := postgres.OptionsFromEnv(env(c.env))
		if assert.Error(t, err, "%v", c.env) {
			assert.Contains(t, err.Error(), c.want, "%v", c.env)
			assert.NotContains(t, err.Error(), "s3cret-pw", "a password never reaches an error")
		}
	}
}

// The credentials of DB_SECRET_JSON are the ones the pool logs in with: a DATABASE_URL without
// a user would otherwise log in as the operating-system user.
func TestOpenWithTheSecretsCredentials(t *testing.T) {
	u, err := url.Parse(pgtest.NewURL(t, "secret"))
	require.NoError(t, err)
	user := u.User.Username()
	password, _ := u.User.Password()
	if password == "" {
		password = "unused" // the server trusts this connection: any password logs in
	}
	u.User = nil
	secret, err := json.Marshal(map[string]any{"username": user, "password": password, "engine": "postgres", "port": 5432})
	require.NoError(t, err)
	o, err := postgres.OptionsFromEnv(env(map[string]string{"DATABASE_URL": u.String(), "DB_SECRET_JSON": string(secret), "DB_MAX_CONNS": "2"}))
	require.NoError(t, err)
	ctx := context.Background()
	db, err := postgres.Open(ctx, o)
	require.NoError(t, err)
	defer db.Close()
	var who string
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT current_user").Scan(&who))
	assert.Equal(t, user, who)
	assert.Equal(t, int32(2), db.Pool.Config().MaxConns)

	o.User = "no_such_role_" + user
	_, err = postgres.Open(ctx, o)
	assert.Error(t, err, "another username is another login")
}
