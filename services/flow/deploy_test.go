package flow_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/redis"
	"github.com/cantondex/platform/services/redis/redistest"
	"github.com/cantondex/platform/services/trading"
)

// TestDeploymentShapedSIGKILL runs the four production binaries as separate processes with
// the environment their Deployments get — Kafka over TLS with SASL/SCRAM-SHA-512 (the
// in-process broker), Redis, PostgreSQL, the operations listener on its own port — after the
// kafka-topics Job created the topics. A trading session is driven over HTTP through
// api-gateway while each process is SIGKILLed in turn and restarted; then no accepted order
// is lost, no trade settled twice, every hold is released or consumed, every asset is
// conserved, every process is ready, and the topics each process registered through the
// catalog are exactly its catalog entry's.
func TestDeploymentShapedSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("deployment-shaped run skipped in -short mode")
	}
	// ElastiCache's shape: a Redis Cluster of three masters, TLS only, with an auth token.
	dir := t.TempDir()
	files, err := redistest.WriteTLSFiles(dir, "redis")
	require.NoError(t, err)
	token := hex.EncodeToString(random(16))
	rc, err := redistest.Start(context.Background(), dir, redistest.Config{Nodes: 3, TLS: files, Password: token})
	if err != nil {
		redistest.Unavailable(t, "TLS Redis Cluster: %v", err)
	}
	t.Cleanup(rc.Stop)
	url := pgtest.NewURL(t, "deploy")
	db, err := postgres.Open(context.Background(), postgres.Options{URL: url, MaxConns: 8})
	require.NoError(t, err)
	defer db.Close()

	bin, logs := buildBinaries(t, "api-gateway", "matching-engine", "settlement-coordinator", "risk-management", "kafka-topics")
	d := &deployment{ops: map[string]string{}, redis: redis.Options{URL: "rediss://" + rc.Addrs[0], Cluster: true,
		AuthToken: token, CAFile: files.CAFile, Prefix: "deploy"}}
	testCrashSafety(t, postgres.NewStore(db), &binaries{dir: bin, dbURL: url, logs: logs, deploy: d})
}

// deployment is the environment of the deployment-shaped run.
type deployment struct {
	redis  redis.Options // the cluster's configuration endpoint, TLS CA, auth token
	mu     sync.Mutex
	ops    map[string]string // service -> operations address, fixed across restarts
	client *apiClient
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// freeAddr returns a loopback address with a port free now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func (d *deployment) opsAddr(t *testing.T, name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ops[name] == "" {
		d.ops[name] = freeAddr(t)
	}
	return d.ops[name]
}

// brokerOptions make the in-process broker speak TLS only and require SCRAM-SHA-512.
func (d *deployment) brokerOptions(t *testing.T) []kafka.EmbeddedOption {
	return []kafka.EmbeddedOption{kafka.EmbeddedTLS(t.TempDir()),
		kafka.EmbeddedSASL(kafka.MechanismSCRAMSHA512, "cantondex", hex.EncodeToString(random(16)))}
}

