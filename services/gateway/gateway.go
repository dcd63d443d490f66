// Package gateway wires the api-gateway: the auth service on its store (PostgreSQL when a
// database URL is set, memory otherwise), replay protection and rate limits on the shared
// Redis, and the REST API over a trading backend. Both binaries that serve the API
// (cmd/api-gateway and the all-in-one cmd/cantondex) start it the same way.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/auth/memory"
	"github.com/cantondex/platform/services/auth/postgres"
	gwhttp "github.com/cantondex/platform/services/gateway/http"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/trading"
)

// Config is the gateway's part of the environment.
type Config struct {
	Addr          string        // HTTP_ADDR: where the API listens, default :8080 (all interfaces)
	DatabaseURL   string        // DATABASE_URL: auth store; memory when empty
	TokenKey      []byte        // AUTH_TOKEN_KEY (base64, 32+ bytes): generated per run when empty
	SealKey       []byte        // AUTH_SEAL_KEY (base64, 32 bytes): generated per run when empty
	AccessTTL     time.Duration // ACCESS_TOKEN_TTL, default 15m
	RatePerSecond int           // RATE_LIMIT_PER_SECOND per user and per API key, default 100
	AuthPerMinute int           // AUTH_RATE_LIMIT_PER_MINUTE per client address, default 600
	BodyLimit     string        // BODY_LIMIT, default 64K
	CORSOrigins   []string      // CORS_ORIGINS, comma separated; none by default
	AdminEmail    string        // ADMIN_EMAIL and ADMIN_PASSWORD: an admin ensured at start
	AdminPassword string
	// SessionAdmin generates a fresh admin for the run when ADMIN_EMAIL is unset (the local
	// all-in-one binary prints it); otherwise no admin is created.
	SessionAdmin bool
}

// ConfigFromEnv reads the gateway's environment through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr: getenv("HTTP_ADDR"), DatabaseURL: getenv("DATABASE_URL"), BodyLimit: getenv("BODY_LIMIT"),
		AdminEmail: getenv("ADMIN_EMAIL"), AdminPassword: getenv("ADMIN_PASSWORD"),
		AccessTTL: 15 * time.Minute, RatePerSecond: 100, AuthPerMinute: 600,
	}
	if c.Addr == "" {
		c.Addr = ":8080"
	}
	if c.BodyLimit == "" {
		c.BodyLimit = "64K"
	}
	for _, o := range strings.Split(getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	var err error
	if c.TokenKey, err = key(getenv, "AUTH_TOKEN_KEY", 32); err != nil {
		return c, err
	}
	if c.SealKey, err = key(getenv, "AUTH_SEAL_KEY", 32); err != nil {
		return c, err
	}
	if v := getenv("ACCESS_TOKEN_TTL"); v != "" {
		if c.AccessTTL, err = time.ParseDuration(v); err != nil || c.AccessTTL < time.Second || c.AccessTTL > 24*time.Hour {
			return c, fmt.Errorf("ACCESS_TOKEN_TTL %q: want a duration from 1s to 24h", v)
		}
	}
	for name, dst := range map[string]*int{"RATE_LIMIT_PER_SECOND": &c.RatePerSecond, "AUTH_RATE_LIMIT_PER_MINUTE": &c.AuthPerMinute} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1_000_000 {
				return c, fmt.Errorf("%s %q: want 1 to 1000000", name, v)
			}
			*dst = n
		}
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		return c, errors.New("ADMIN_EMAIL and ADMIN_PASSWORD go together")
	}
	return c, nil
}

func key(getenv func(string) string, name string, size int) ([]byte, error) {
	v := getenv(name)
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) < size || (name == "AUTH_SEAL_KEY" && len(b) != size) {
		return nil, fmt.Errorf("%s: want base64 of %d random bytes", name, size)
	}
	return b, nil
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Backend is the trading backend the API serves.
type Backend struct {
	Orders   trading.OrderService
	Markets  trading.MarketService
	Accounts trading.AccountService
	Risk     trading.RiskAdmin
	Redis    *redis.Client
	Ready    func(ctx context.Context) error
}

// Gateway is the started API.
type Gateway struct {
	Server *gwhttp.Server
	// AdminEmail and AdminPassword are the admin credential of this run ("" when none).
	AdminEmail, AdminPassword string
	Listener                  net.Listener
	// Ready checks the auth store and the backend: the operations listener's /ready.
	Ready func(ctx context.Context) error
	close []func()
}

