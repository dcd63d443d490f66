package redis

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/redis/redistest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOptionsFromEnv(t *testing.T) {
	o, err := OptionsFromEnv(env(map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}))
	require.NoError(t, err)
	assert.Equal(t, Options{URL: "redis://127.0.0.1:6379/0", Prefix: "cdx"}, o, "local defaults")
	assert.False(t, o.TLS())

	o, err = OptionsFromEnv(env(map[string]string{
		"REDIS_URL": "rediss://clustercfg.cdx.abc.euw1.cache.amazonaws.com:6379", "REDIS_CLUSTER": "true",
		"REDIS_AUTH_TOKEN": "tok", "REDIS_TLS_CA_FILE": "ca.pem", "REDIS_PREFIX": "prod",
	}))
	require.NoError(t, err)
	assert.Equal(t, Options{URL: "rediss://clustercfg.cdx.abc.euw1.cache.amazonaws.com:6379", Cluster: true,
		AuthToken: "tok", CAFile: "ca.pem", Prefix: "prod"}, o, "ElastiCache in cluster mode")
	assert.True(t, o.TLS())

	o, err = OptionsFromEnv(env(nil))
	require.NoError(t, err, "no REDIS_URL is the binary's decision")
	assert.Empty(t, o.URL)

	for _, c := range []struct {
		env  map[string]string
		want string // what the error names
	}{
		{map[string]string{"REDIS_URL": "redis://h:6379", "REDIS_CLUSTER": "yes please"}, "REDIS_CLUSTER"},
		{map[string]string{"REDIS_URL": "http://h:6379"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://h:6379/3", "REDIS_CLUSTER": "true"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://h:6379", "REDIS_TLS_CA_FILE": "ca.pem"}, "REDIS_TLS_CA_FILE"},
		{map[string]string{"REDIS_URL": "redis://h:6379", "REDIS_PREFIX": "a{b}"}, "REDIS_PREFIX"},
		{map[string]string{"REDIS_CLUSTER": "true"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://:s3cret-pw@h:6379/x"}, "REDIS_URL"},
	} {
		_, err := OptionsFromEnv(env(c.env))
		if assert.Error(t, err, "%v", c.env) {
			assert.Contains(t, err.Error(), c.want, "%v", c.env)
			assert.NotContains(t, err.Error(), "s3cret-pw", "a password never reaches an error")
		}
	}
}

// rediss:// with the CA file and the auth token, against a real TLS-only server that requires
// the token: the right CA and token connect; a wrong CA, a wrong token, or plaintext do not.
func TestOpenTLSAuthToken(t *testing.T) {
	dir := t.TempDir()
	files, err := redistest.WriteTLSFiles(dir, "server")
	require.NoError(t, err)
	other, err := redistest.WriteTLSFiles(dir, "other")
	require.NoError(t, err)
	srv, err := redistest.Start(context.Background(), dir, redistest.Config{Nodes: 1, Single: true, TLS: files, Password: "the-token"})
	if err != nil {
		redistest.Unavailable(t, "TLS redis-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := srv.Addrs[0]

	c, err := Open(ctx, Options{URL: "rediss://" + addr, CAFile: files.CAFile, AuthToken: "the-token", Prefix: "t"})
	require.NoError(t, err)
	defer c.Close()
	ok, _, err := c.NewLimiter(1, time.Second).Allow(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok)

	for name, o := range map[string]Options{
		"wrong CA":    {URL: "rediss://" + addr, CAFile: other.CAFile, AuthToken: "the-token"},
		"system CAs":  {URL: "rediss://" + addr, AuthToken: "the-token"},
		"wrong token": {URL: "rediss://" + addr, CAFile: files.CAFile, AuthToken: "not-the-token"},
		"no token":    {URL: "rediss://" + addr, CAFile: files.CAFile},
		"plaintext":   {URL: "redis://" + addr, AuthToken: "the-token"},
	} {
		c, err := Open(ctx, o)
		if !assert.Error(t, err, name) {
			c.Close()
		}
	}
}

// ElastiCache's shape: a cluster of three masters, TLS only (the cluster bus too) and an auth
// token, reached through one node's address as the configuration endpoint. Hits on many keys
// share pipelines that go-redis splits over the masters.
func TestOpenTLSClusterAuthToken(t *testing.T) {
	dir := t.TempDir()
	files, err := redistest.WriteTLSFiles(dir, "server")
	require.NoError(t, err)
	cl, err := redistest.Start(context.Background(), dir, redistest.Config{Nodes: 3, TLS: files, Password: "the-token"})
	if err != nil {
		redistest.Unavailable(t, "TLS Redis Cluster: %v", err)
	}
	t.Cleanup(cl.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o, err := OptionsFromEnv(env(map[string]string{
		"REDIS_URL": "rediss://" + cl.Addrs[1], "REDIS_CLUSTER": "true",
		"REDIS_AUTH_TOKEN": "the-token", "REDIS_TLS_CA_FILE": files.CAFile, "REDIS_PREFIX": "tlscluster",
	}))
	require.NoError(t, err)
	c, err := Open(ctx, o)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Ping(ctx))

	l := frozenLimiter(c, 5)
	var wg sync.WaitGroup
	errs := make([]error, 60)
	oks := make([]bool, 60)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			oks[i], _, errs[i] = l.Allow(ctx, fmt.Sprint("key-", i%10))
		}()
	}
	wg.Wait()
	admitted := 0
	for i := range 60 {
		require.NoError(t, errs[i])
		if oks[i] {
			admitted++
		}
	}
	assert.Equal(t, 50, admitted, "ten keys, five hits each admitted")

	o.AuthToken = "not-the-token"
	_, err = Open(ctx, o)
	assert.Error(t, err, "a wrong token fails start-up")
}
