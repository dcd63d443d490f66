package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// memorySecrets stands in for Secrets Manager (which cannot run here): secrets by ARN, a
// missing value answered as AWS does, with ResourceNotFoundException.
type memorySecrets struct {
	mu     sync.Mutex
	values map[string]string
	known  map[string]bool
	puts   int
}

func (m *memorySecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func (m *memorySecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := aws.ToString(in.SecretId)
	if !m.known[id] {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	m.values[id] = aws.ToString(in.SecretString)
	m.puts++
	return &secretsmanager.PutSecretValueOutput{}, nil
}

func (m *memorySecrets) open(context.Context, string) (secretStore, error) { return m, nil }

// testUsers are database users of the test's own (users are server-wide), dropped at cleanup.
func testUsers(t *testing.T, n int) []string {
	var us []string
	for range n {
		var b [4]byte
		_, _ = rand.Read(b[:])
		us = append(us, "cdx_job_"+hex.EncodeToString(b[:]))
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), pgtest.AdminURL()); err == nil {
			for _, u := range us {
				_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+u)
			}
			c.Close(context.Background())
		}
	})
	return us
}

func rolPassword(t *testing.T, user string) string {
	c, err := pgx.Connect(context.Background(), pgtest.AdminURL())
	require.NoError(t, err)
	defer c.Close(context.Background())
	var p *string
	require.NoError(t, c.QueryRow(context.Background(), `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, user).Scan(&p))
	if p == nil {
		return ""
	}
	return *p
}

// The Job migrates an empty database and creates the users; a second run changes nothing; a
// service then starts on the verified schema as its own user.
func TestMigrateThenServicesVerify(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewURL(t, "migratecmd")
	user := testUsers(t, 1)[0]
	none := func(context.Context, string) (secretStore, error) { return nil, errors.New("no secrets wanted") }
	var out bytes.Buffer
	require.NoError(t, run(ctx, env(map[string]string{"DATABASE_URL": dsn}), &out, []string{user}, none))
	assert.Contains(t, out.String(), "migrations applied")
	assert.Contains(t, out.String(), "user "+user+": ready (password from its secret: false)")
	assert.Empty(t, rolPassword(t, user), "no secrets: no password")
	require.NoError(t, run(ctx, env(map[string]string{"DATABASE_URL": dsn}), &out, []string{user}, none), "second run")

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.User(user)
	db, err := postgres.Open(ctx, postgres.Options{URL: u.String(), Migrate: postgres.MigrateVerify})
	require.NoError(t, err, "a service on the migrated schema")
	db.Close()
}

// With the users' secrets: an empty secret gets a generated password, a filled one keeps its
// own; PostgreSQL holds the matching verifier; nothing secret is printed; a rerun generates
// nothing new.
func TestMigrateSetsPasswordsFromTheUsersSecrets(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewURL(t, "migratesecrets")
	users := testUsers(t, 2)
	fresh, kept := users[0], users[1]
	const keptPassword = "kept-password-of-the-second-user-0123456789"
	sm := &memorySecrets{
		known:  map[string]bool{"arn:fresh": true, "arn:kept": true},
		values: map[string]string{"arn:kept": `{"username":"` + kept + `","password":"` + keptPassword + `"}`},
	}
	e := map[string]string{
		"DATABASE_URL": dsn, "AWS_REGION": "us-east-1",
		EnvUserSecrets: `{"` + fresh + `":"arn:fresh","` + kept + `":"arn:kept"}`,
	}
	var out bytes.Buffer
	require.NoError(t, run(ctx, env(e), &out, users, sm.open))
	assert.Contains(t, out.String(), "user "+fresh+": password generated into its secret")
	assert.NotContains(t, out.String(), "user "+kept+": password generated")
	assert.Equal(t, 1, sm.puts)

	var c credential
	require.NoError(t, json.Unmarshal([]byte(sm.values["arn:fresh"]), &c))
	assert.Equal(t, fresh, c.Username)
	assert.Len(t, c.Password, 43, "32 random bytes, base64url")
	assert.NotContains(t, out.String(), c.Password)
	assert.NotContains(t, out.String(), keptPassword)
	for user, pw := range map[string]string{fresh: c.Password, kept: keptPassword} {
		stored := rolPassword(t, user)
		assert.True(t, strings.HasPrefix(stored, "SCRAM-SHA-256$4096:"), "%s: %s", user, stored)
		assert.True(t, postgres.SCRAMMatches(stored, pw), "%s: the verifier of the password in its secret", user)
	}

	require.NoError(t, run(ctx, env(e), &out, users, sm.open), "second run")
	assert.Equal(t, 1, sm.puts, "nothing generated again")
}

func TestMigrateRefusesBadSettings(t *testing.T) {
	ctx := context.Background()
	sm := &memorySecrets{known: map[string]bool{}, values: map[string]string{}}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"no url":       {env: map[string]string{}, want: "DATABASE_URL is required"},
		"verify":       {env: map[string]string{"DATABASE_URL": "postgres://u@h/db", "DB_MIGRATE": "verify"}, want: "this command applies the migrations"},
		"bad secret":   {env: map[string]string{"DATABASE_URL": "postgres://h/db", "DB_SECRET_JSON": "{"}, want: "DB_SECRET_JSON: not a JSON object"},
		"secrets json": {env: map[string]string{"DATABASE_URL": "postgres://u@h/db", EnvUserSecrets: "[1]"}, want: "MIGRATE_USER_SECRETS: want a JSON object"},
		"missing user": {env: map[string]string{"DATABASE_URL": "postgres://u@h/db", EnvUserSecrets: `{"cdx_y":"arn:y"}`}, want: "no secret for user cdx_x"},
		"extra user":   {env: map[string]string{"DATABASE_URL": "postgres://u@h/db", EnvUserSecrets: `{"cdx_x":"arn:x","cdx_y":"arn:y"}`}, want: "cdx_y is not a database user of the catalog"},
		"region":       {env: map[string]string{"DATABASE_URL": "postgres://u@h/db", EnvUserSecrets: `{"cdx_x":"arn:x"}`}, want: "AWS_REGION is required"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(ctx, env(tc.env), &bytes.Buffer{}, []string{"cdx_x"}, sm.open)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// A secret that is not the user's, or not JSON, stops the Job without printing it.
func TestMigrateRefusesForeignSecrets(t *testing.T) {
	ctx := context.Background()
	for name, value := range map[string]string{
		"other user": `{"username":"cdx_other","password":"p4ssw0rd-that-must-not-leak"}`,
		"not json":   `p4ssw0rd-that-must-not-leak`,
	} {
		t.Run(name, func(t *testing.T) {
			sm := &memorySecrets{known: map[string]bool{"arn:x": true}, values: map[string]string{"arn:x": value}}
			_, _, err := password(ctx, sm, "cdx_x", "arn:x")
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "p4ssw0rd")
			assert.Equal(t, 0, sm.puts)
		})
	}
	sm := &memorySecrets{known: map[string]bool{}, values: map[string]string{}}
	_, _, err := password(ctx, sm, "cdx_x", "arn:gone")
	assert.ErrorContains(t, err, "write the secret of user cdx_x")
}