// New builds the gateway and binds its listener; Serve runs it.
func New(ctx context.Context, cfg Config, be Backend, reg *prometheus.Registry, log *slog.Logger) (_ *Gateway, err error) {
	g := &Gateway{}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	var store auth.Store
	ready := be.Ready
	if cfg.DatabaseURL == "" {
		store = memory.NewStore()
		log.Warn("auth store in memory: users and API keys are lost when the process exits")
	} else {
		pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("auth database: %w", err)
		}
		g.close = append(g.close, pool.Close)
		if err := pool.Ping(ctx); err != nil {
			return nil, fmt.Errorf("auth database: %w", err)
		}
		if err := postgres.Migrate(ctx, pool); err != nil {
			return nil, err
		}
		store = postgres.NewStore(pool)
		ready = func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return fmt.Errorf("auth database: %w", err)
			}
			if be.Ready != nil {
				return be.Ready(ctx)
			}
			return nil
		}
	}
	if cfg.TokenKey == nil || cfg.SealKey == nil {
		log.Warn("AUTH_TOKEN_KEY or AUTH_SEAL_KEY unset: generated for this run; tokens and API keys do not survive a restart")
		if cfg.TokenKey == nil {
			cfg.TokenKey = random(32)
		}
		if cfg.SealKey == nil {
			cfg.SealKey = random(32)
		}
	}
	svc, err := auth.NewService(store, Nonces{be.Redis.NewIdempotencyStore(2 * time.Minute)}, auth.Config{
		TokenKey: cfg.TokenKey, SealKey: cfg.SealKey, AccessTTL: cfg.AccessTTL, SignatureWindow: 30 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	g.AdminEmail, g.AdminPassword = cfg.AdminEmail, cfg.AdminPassword
	if g.AdminEmail == "" && cfg.SessionAdmin {
		g.AdminEmail = "admin-" + hex.EncodeToString(random(4)) + "@cantondex.local"
		g.AdminPassword = base64.RawURLEncoding.EncodeToString(random(18))
	}
	if g.AdminEmail != "" {
		if _, err := svc.CreateUser(ctx, g.AdminEmail, g.AdminPassword, auth.RoleAdmin); err != nil && trading.ErrorCode(err) != trading.ECONFLICT {
			return nil, fmt.Errorf("admin user: %w", err)
		}
	}
	g.Ready = ready
	if g.Ready == nil {
		g.Ready = func(context.Context) error { return nil }
	}
	g.Server, err = gwhttp.New(gwhttp.Deps{
		Auth: svc, Orders: be.Orders, Markets: be.Markets, Accounts: be.Accounts, Risk: be.Risk,
		RequestLimiter: be.Redis.NewLimiter(cfg.RatePerSecond, time.Second),
		AuthLimiter:    be.Redis.NewLimiter(cfg.AuthPerMinute, time.Minute),
		Registry:       reg, Logger: log,
	}, gwhttp.Config{BodyLimit: cfg.BodyLimit, CORSOrigins: cfg.CORSOrigins})
	if err != nil {
		return nil, err
	}
	if g.Listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	return g, nil
}

// URL is the API's base URL.
func (g *Gateway) URL() string { return "http://" + g.Listener.Addr().String() + "/api/v1" }

// Serve serves until ctx ends.
func (g *Gateway) Serve(ctx context.Context) error { return g.Server.Serve(ctx, g.Listener) }

// Close releases the gateway's own resources (the backend closes its own).
func (g *Gateway) Close() {
	for i := len(g.close) - 1; i >= 0; i-- {
		g.close[i]()
	}
	g.close = nil
}

// Nonces claims signature nonces in the shared Redis through its idempotency keys: a key
// claimed once stays claimed for the store's TTL, on every replica.
type Nonces struct{ Store *redis.IdempotencyStore }

var _ auth.Nonces = Nonces{}

// Claim reports true the first time key is seen. The store's TTL (longer than the signature
// window) applies; ttl is accepted for the auth.Nonces contract.
func (n Nonces) Claim(ctx context.Context, key string, _ time.Duration) (bool, error) {
	prev, err := n.Store.Begin(ctx, "nonce:"+key)
	switch {
	case errors.Is(err, redis.ErrInProgress):
		return false, nil
	case err != nil:
		return false, err
	}
	return prev == nil, nil
}
