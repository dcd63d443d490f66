// Package platformtest runs the CantonDEX platform as a real process for black-box suites and
// talks to it only over HTTP: it builds cmd/cantondex once, starts it on a free port with
// embedded defaults, and validates every response it sees against the API's own
// /api/v1/openapi.json (OpenAPI 3.1, with pb33f/libopenapi-validator).
package platformtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Build compiles cmd/cantondex into dir and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "cantondex")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/cantondex/platform/services/cmd/cantondex")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build cantondex: %w", err)
	}
	return bin, nil
}

// Platform is a running cantondex process.
type Platform struct {
	URL           string // base URL, ending in /api/v1
	StreamURL     string // the WebSocket stream, ws://.../api/v1/stream
	OpsURL        string // the operations listener: /health, /ready, /metrics
	AdminEmail    string
	AdminPassword string

	cmd    *exec.Cmd
	logs   *syncBuffer
	done   chan error
	check  validator.Validator
	vmu    sync.Mutex
	client *http.Client

	amu        sync.Mutex
	adminToken string // cached for onboarding: a login hashes a password
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs bin with embedded defaults plus env ("NAME=value"), waits until it is ready and
// loads its OpenAPI document. Stop ends it.
func Start(bin string, env ...string) (*Platform, error) {
	p := &Platform{logs: &syncBuffer{}, done: make(chan error, 1), client: &http.Client{Timeout: 10 * time.Second}}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(cleanEnv(), append([]string{"HTTP_ADDR=127.0.0.1:0", "STREAM_ADDR=127.0.0.1:0", "OPS_ADDR=127.0.0.1:0", "LOG_FORMAT=text"}, env...)...)
	p.cmd.Stderr = p.logs
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { p.done <- p.cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for p.URL == "" || p.OpsURL == "" || p.AdminPassword == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				return nil, fmt.Errorf("cantondex exited before it was ready:\n%s", p.logs.String())
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "API:"); ok {
				p.URL = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(strings.TrimSpace(l), "stream:"); ok {
				p.StreamURL = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(strings.TrimSpace(l), "ops:"); ok {
				p.OpsURL = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(strings.TrimSpace(l), "admin:"); ok {
				p.AdminEmail = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(strings.TrimSpace(l), "password:"); ok {
				p.AdminPassword = strings.TrimSpace(v)
			}
		case <-deadline:
			_ = p.cmd.Process.Kill()
			return nil, fmt.Errorf("cantondex not ready in 60s:\n%s", p.logs.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	if err := p.loadSpec(); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// cleanEnv is this process's environment without the platform's own settings, so a
// developer's DATABASE_URL or REDIS_URL does not leak into a run meant for embedded defaults.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DATABASE_URL", "KAFKA_BROKERS", "REDIS_URL", "HTTP_ADDR", "OPS_ADDR", "REDIS_PREFIX", "ADMIN_EMAIL", "ADMIN_PASSWORD",
			"AUTH_TOKEN_KEY", "AUTH_SEAL_KEY", "ACCESS_TOKEN_TTL", "RATE_LIMIT_PER_SECOND", "AUTH_RATE_LIMIT_PER_MINUTE",
			"TRUSTED_PROXIES", "PUBLIC_RATE_LIMIT_PER_SECOND", "DEPOSIT_LIMITS", "DEPOSIT_LIMIT_DEFAULT", "PASSWORD_HASH_WORKERS",
			"PASSWORD_RESET_MAILER":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (p *Platform) loadSpec() error {
	res, err := p.client.Get(p.URL + "/openapi.json")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	spec, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return fmt.Errorf("openapi document: %w", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return fmt.Errorf("openapi validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return fmt.Errorf("openapi document invalid: %v", verrs)
	}
	p.check = v
	return nil
}

// Stop interrupts the process as Ctrl-C would and waits for a clean exit.
func (p *Platform) Stop() error {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("cantondex did not stop cleanly: %w\n%s", err, p.logs.String())
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("cantondex did not stop within 20s of an interrupt")
	}
}

// Pid is the platform process's id (for /proc accounting).
func (p *Platform) Pid() int { return p.cmd.Process.Pid }

// Logs is what the process wrote to stderr so far.
func (p *Platform) Logs() string { return p.logs.String() }

// PeakRSS is the most resident memory the process has held so far, in bytes (Linux only).
func (p *Platform) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// MetricsURL is where the platform serves its Prometheus metrics.
func (p *Platform) MetricsURL() string { return p.OpsURL + "/metrics" }

// Raw sends a request as given, without the OpenAPI check (for methods, paths and bytes the
// document cannot describe), and returns the status, headers and body.
func (p *Platform) Raw(method, path string, body []byte, hdr ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, p.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}

// Response is one answer, already validated against the OpenAPI document.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Str reads a string (or the JSON text of another value) at a path of keys and indexes;
// "" when absent or null.
func (r *Response) Str(path ...string) string {
	var v any = r.JSON
	for _, k := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				return ""
			}
			v = x[i]
		default:
			return ""
		}
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// Items is the items array of a listing.
func (r *Response) Items() []map[string]any {
	var out []map[string]any
	if xs, ok := r.JSON["items"].([]any); ok {
		for _, x := range xs {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// Client is a caller of the API, optionally authenticated.
type Client struct {
	p     *Platform
	t     testing.TB
	Token string // bearer access token
	Key   string // API key id; with Secret, requests are signed instead
	// Secret of the API key.
	Secret string
}

// Client returns an unauthenticated client that fails t on transport errors and on any
// response that does not match the OpenAPI document.
func (p *Platform) Client(t testing.TB) *Client { return &Client{p: p, t: t} }

// As returns a copy of c using token.
func (c *Client) As(token string) *Client {
	d := *c
	d.Token, d.Key, d.Secret = token, "", ""
	return &d
}

// Signed returns a copy of c signing with an API key.
func (c *Client) Signed(key, secret string) *Client {
	d := *c
	d.Token, d.Key, d.Secret = "", key, secret
	return &d
}

// Sign is the documented API key signature.
func Sign(secret, timestamp, method, pathAndQuery string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "\n" + method + "\n" + pathAndQuery + "\n"))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Do sends a request. body is a string (sent as is) or a value (sent as JSON); hdr holds
// header name/value pairs that override the defaults.
func (c *Client) Do(method, path string, body any, hdr ...string) *Response {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(c.t, err, "%s %s: request body", method, path)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.p.URL+path, bytes.NewReader(raw))
	require.NoError(c.t, err, "%s %s", method, path)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.Key != "" {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("X-CDX-Key", c.Key)
		req.Header.Set("X-CDX-Timestamp", ts)
		req.Header.Set("X-CDX-Signature", Sign(c.Secret, ts, method, req.URL.RequestURI(), raw))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.p.client.Do(req)
	require.NoError(c.t, err, "%s %s", method, path)
	defer res.Body.Close()
	out := &Response{Status: res.StatusCode, Header: res.Header}
	out.Body, err = io.ReadAll(res.Body)
	require.NoError(c.t, err, "%s %s: read body", method, path)
	_ = json.Unmarshal(out.Body, &out.JSON)
	c.validate(req, res, out)
	return out
}

func (c *Client) validate(req *http.Request, res *http.Response, out *Response) {
	c.t.Helper()
	vres := *res
	vres.Body = io.NopCloser(bytes.NewReader(out.Body))
	vreq := req.Clone(context.Background())
	vreq.Body = http.NoBody
	c.p.vmu.Lock()
	ok, errs := c.p.check.ValidateHttpResponse(vreq, &vres)
	c.p.vmu.Unlock()
	if !ok {
		var b strings.Builder
		for _, e := range errs {
			fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				fmt.Fprintf(&b, "\n    %s at %s", se.Reason, se.FieldPath)
			}
		}
		assert.Failf(c.t, "response does not match openapi.json", "%s %s -> %d:%s\nbody: %s", req.Method, req.URL.Path, res.StatusCode, b.String(), out.Body)
	}
	if res.StatusCode >= 400 {
		assert.NotEmpty(c.t, out.Str("error", "code"), "%s %s -> %d without error.code: %s", req.Method, req.URL.Path, res.StatusCode, out.Body)
		assert.NotEmpty(c.t, out.Str("error", "message"), "%s %s -> %d without error.message: %s", req.Method, req.URL.Path, res.StatusCode, out.Body)
	}
}

// Suite is the shared state of a test package: the built binary and one platform its tests
// share (and, with WithPostgres, a second one on PostgreSQL and Redis).
type Suite struct {
	Env    []string // settings of every platform the suite starts
	Bin    string
	Shared *Platform
	// WithPostgres makes Main start Postgres too, on a fresh database of TEST_DATABASE_URL's
	// server and TEST_REDIS_URL's Redis; it stays nil when they are unreachable and CI is
	// unset (with CI set, Main fails instead).
	WithPostgres bool
	Postgres     *Platform
	serial       atomic.Int64
}

// Backends runs f as a subtest on each platform of the suite: "embedded", and "postgres"
// (skipped when the suite has none).
func (s *Suite) Backends(t *testing.T, f func(t *testing.T, p *Platform)) {
	t.Run("embedded", func(t *testing.T) { f(t, s.Shared) })
	t.Run("postgres", func(t *testing.T) {
		if s.Postgres == nil {
			t.Skip("no PostgreSQL and Redis (set TEST_DATABASE_URL and TEST_REDIS_URL)")
		}
		f(t, s.Postgres)
	})
}

// StartBackends is Backends on fresh platforms with extra settings, one per backend.
func (s *Suite) StartBackends(t *testing.T, env []string, f func(t *testing.T, p *Platform)) {
	t.Run("embedded", func(t *testing.T) { f(t, s.Start(t, env...)) })
	t.Run("postgres", func(t *testing.T) {
		dbURL, redisURL, prefix := RealDependencies(t)
		f(t, s.Start(t, append([]string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL, "REDIS_PREFIX=" + prefix}, env...)...))
	})
}

// Main builds the binary, starts the shared platform, runs the tests, stops the platform
// (which must exit cleanly) and calls after with its logs; it returns the exit code.
func (s *Suite) Main(m *testing.M, after func(logs string) error) int {
	dir, err := os.MkdirTemp("", "cdx-suite-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if s.Bin, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if s.Shared, err = Start(s.Bin, s.Env...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	platforms := []*Platform{s.Shared}
	if s.WithPostgres {
		deps, err := NewRealDeps()
		switch {
		case errors.Is(err, ErrUnreachable) && os.Getenv("CI") == "":
			fmt.Fprintln(os.Stderr, "skipping the PostgreSQL backend:", err)
		case err != nil:
			fmt.Fprintln(os.Stderr, err)
			_ = s.Shared.Stop()
			return 1
		default:
			defer deps.Remove()
			if s.Postgres, err = Start(s.Bin, append(append([]string{}, s.Env...), deps.Env()...)...); err != nil {
				fmt.Fprintln(os.Stderr, err)
				_ = s.Shared.Stop()
				return 1
			}
			platforms = append(platforms, s.Postgres)
		}
	}
	code := m.Run()
	for _, p := range platforms {
		logs := p.Logs()
		if err := p.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if after != nil {
			if err := after(logs); err != nil {
				fmt.Fprintln(os.Stderr, "FAIL:", err)
				return 1
			}
		}
	}
	return code
}

// Start runs a platform of the suite's binary with extra settings, stopped (cleanly) when t
// ends.
func (s *Suite) Start(t *testing.T, env ...string) *Platform {
	t.Helper()
	p, err := Start(s.Bin, append(append([]string{}, s.Env...), env...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, p.Stop())
	})
	return p
}

// Trader is a registered, logged-in trader.
type Trader struct {
	*Client
	ID, Email, Password, Refresh string
}

// Register creates a trader with a unique email, logs them in and verifies them (KYC
// submitted by the trader, approved by the admin), as onboarding at a venue does: an
// unverified account cannot trade or withdraw.
func (s *Suite) Register(t *testing.T, p *Platform, name string) Trader {
	t.Helper()
	tr := s.RegisterUnverified(t, p, name)
	r := tr.Do("POST", "/kyc", map[string]string{"legal_name": "Trader " + name, "date_of_birth": "1990-04-01", "nationality": "DE", "address": "1 Example Street, Berlin"})
	require.Equal(t, 202, r.Status, "kyc: %s", r.Body)
	r = p.onboarding(t).Do("POST", "/compliance/kyc/"+tr.ID+"/approve", map[string]string{"level": "basic", "reason": "test onboarding"})
	require.Equal(t, 200, r.Status, "kyc approval: %s", r.Body)
	return tr
}

// onboarding is the admin's client for verifying new traders, logged in once per platform.
func (p *Platform) onboarding(t *testing.T) *Client {
	t.Helper()
	p.amu.Lock()
	defer p.amu.Unlock()
	if p.adminToken == "" {
		r := p.Client(t).Do("POST", "/auth/login", map[string]string{"email": p.AdminEmail, "password": p.AdminPassword})
		require.Equal(t, 200, r.Status, "admin login: %s", r.Body)
		p.adminToken = r.Str("access_token")
	}
	return p.Client(t).As(p.adminToken)
}

// RegisterUnverified creates a trader with a unique email and logs them in, without KYC.
func (s *Suite) RegisterUnverified(t *testing.T, p *Platform, name string) Trader {
	t.Helper()
	c := p.Client(t)
	n := s.serial.Add(1)
	email := fmt.Sprintf("%s-%d-%d@example.com", name, time.Now().UnixNano(), n)
	password := fmt.Sprintf("password %d of %s", n, name)
	r := c.Do("POST", "/auth/register", map[string]string{"email": email, "password": password})
	require.Equal(t, 202, r.Status, "register: %s", r.Body)
	r = c.Do("POST", "/auth/login", map[string]string{"email": email, "password": password})
	require.Equal(t, 200, r.Status, "login: %s", r.Body)
	return Trader{Client: c.As(r.Str("access_token")), ID: r.Str("user_id"), Email: email, Password: password, Refresh: r.Str("refresh_token")}
}

// Admin logs in as the platform's admin.
func (p *Platform) Admin(t *testing.T) *Client {
	t.Helper()
	r := p.Client(t).Do("POST", "/auth/login", map[string]string{"email": p.AdminEmail, "password": p.AdminPassword})
	require.Equal(t, 200, r.Status, "admin login: %s", r.Body)
	return p.Client(t).As(r.Str("access_token"))
}

// Eventually polls f until it holds, failing the test after 15 s: matching and
// settlement are asynchronous, so a test waits for the state it expects.
func Eventually(t testing.TB, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		require.False(t, time.Now().After(deadline), "%s: not within 15s", what)
		time.Sleep(50 * time.Millisecond)
	}
}
