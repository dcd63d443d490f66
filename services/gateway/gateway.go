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
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cantondex/platform/services/auth"
	"github.com/cantondex/platform/services/auth/memory"
	"github.com/cantondex/platform/services/auth/postgres"
	"github.com/cantondex/platform/services/compliance"
	cpg "github.com/cantondex/platform/services/compliance/postgres"
	"github.com/cantondex/platform/services/exchange"
	gwhttp "github.com/cantondex/platform/services/gateway/http"
	"github.com/cantondex/platform/services/platform/telemetry"
	pgdb "github.com/cantondex/platform/services/postgres"
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
	// all-in-one binary prints it); otherwise no admin is created. It also makes "log" the
	// default reset mailer.
	SessionAdmin bool
	// TrustedProxies (TRUSTED_PROXIES, comma-separated CIDRs, none by default) are the
	// networks whose X-Forwarded-For is believed for the client address.
	TrustedProxies []*net.IPNet
	// PublicPerSecond (PUBLIC_RATE_LIMIT_PER_SECOND, default 20) limits unauthenticated
	// reads (market data) per client address.
	PublicPerSecond int
	// DepositLimits (DEPOSIT_LIMITS, "ASSET=amount,..." in whole units) bound one deposit
	// of an asset; DefaultDepositLimit (DEPOSIT_LIMIT_DEFAULT, default 1000000000) the rest.
	DepositLimits       map[string]string
	DefaultDepositLimit string
	// HashWorkers (PASSWORD_HASH_WORKERS, default the CPUs the process may use) is how many
	// password hashes run at once; the excess is shed with 503 and Retry-After.
	HashWorkers int
	// ResetMailer (PASSWORD_RESET_MAILER) delivers reset tokens: "log" writes them to the
	// log (local use only; the default with SessionAdmin), "none" delivers nothing (the
	// default otherwise).
	ResetMailer string
	// KYCGate (KYC_GATE, on or off, default on): unverified accounts cannot place orders or
	// withdraw, and deposits to them are capped (compliance.DefaultLimits). Off is for
	// benchmarks of order entry only.
	KYCGate bool
	// OfficerEmail and OfficerPassword (COMPLIANCE_OFFICER_EMAIL, COMPLIANCE_OFFICER_PASSWORD):
	// a compliance officer ensured at start.
	OfficerEmail, OfficerPassword string
}

// ConfigFromEnv reads the gateway's environment through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr: getenv("HTTP_ADDR"), DatabaseURL: getenv("DATABASE_URL"), BodyLimit: getenv("BODY_LIMIT"),
		AdminEmail: getenv("ADMIN_EMAIL"), AdminPassword: getenv("ADMIN_PASSWORD"),
		AccessTTL: 15 * time.Minute, RatePerSecond: 100, AuthPerMinute: 600, PublicPerSecond: 20,
		OfficerEmail: getenv("COMPLIANCE_OFFICER_EMAIL"), OfficerPassword: getenv("COMPLIANCE_OFFICER_PASSWORD"),
	}
	switch v := getenv("KYC_GATE"); v {
	case "", "on":
		c.KYCGate = true
	case "off":
	default:
		return c, fmt.Errorf("KYC_GATE %q: want on or off", v)
	}
	if (c.OfficerEmail == "") != (c.OfficerPassword == "") {
		return c, errors.New("COMPLIANCE_OFFICER_EMAIL and COMPLIANCE_OFFICER_PASSWORD go together")
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
	for name, dst := range map[string]*int{"RATE_LIMIT_PER_SECOND": &c.RatePerSecond, "AUTH_RATE_LIMIT_PER_MINUTE": &c.AuthPerMinute,
		"PUBLIC_RATE_LIMIT_PER_SECOND": &c.PublicPerSecond, "PASSWORD_HASH_WORKERS": &c.HashWorkers} {
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
	if c.TrustedProxies, err = cidrs(getenv("TRUSTED_PROXIES")); err != nil {
		return c, err
	}
	if c.DepositLimits, err = depositLimits(getenv("DEPOSIT_LIMITS")); err != nil {
		return c, err
	}
	c.DefaultDepositLimit = gwhttp.DefaultDepositLimit
	if v := getenv("DEPOSIT_LIMIT_DEFAULT"); v != "" {
		if !amountRE.MatchString(v) {
			return c, fmt.Errorf("DEPOSIT_LIMIT_DEFAULT %q: want a positive decimal amount", v)
		}
		c.DefaultDepositLimit = v
	}
	switch c.ResetMailer = getenv("PASSWORD_RESET_MAILER"); c.ResetMailer {
	case "", "log", "none":
	default:
		return c, fmt.Errorf("PASSWORD_RESET_MAILER %q: want log or none", c.ResetMailer)
	}
	return c, nil
}

// cidrs parses TRUSTED_PROXIES.
func cidrs(v string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", f)
		}
		out = append(out, n)
	}
	return out, nil
}

var amountRE = regexp.MustCompile(`^[0-9]{1,19}(\.[0-9]{1,18})?$`)

// depositLimits parses DEPOSIT_LIMITS.
func depositLimits(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		asset, amount, ok := strings.Cut(f, "=")
		if !ok || !trading.ValidAssetSymbol(asset) || !amountRE.MatchString(amount) || strings.Trim(amount, "0.") == "" {
			return nil, fmt.Errorf("DEPOSIT_LIMITS: %q is not ASSET=amount such as USD=1000000", f)
		}
		out[asset] = amount
	}
	return out, nil
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
	// DB, when set, is the process's PostgreSQL pool, which the auth store uses too.
	DB *pgdb.DB
	// Gated, when set, is order entry, which the gateway gives the KYC gate (KYC_GATE).
	Gated interface{ SetGate(exchange.Gate) }
	// Screener, when set, screens KYC applications at submission (the screening engine).
	Screener compliance.Screener
	// ComplianceStore, when set, is the compliance store the process shares (the all-in-one
	// binary's compliance consumer writes the same trail); otherwise the gateway's own on its
	// database, or in memory.
	ComplianceStore compliance.Store
	// Tracing is the process's tracing (nil: off).
	Tracing *telemetry.Tracing
}

