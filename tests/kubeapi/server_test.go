package kubeapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

// The API server and etcd run as the upstream binaries, built from this module's tool
// directives (k8s.io/kubernetes/cmd/kube-apiserver and go.etcd.io/etcd/server/v3, at the
// versions go.mod requires) and cached by go tool. No code of this module imports either, so
// go vet and staticcheck analyse the client side only, not the server's dependencies.

// startAPIServer starts etcd and kube-apiserver on it as processes, both stopped with the test,
// and returns a client configuration (a static token in system:masters, the server's own
// certificate as the trust root) and the warnings the server sends.
func startAPIServer(t *testing.T) (*rest.Config, *warningLog) {
	start := time.Now()
	etcdBin, apiserverBin := toolPath(t, "server"), toolPath(t, "kube-apiserver")
	t.Logf("etcd and kube-apiserver built in %s", time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	clientPort, peerPort, securePort := freePort(t), freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + clientPort
	peerURL := "http://127.0.0.1:" + peerPort
	etcdExited := startProcess(t, dir, "etcd", etcdBin,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL,
		"--unsafe-no-fsync", "--log-level", "error",
	)
	waitFor(t, "etcd", etcdExited, func() bool {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	t.Logf("etcd ready at %s in %s", etcdURL, time.Since(start).Round(time.Millisecond))

	admission := filepath.Join(dir, "admission.yaml")
	require.NoError(t, os.WriteFile(admission, []byte(admissionConfig), 0o600))
	token := randomHex(t)
	tokens := filepath.Join(dir, "tokens.csv")
	require.NoError(t, os.WriteFile(tokens, []byte(token+`,cantondex-test,cantondex-test,"system:masters"`+"\n"), 0o600))
	saKey := filepath.Join(dir, "service-account.key")
	writeECKey(t, saKey)
	certDir := filepath.Join(dir, "certs")
	apiserverExited := startProcess(t, dir, "kube-apiserver", apiserverBin,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", securePort,
		"--cert-dir", certDir, // a self-signed serving certificate for 127.0.0.1, written there
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", saKey, "--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--endpoint-reconciler-type", "none", // no node answers for the kubernetes Service
		"--disable-admission-plugins", "ServiceAccount", // no controller creates the ServiceAccounts' tokens
		"--admission-control-config-file", admission,
		"--allow-privileged=true", // as EKS: Pod Security Admission, not the API's validation, refuses
	)

	cfg := &rest.Config{
		Host:            "https://127.0.0.1:" + securePort,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(certDir, "apiserver.crt")},
		// client-go's default of 5 requests/s would pace the test's few hundred requests
		QPS: 1000, Burst: 1000,
	}
	waitFor(t, "kube-apiserver", apiserverExited, func() bool { return ready(cfg) })
	t.Logf("kube-apiserver (with etcd) ready in %s", time.Since(start).Round(time.Millisecond))

	warnings := &warningLog{}
	cfg.WarningHandler = warnings
	return cfg, warnings
}

// toolPath builds (or finds in the build cache) one of go.mod's tools and returns its path.
func toolPath(t *testing.T, name string) string {
	cmd := exec.Command("go", "tool", "-n", name)
	cmd.Env = append(os.Environ(), "GOWORK=off") // this module is outside go.work
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go tool -n %s: %s", name, out)
	return strings.TrimSpace(string(out))
}

// startProcess runs bin with args, its output in a log file of dir that the test prints when
// it fails, and stops it when the test ends. The channel is closed when the process exits.
func startProcess(t *testing.T, dir, name, bin string, args ...string) <-chan struct{} {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start(), "start %s", name)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s log (last 4 KB):\n%s", name, tail(b, 4096))
			}
		}
	})
	return exited
}

// ready reports whether the API server answers /readyz with 200 to the test's credentials.
func ready(cfg *rest.Config) bool {
	tc, err := rest.TLSConfigFor(cfg)
	if err != nil || tc == nil {
		return false
	}
	// A client per poll: the CA file it trusts appears only once the server has written it.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, cfg.Host+"/readyz", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitFor polls ok every 100 ms for up to two minutes (the API server's start-up hooks on a
// loaded 2-core machine) and fails the test if it never holds or the process exits first.
func waitFor(t *testing.T, what string, exited <-chan struct{}, ok func() bool) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			require.FailNow(t, what+" not ready after two minutes")
		case <-exited:
			require.FailNow(t, what+" exited before it was ready (its log follows)")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func randomHex(t *testing.T) string {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// writeECKey writes a new P-256 private key, PEM-encoded, for the service account tokens.
func writeECKey(t *testing.T, path string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
