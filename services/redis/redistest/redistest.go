// Package redistest gives tests a real Redis: the single node of TEST_REDIS_URL (default
// redis://127.0.0.1:6379/0) and a Redis Cluster of three masters. The cluster is the one
// TEST_REDIS_CLUSTER_ADDRS names (comma-separated host:port of its nodes), or one the test
// binary starts itself from redis-server and redis-cli in a temporary directory (see Main).
// When a server cannot be had the test is skipped, unless CI is set: then it fails, so CI never
// silently skips an integration test.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// URL is the single node's URL.
func URL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Prefix is a key prefix of its own for one test.
func Prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "cdxtest:" + hex.EncodeToString(b[:])
}

// Unavailable skips tb with the reason, or fails it when CI is set.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf(format+" (CI is set: integration tests do not skip)", args...)
	}
	tb.Skipf(format, args...)
}

// started is the cluster Main started, or why it could not.
var (
	started    *Cluster
	startedErr error
)

// ClusterAddrs returns the nodes of the test cluster: TEST_REDIS_CLUSTER_ADDRS, or the one Main
// started. Without either it skips (fails under CI).
func ClusterAddrs(tb testing.TB) []string {
	tb.Helper()
	if v := os.Getenv("TEST_REDIS_CLUSTER_ADDRS"); v != "" {
		return strings.Split(v, ",")
	}
	if started != nil {
		return started.Addrs
	}
	if startedErr != nil {
		Unavailable(tb, "Redis Cluster could not be started: %v", startedErr)
	}
	Unavailable(tb, "no Redis Cluster: set TEST_REDIS_CLUSTER_ADDRS or run the package's tests through redistest.Main")
	return nil
}

// Main runs a package's tests with a Redis Cluster of three masters started for them (unless
// TEST_REDIS_CLUSTER_ADDRS names one), and tears it down after. Call it from TestMain.
func Main(m *testing.M) int {
	if os.Getenv("TEST_REDIS_CLUSTER_ADDRS") == "" {
		dir, err := os.MkdirTemp("", "redis-cluster-")
		if err == nil {
			defer os.RemoveAll(dir)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			started, err = StartCluster(ctx, dir, 3)
			cancel()
		}
		startedErr = err
		if started != nil {
			defer started.Stop()
		}
	}
	return m.Run()
}

// Cluster is a Redis Cluster (or, with Config.Nodes 1 and no Cluster, one server) of local
// redis-server processes.
type Cluster struct {
	Addrs []string
	cfg   Config
	procs []*exec.Cmd
}

// Config shapes the servers StartCluster starts.
type Config struct {
	Nodes    int       // how many servers (masters)
	Single   bool      // one plain server instead of a cluster (Nodes must be 1)
	TLS      *TLSFiles // TLS only (no plaintext port), the cluster bus too
	Password string    // requirepass (and masterauth): the AUTH token
}

// StartCluster starts n redis-server processes in cluster mode on free local ports, with their
// files in dir, joins them as n masters without replicas and waits until every node reports
// the cluster ok.
func StartCluster(ctx context.Context, dir string, n int) (*Cluster, error) {
	return Start(ctx, dir, Config{Nodes: n})
}

// Start starts the servers cfg describes, with their files in dir.
func Start(ctx context.Context, dir string, cfg Config) (*Cluster, error) {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not installed: %w", bin, err)
		}
	}
	if cfg.Single && cfg.Nodes != 1 {
		return nil, errors.New("a single server is one node")
	}
	ports, err := freePorts(cfg.Nodes)
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg}
	for i, p := range ports {
		port := strconv.Itoa(p)
		args := []string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--logfile", filepath.Join(dir, "redis-"+port+".log")}
		if !cfg.Single {
			args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"))
		}
		if t := cfg.TLS; t != nil {
			args = append(args, "--port", "0", "--tls-port", port, "--tls-cert-file", t.CertFile,
				"--tls-key-file", t.KeyFile, "--tls-ca-cert-file", t.CAFile, "--tls-auth-clients", "no")
			if !cfg.Single {
				args = append(args, "--tls-cluster", "yes")
			}
		} else {
			args = append(args, "--port", port)
		}
		if cfg.Password != "" {
			args = append(args, "--requirepass", cfg.Password, "--masterauth", cfg.Password)
		}
		cmd := exec.Command("redis-server", args...)
		cmd.SysProcAttr = dieWithParent()
		if err := cmd.Start(); err != nil {
			c.Stop()
			return nil, fmt.Errorf("start redis-server %d: %w", i, err)
		}
		c.procs = append(c.procs, cmd)
		c.Addrs = append(c.Addrs, "127.0.0.1:"+port)
	}
	for _, a := range c.Addrs {
		if err := c.waitPing(ctx, a); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if cfg.Single {
		return c, nil
	}
	var args []string
	if t := cfg.TLS; t != nil {
		args = append(args, "--tls", "--cacert", t.CAFile)
	}
	if cfg.Password != "" {
		args = append(args, "--no-auth-warning", "-a", cfg.Password)
	}
	args = append(append(append(args, "--cluster", "create"), c.Addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	if err := c.waitOK(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Stop kills the servers (the processes Start started, by their pid) and waits for them.
func (c *Cluster) Stop() {
	for _, p := range c.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	c.procs = nil
}

// node is a plain client of one server.
func (c *Cluster) node(addr string) *goredis.Client {
	o := &goredis.Options{Addr: addr, Password: c.cfg.Password}
	if c.cfg.TLS != nil {
		o.TLSConfig = c.cfg.TLS.ClientConfig()
	}
	return goredis.NewClient(o)
}

// freePorts finds n ports free on 127.0.0.1 whose cluster bus ports (port+10000) are free too.
func freePorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n && tries < 100; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, errors.New("no free ports for the Redis Cluster")
	}
	return ports, nil
}

func (c *Cluster) waitPing(ctx context.Context, addr string) error {
	rdb := c.node(addr)
	defer rdb.Close()
	var err error
	for range 100 {
		if err = rdb.Ping(ctx).Err(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server at %s does not answer: %w", addr, err)
}

// waitOK waits until every node says cluster_state:ok (the slots are assigned and the nodes
// agree on the configuration).
func (c *Cluster) waitOK(ctx context.Context) error {
	for _, a := range c.Addrs {
		rdb := c.node(a)
		var info string
		for range 200 {
			info, _ = rdb.ClusterInfo(ctx).Result()
			if strings.Contains(info, "cluster_state:ok") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = rdb.Close()
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("redis cluster node %s not ok: %s", a, info)
		}
	}
	return nil
}