// Gateway is the started API.
type Gateway struct {
	Server *gwhttp.Server
	// AdminEmail and AdminPassword are the admin credential of this run ("" when none).
	AdminEmail, AdminPassword string
	Listener                  net.Listener
	// Compliance is the KYC service the API and the gate use.
	Compliance *compliance.Service
	// Ready checks the auth store and the backend: the operations listener's /ready.
	Ready func(ctx context.Context) error
	// Auth is the gateway's auth service (the all-in-one binary's stream shares it).
	Auth  *auth.Service
	close []func()
	// background runs beside the server: the screening list's watch (delta re-screening)
	// and the KYC links' refresh.
	background []func(ctx context.Context) error
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
	var cstore compliance.Store
	ready := be.Ready
	if be.DB == nil && cfg.DatabaseURL == "" {
		store = memory.NewStore()
		cstore = compliance.NewMemory()
		log.Warn("auth store in memory: users and API keys are lost when the process exits")
	} else {
		db := be.DB // the process's one pool, with its TLS and IAM settings
		if db == nil {
			var err error
			if db, err = pgdb.Open(ctx, pgdb.Options{URL: cfg.DatabaseURL}); err != nil { // and its migrations, the auth schema's included
				return nil, fmt.Errorf("auth database: %w", err)
			}
			g.close = append(g.close, db.Close)
		}
		pool := db.Pool
		store = postgres.NewStore(pool)
		cstore = cpg.New(db)
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
	var mailer auth.Mailer = auth.NoMailer{Log: log}
	if cfg.ResetMailer == "log" || (cfg.ResetMailer == "" && cfg.SessionAdmin) {
		mailer = auth.LogMailer{Log: log}
		log.Warn("password reset tokens are written to this log (PASSWORD_RESET_MAILER=log): local use only")
	}
	svc, err := auth.NewService(store, Nonces{be.Redis.NewIdempotencyStore(2 * time.Minute)}, auth.Config{
		TokenKey: cfg.TokenKey, SealKey: cfg.SealKey, AccessTTL: cfg.AccessTTL, SignatureWindow: 30 * time.Second,
		HashWorkers: cfg.HashWorkers, Mailer: mailer,
	})
	if err != nil {
		return nil, err
	}
	g.Auth = svc
	g.background = append(g.background, func(ctx context.Context) error { svc.WatchSessions(ctx); return nil })
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
	if cfg.OfficerEmail != "" {
		if _, err := svc.CreateUser(ctx, cfg.OfficerEmail, cfg.OfficerPassword, auth.RoleComplianceOfficer); err != nil && trading.ErrorCode(err) != trading.ECONFLICT {
			return nil, fmt.Errorf("compliance officer user: %w", err)
		}
	}
	if be.ComplianceStore != nil {
		cstore = be.ComplianceStore
	}
	g.Compliance = compliance.New(cstore, be.Screener, compliance.DefaultLimits())
	var cases *compliance.Cases
	if cs, ok := cstore.(compliance.CaseStore); ok {
		cases = compliance.NewCases(cs)
		g.Compliance.SetCases(cases)
	}
	links := &compliance.KYCLinks{}
	g.Compliance.SetLinks(links)
	g.background = append(g.background, func(ctx context.Context) error {
		return links.Run(ctx, cstore, time.Minute, func(err error) { log.Error("kyc links refresh", "err", err) })
	})
	if lw, ok := be.Screener.(compliance.ListWatcher); ok && cases != nil {
		g.background = append(g.background, func(ctx context.Context) error { return lw.Watch(ctx, log, g.Compliance.Rescreen) })
	}
	if be.Gated != nil {
		if cfg.KYCGate {
			be.Gated.SetGate(g.Compliance)
		} else {
			log.Warn("KYC_GATE=off: unverified accounts may trade and withdraw")
		}
	}
	g.Ready = ready
	if g.Ready == nil {
		g.Ready = func(context.Context) error { return nil }
	}
	g.Server, err = gwhttp.New(gwhttp.Deps{
		Auth: svc, Orders: be.Orders, Markets: be.Markets, Accounts: be.Accounts, Risk: be.Risk, Compliance: g.Compliance, Cases: caseWork(cases),
		// Requests and public reads: leases of the shared budget, off the request path;
		// sign-ins: one exact count per attempt (a brute force gets no lease ahead).
		RequestLimiter: be.Redis.NewBudgetLimiter(cfg.RatePerSecond, time.Second),
		AuthLimiter:    be.Redis.NewLimiter(cfg.AuthPerMinute, time.Minute),
		PublicLimiter:  be.Redis.NewBudgetLimiter(cfg.PublicPerSecond, time.Second),
		Registry:       reg, Logger: log, Tracing: be.Tracing,
	}, gwhttp.Config{BodyLimit: cfg.BodyLimit, CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies,
		DepositLimits: cfg.DepositLimits, DefaultDepositLimit: cfg.DefaultDepositLimit})
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
func (g *Gateway) Serve(ctx context.Context) error {
	for _, run := range g.background {
		go func() { _ = run(ctx) }()
	}
	return g.Server.Serve(ctx, g.Listener)
}

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

// caseWork is cases as the API's port (nil when the store keeps no cases).
func caseWork(c *compliance.Cases) gwhttp.CaseWork {
	if c == nil {
		return nil
	}
	return c
}
