package kafka_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSecurityFromEnvDefaultsToPlaintext(t *testing.T) {
	s, err := kafka.SecurityFromEnv(env(nil))
	require.NoError(t, err)
	assert.Equal(t, kafka.Security{Mechanism: kafka.MechanismNone}, s)
}

func TestSecurityFromEnvReadsEachMechanism(t *testing.T) {
	ca := writeCA(t)
	for name, tc := range map[string]struct {
		env  map[string]string
		want kafka.Security
	}{
		"msk iam": {
			env:  map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM", "AWS_REGION": "eu-west-1"},
			want: kafka.Security{TLS: true, Mechanism: kafka.MechanismAWSMSKIAM, Region: "eu-west-1"},
		},
		"scram over tls with a ca file": {
			env:  map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": ca, "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			want: kafka.Security{TLS: true, CAFile: ca, Mechanism: kafka.MechanismSCRAMSHA512, Username: "u", Password: "p"},
		},
		"plain over tls": {
			env:  map[string]string{"KAFKA_TLS": "1", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			want: kafka.Security{TLS: true, Mechanism: kafka.MechanismPlain, Username: "u", Password: "p"},
		},
		"tls alone": {
			env:  map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "none"},
			want: kafka.Security{TLS: true, Mechanism: kafka.MechanismNone},
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := kafka.SecurityFromEnv(env(tc.env))
			require.NoError(t, err)
			assert.Equal(t, tc.want, s)
		})
	}
}

