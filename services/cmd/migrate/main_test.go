package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// The Job migrates an empty database and creates the users; a second run changes nothing; a
// service then starts on the verified schema as its own user.
func TestMigrateThenServicesVerify(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewURL(t, "migratecmd")
	var b [4]byte
	_, _ = rand.Read(b[:])
	user := "cdx_job_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), pgtest.AdminURL()); err == nil {
			_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+user)
			c.Close(context.Background())
		}
	})
	var out bytes.Buffer
	require.NoError(t, run(ctx, env(map[string]string{"DATABASE_URL": dsn}), &out, []string{user}))
	assert.Contains(t, out.String(), "migrations applied")
	assert.Contains(t, out.String(), "user "+user+": ready (IAM authentication false)")
	require.NoError(t, run(ctx, env(map[string]string{"DATABASE_URL": dsn}), &out, []string{user}), "second run")

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.User(user)
	db, err := postgres.Open(ctx, postgres.Options{URL: u.String(), Migrate: postgres.MigrateVerify})
	require.NoError(t, err, "a service on the migrated schema")
	db.Close()
}

func TestMigrateRefusesBadSettings(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"no url":     {env: map[string]string{}, want: "DATABASE_URL is required"},
		"verify":     {env: map[string]string{"DATABASE_URL": "postgres://u@h/db", "DB_MIGRATE": "verify"}, want: "this command applies the migrations"},
		"iam flag":   {env: map[string]string{"DATABASE_URL": "postgres://u@h/db", EnvIAMUsers: "maybe"}, want: `MIGRATE_IAM_USERS "maybe": want true or false`},
		"bad secret": {env: map[string]string{"DATABASE_URL": "postgres://h/db", "DB_SECRET_JSON": "{"}, want: "DB_SECRET_JSON: not a JSON object"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(ctx, env(tc.env), &bytes.Buffer{}, []string{"cdx_x"})
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
