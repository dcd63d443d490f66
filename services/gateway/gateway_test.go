package gateway_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/redis"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestConfigFromEnv(t *testing.T) {
	c, err := gateway.ConfigFromEnv(env(nil))
	require.NoError(t, err, "defaults")
	assert.Equal(t, ":8080", c.Addr, "default addr")
	assert.Equal(t, 15*time.Minute, c.AccessTTL, "default access TTL")
	assert.Equal(t, 100, c.RatePerSecond, "default rate")
	assert.Nil(t, c.TokenKey, "default token key")
	assert.Empty(t, c.CORSOrigins, "default CORS origins")
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	c, err = gateway.ConfigFromEnv(env(map[string]string{
		"AUTH_TOKEN_KEY": key, "AUTH_SEAL_KEY": key, "ACCESS_TOKEN_TTL": "2m", "RATE_LIMIT_PER_SECOND": "7",
		"CORS_ORIGINS": "https://a.example, https://b.example", "ADMIN_EMAIL": "a@example.com", "ADMIN_PASSWORD": "long admin password",
	}))
	require.NoError(t, err, "set")
	assert.Len(t, c.TokenKey, 32, "set token key")
	assert.Equal(t, 2*time.Minute, c.AccessTTL, "set access TTL")
	assert.Equal(t, 7, c.RatePerSecond, "set rate")
	assert.Len(t, c.CORSOrigins, 2, "set CORS origins")
	for name, bad := range map[string]map[string]string{
		"short token key":  {"AUTH_TOKEN_KEY": base64.StdEncoding.EncodeToString([]byte("short"))},
		"not base64":       {"AUTH_SEAL_KEY": "%%%"},
		"ttl":              {"ACCESS_TOKEN_TTL": "forever"},
		"ttl too long":     {"ACCESS_TOKEN_TTL": "48h"},
		"rate":             {"RATE_LIMIT_PER_SECOND": "0"},
		"admin half given": {"ADMIN_EMAIL": "a@example.com"},
	} {
		_, err := gateway.ConfigFromEnv(env(bad))
		assert.Error(t, err, "%s accepted", name)
	}
}

func TestNoncesClaimOnce(t *testing.T) {
	rc, err := redis.OpenEmbedded("t")
	require.NoError(t, err)
	defer rc.Close()
	ctx := context.Background()
	// Two replicas share one Redis.
	a := gateway.Nonces{Store: rc.NewIdempotencyStore(time.Minute)}
	b := gateway.Nonces{Store: rc.NewIdempotencyStore(time.Minute)}
	ok, err := a.Claim(ctx, "sig1", time.Minute)
	require.NoError(t, err, "first claim")
	require.True(t, ok, "first claim refused")
	ok, err = b.Claim(ctx, "sig1", time.Minute)
	require.NoError(t, err, "replay on another replica")
	require.False(t, ok, "replay on another replica accepted")
	ok, _ = b.Claim(ctx, "sig2", time.Minute)
	assert.True(t, ok, "a different nonce refused")
}

func TestConfigSecuritySettings(t *testing.T) {
	c, err := gateway.ConfigFromEnv(env(nil))
	require.NoError(t, err)
	assert.Empty(t, c.TrustedProxies, "proxies trusted by default")
	assert.Equal(t, 20, c.PublicPerSecond)
	assert.Equal(t, "1000000000", c.DefaultDepositLimit)
	c, err = gateway.ConfigFromEnv(env(map[string]string{
		"TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::/32", "DEPOSIT_LIMITS": "USD=1000000,BTC=12.5", "DEPOSIT_LIMIT_DEFAULT": "5000",
		"PUBLIC_RATE_LIMIT_PER_SECOND": "7", "PASSWORD_HASH_WORKERS": "3", "PASSWORD_RESET_MAILER": "log",
	}))
	require.NoError(t, err)
	require.Len(t, c.TrustedProxies, 2)
	assert.Equal(t, "10.0.0.0/8", c.TrustedProxies[0].String())
	assert.Equal(t, map[string]string{"USD": "1000000", "BTC": "12.5"}, c.DepositLimits)
	assert.Equal(t, "5000", c.DefaultDepositLimit)
	assert.Equal(t, 7, c.PublicPerSecond)
	assert.Equal(t, 3, c.HashWorkers)
	assert.Equal(t, "log", c.ResetMailer)
	for name, bad := range map[string]map[string]string{
		"TRUSTED_PROXIES":       {"TRUSTED_PROXIES": "10.0.0.1"},
		"DEPOSIT_LIMITS":        {"DEPOSIT_LIMITS": "USD:100"},
		"DEPOSIT_LIMIT_DEFAULT": {"DEPOSIT_LIMIT_DEFAULT": "-1"},
		"PASSWORD_RESET_MAILER": {"PASSWORD_RESET_MAILER": "smtp"},
		"PASSWORD_HASH_WORKERS": {"PASSWORD_HASH_WORKERS": "0"},
	} {
		_, err := gateway.ConfigFromEnv(env(bad))
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), name)
		}
	}
}