func TestSecurityFromEnvRejectsInconsistentSettings(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	for name, tc := range map[string]struct {
		env   map[string]string
		names string // the variable the error must name
	}{
		"tls not a boolean":       {map[string]string{"KAFKA_TLS": "yes please"}, "KAFKA_TLS"},
		"unknown mechanism":       {map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"},
		"msk iam without tls":     {map[string]string{"KAFKA_SASL_MECHANISM": "AWS_MSK_IAM", "AWS_REGION": "eu-west-1"}, "KAFKA_TLS"},
		"msk iam without region":  {map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM"}, "AWS_REGION"},
		"msk iam with a password": {map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM", "AWS_REGION": "eu-west-1", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_PASSWORD"},
		"scram without a user":    {map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_USERNAME"},
		"scram without password":  {map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_PASSWORD"},
		"plain without tls":       {map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_TLS"},
		"password without sasl":   {map[string]string{"KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_MECHANISM"},
		"ca file without tls":     {map[string]string{"KAFKA_TLS_CA_FILE": notPEM}, "KAFKA_TLS"},
		"ca file missing":         {map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": filepath.Join(t.TempDir(), "absent.pem")}, "KAFKA_TLS_CA_FILE"},
		"ca file not pem":         {map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": notPEM}, "KAFKA_TLS_CA_FILE"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := kafka.SecurityFromEnv(env(tc.env))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.names)
			_, err = kafka.ClusterFromEnv(env(tc.env))
			assert.Error(t, err)
		})
	}
}

// startSecure runs an embedded broker that serves only TLS and requires SCRAM-SHA-512, with
// topic "t".
func startSecure(t *testing.T) kafka.Cluster {
	t.Helper()
	e, err := kafka.StartEmbedded("", kafka.EmbeddedTLS(t.TempDir()), kafka.EmbeddedSASL(kafka.MechanismSCRAMSHA512, "svc", "s3cret"))
	require.NoError(t, err)
	t.Cleanup(e.Close)
	c := e.Cluster()
	require.NoError(t, kafka.EnsureTopics(context.Background(), c, []topics.Topic{{Name: "t", Partitions: 3, ReplicationFactor: 1, RetentionMs: -1, CleanupPolicy: "delete", MinInsyncReplicas: 1}}))
	return c
}

func TestTLSAndSCRAMEndToEnd(t *testing.T) {
	c := startSecure(t)
	// What a process started with c.Env() reads back is the same cluster.
	m := map[string]string{}
	for _, kv := range c.Env() {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	fromEnv, err := kafka.ClusterFromEnv(env(m))
	require.NoError(t, err)
	require.Equal(t, c, fromEnv)
	assert.True(t, fromEnv.Security.TLS)
	assert.Equal(t, kafka.MechanismSCRAMSHA512, fromEnv.Security.Mechanism)

	p, err := kafka.NewProducer(fromEnv, "secure-producer")
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	for i := range 20 {
		require.NoError(t, p.Publish(ctx, kafka.Message{Topic: "t", Key: []byte(fmt.Sprint("k", i%3)), Value: []byte(fmt.Sprint(i))}))
	}
	s := &sink{byPK: map[string][]string{}, done: make(chan struct{}), want: 20}
	runUntil(t, &kafka.Group{Cluster: fromEnv, Group: "secure", Topics: []string{"t"}, Handle: s.handle}, s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Equal(t, 20, s.n)
	assert.Len(t, s.byPK, 3)
}

func TestPlaintextClientCannotTalkToTheSecureBroker(t *testing.T) {
	c := startSecure(t)
	_, err := kafka.NewProducer(kafka.Cluster{Brokers: c.Brokers}, "plaintext")
	assert.Error(t, err)
}

func TestWrongPasswordFailsNamingTheSetting(t *testing.T) {
	c := startSecure(t)
	c.Security.Password = "not-the-password"
	_, err := kafka.NewProducer(c, "wrong-password")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KAFKA_SASL_PASSWORD")
	err = kafka.EnsureTopics(context.Background(), c, topics.All())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KAFKA_SASL_PASSWORD")
}

func TestUntrustedCertificateFailsNamingTheCAFile(t *testing.T) {
	c := startSecure(t)
	c.Security.CAFile = writeCA(t) // a CA that did not sign the broker's certificate
	_, err := kafka.NewProducer(c, "wrong-ca")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KAFKA_TLS_CA_FILE")
	assert.Contains(t, err.Error(), c.Security.CAFile)

	// Without a CA file the system roots do not trust it either, and the error says what to set.
	c.Security.CAFile = ""
	_, err = kafka.NewProducer(c, "system-roots")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KAFKA_TLS_CA_FILE")
}

func TestPLAINOverTLS(t *testing.T) {
	e, err := kafka.StartEmbedded("", kafka.EmbeddedTLS(t.TempDir()), kafka.EmbeddedSASL(kafka.MechanismPlain, "svc", "pw"))
	require.NoError(t, err)
	t.Cleanup(e.Close)
	c := e.Cluster()
	require.NoError(t, kafka.EnsureTopics(context.Background(), c, []topics.Topic{{Name: "t", Partitions: 1, ReplicationFactor: 1, RetentionMs: -1, CleanupPolicy: "delete", MinInsyncReplicas: 1}}))
	p, err := kafka.NewProducer(c, "plain")
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	require.NoError(t, p.Publish(context.Background(), kafka.Message{Topic: "t", Key: []byte("k"), Value: []byte("v")}))

	c.Security.Password = "wrong"
	_, err = kafka.NewProducer(c, "plain-wrong")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KAFKA_SASL_PASSWORD")
}

// writeCA writes a fresh self-signed CA certificate and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "some other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return path
}

func TestClusterFromEnvRejectsABrokerWithoutPort(t *testing.T) {
	c, err := kafka.ClusterFromEnv(env(map[string]string{"KAFKA_BROKERS": "b-1:9098, b-2:9098"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"b-1:9098", "b-2:9098"}, c.Brokers)
	_, err = kafka.ClusterFromEnv(env(map[string]string{"KAFKA_BROKERS": "b-1:9098,b-2"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "KAFKA_BROKERS")
}

func TestSecurityNeverPrintsThePassword(t *testing.T) {
	c := kafka.Cluster{Brokers: []string{"b:9096"}, Security: kafka.Security{TLS: true, Mechanism: kafka.MechanismSCRAMSHA512, Username: "svc", Password: "hunter2-secret"}}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("kafka", "security", c.Security)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%v", c.Security), logged.String()} {
		assert.NotContains(t, out, "hunter2-secret")
		assert.Contains(t, out, "user=svc")
	}
}