// createTopics runs the kafka-topics Job's binary against the cluster.
func (d *deployment) createTopics(t *testing.T, b *binaries, c kafka.Cluster) {
	cmd := exec.Command(filepath.Join(b.dir, catalog.KafkaTopics))
	cmd.Env = append(cleanEnv(), c.Env()...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kafka-topics: %s", out)
}

func (d *deployment) gateway(t *testing.T, b *binaries, c kafka.Cluster, redisURL, prefix string) *restartable {
	addr := freeAddr(t)
	admin, password := "ops@cantondex.test", hex.EncodeToString(random(12))
	d.client = &apiClient{base: "http://" + addr + "/api/v1", http: &http.Client{Timeout: 5 * time.Second}, tokens: map[string]string{},
		adminEmail: admin, adminPassword: password}
	key := func() string { return base64.StdEncoding.EncodeToString(random(32)) }
	return b.process(t, catalog.APIGateway, c, redisURL, prefix, "HTTP_ADDR="+addr, "OPS_ADDR="+d.opsAddr(t, catalog.APIGateway),
		"ADMIN_EMAIL="+admin, "ADMIN_PASSWORD="+password,
		// The Secret's keys: tokens survive a restart of the process.
		"AUTH_TOKEN_KEY="+key(), "AUTH_SEAL_KEY="+key(),
		"RATE_LIMIT_PER_SECOND=100000", "AUTH_RATE_LIMIT_PER_MINUTE=100000", "RISK_MAX_OPEN_ORDERS=10000", "RISK_PRICE_BAND_BPS=5000")
}

func (d *deployment) risk(t *testing.T, b *binaries, c kafka.Cluster, redisURL, prefix string) *restartable {
	// A low exposure limit, so that post-trade risk publishes alerts too.
	return b.process(t, catalog.RiskManagement, c, redisURL, prefix, "RISK_MAX_EXPOSURE=1")
}

// opsGet reads path on name's operations listener.
func (d *deployment) opsGet(name, path string) (int, string, error) {
	d.mu.Lock()
	addr := d.ops[name]
	d.mu.Unlock()
	r, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	return r.StatusCode, string(body), err
}

// waitReady waits until every service's /ready answers 200.
func (d *deployment) waitReady(t *testing.T, services []*restartable) {
	deadline := time.Now().Add(90 * time.Second)
	for _, s := range services {
		for {
			code, body, err := d.opsGet(s.name, "/ready")
			if code == http.StatusOK {
				break
			}
			require.False(t, time.Now().After(deadline), "%s not ready: %d %s %v", s.name, code, body, err)
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// checkRegistrations compares what each process registered through the catalog (its
// cantondex_kafka_registered series) with its catalog entry, and checks it is ready.
func (d *deployment) checkRegistrations(t *testing.T, services []*restartable) {
	d.waitReady(t, services)
	for _, s := range services {
		entry := catalog.MustLookup(s.name)
		code, body, err := d.opsGet(s.name, "/metrics")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		var consume []catalog.Consume
		var produce []string
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			line := sc.Text()
			labels, ok := strings.CutPrefix(line, "cantondex_kafka_registered{")
			if !ok {
				continue
			}
			l := map[string]string{}
			for _, kv := range strings.Split(labels[:strings.Index(labels, "}")], ",") {
				k, v, _ := strings.Cut(kv, "=")
				l[k] = strings.Trim(v, `"`)
			}
			require.Equal(t, s.name, l["service"])
			if l["access"] == "consume" {
				consume = append(consume, catalog.Consume{Topic: l["topic"], Group: l["group"]})
			} else {
				produce = append(produce, l["topic"])
			}
		}
		slices.Sort(produce)
		want := slices.Clone(entry.Produces)
		slices.Sort(want)
		assert.Equal(t, want, produce, "%s produces", s.name)
		assert.ElementsMatch(t, entry.Consumes, consume, "%s consumes", s.name)
	}
}

// apiClient is a trading client of the api-gateway process; the account is the user's id.
type apiClient struct {
	base   string
	http   *http.Client
	mu     sync.Mutex
	tokens map[string]string // account -> access token
	// admin verifies the traders (KYC), as onboarding does.
	adminEmail, adminPassword, adminToken string
}

var _ entryPoint = (*apiClient)(nil)

type apiError struct {
	Error struct{ Code, Message string }
}

// do sends a JSON request; a transport failure (a killed process) is EUNAVAILABLE, for the
// caller to retry.
func (c *apiClient) do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return trading.Errorf(trading.EUNAVAILABLE, "%v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var e apiError
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return trading.Errorf(trading.EUNAVAILABLE, "%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return trading.Errorf(e.Error.Code, "%s %s: %s", method, path, e.Error.Message)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// register creates and logs in a user and returns its id (its account).
func (c *apiClient) register(t *testing.T, name string) string {
	ctx := context.Background()
	creds := map[string]string{"email": name + "@traders.test", "password": "Correct-Horse-" + hex.EncodeToString(random(6))}
	var tok struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
	}
	// Registration answers the same whether or not the address is taken: the id comes with
	// the login.
	require.NoError(t, retry(func() error { return c.do(ctx, "POST", "/auth/register", "", creds, nil) }))
	require.NoError(t, retry(func() error { return c.do(ctx, "POST", "/auth/login", "", creds, &tok) }))
	require.NotEmpty(t, tok.UserID)
	c.mu.Lock()
	c.tokens[tok.UserID] = tok.AccessToken
	c.mu.Unlock()
	// KYC: the trader submits, the admin approves (an unverified account cannot trade).
	app := map[string]string{"legal_name": "Trader " + name, "date_of_birth": "1990-04-01", "nationality": "DE", "address": "1 Example Street"}
	require.NoError(t, retry(func() error { return c.do(ctx, "POST", "/kyc", tok.AccessToken, app, nil) }))
	if c.adminToken == "" {
		var adm struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, retry(func() error {
			return c.do(ctx, "POST", "/auth/login", "", map[string]string{"email": c.adminEmail, "password": c.adminPassword}, &adm)
		}))
		c.adminToken = adm.AccessToken
	}
	approve := map[string]string{"level": "basic", "reason": "test onboarding"}
	require.NoError(t, retry(func() error {
		err := c.do(ctx, "POST", "/compliance/kyc/"+tok.UserID+"/approve", c.adminToken, approve, nil)
		if trading.ErrorCode(err) == trading.ECONFLICT { // an earlier attempt's answer was lost
			return nil
		}
		return err
	}))
	return tok.UserID
}

func retry(f func() error) error {
	var err error
	for range 300 {
		if err = f(); trading.ErrorCode(err) != trading.EUNAVAILABLE {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func (c *apiClient) token(account string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens[account]
}

// PlaceOrder sends the order in the API's decimals (BTC-USD: tick 0.01, lot 0.0001).
func (c *apiClient) PlaceOrder(ctx context.Context, req trading.PlaceOrder) (trading.Order, error) {
	body := map[string]any{"market": req.Market, "side": string(req.Side), "type": string(req.Type),
		"price":           fmt.Sprintf("%d.%02d", req.Price/100, req.Price%100),
		"quantity":        fmt.Sprintf("%d.%04d", req.Quantity/10000, req.Quantity%10000),
		"client_order_id": req.ClientOrderID}
	if req.TimeInForce != "" {
		body["time_in_force"] = string(req.TimeInForce)
	}
	var o struct{ ID string }
	err := c.do(ctx, "POST", "/orders", c.token(req.Account), body, &o)
	return trading.Order{ID: o.ID, Account: req.Account}, err
}

// CancelOrder cancels one order.
func (c *apiClient) CancelOrder(ctx context.Context, account, orderID string) (trading.Order, error) {
	err := c.do(ctx, "DELETE", "/orders/"+orderID, c.token(account), nil, nil)
	return trading.Order{ID: orderID, Account: account}, err
}

// CancelAll cancels the account's open orders (retried across restarts).
func (c *apiClient) CancelAll(ctx context.Context, account, market string) (int, error) {
	var out struct{ Cancelled int }
	err := retry(func() error { return c.do(ctx, "DELETE", "/orders", c.token(account), nil, &out) })
	return out.Cancelled, err
}

// redisEnv is the environment of the Redis options, as REDIS_* variables.
func (d *deployment) redisEnv() []string {
	return []string{"REDIS_URL=" + d.redis.URL, "REDIS_CLUSTER=true", "REDIS_AUTH_TOKEN=" + d.redis.AuthToken,
		"REDIS_TLS_CA_FILE=" + d.redis.CAFile, "REDIS_PREFIX=" + d.redis.Prefix}
}
