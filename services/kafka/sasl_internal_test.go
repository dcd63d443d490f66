package kafka

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// staticCreds is a credential provider that counts how often it is asked (once per token
// signed).
type staticCreds struct{ calls atomic.Int32 }

func (s *staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	s.calls.Add(1)
	return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "session", Source: "test"}, nil
}

// decodeToken returns the presigned URL an MSK IAM token carries.
func decodeToken(t *testing.T, tok string) *url.URL {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	u, err := url.Parse(string(raw))
	require.NoError(t, err)
	return u
}

func TestMSKTokenIsAPresignedConnectRequest(t *testing.T) {
	creds := &staticCreds{}
	p, err := newMSKTokenProvider("eu-west-1", creds)
	require.NoError(t, err)
	tok, err := p.Token()
	require.NoError(t, err)
	u := decodeToken(t, tok.Token)
	q := u.Query()
	assert.Equal(t, "kafka.eu-west-1.amazonaws.com", u.Host)
	assert.Equal(t, "kafka-cluster:Connect", q.Get("Action"))
	assert.True(t, strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDEXAMPLE/"), q.Get("X-Amz-Credential"))
	assert.Contains(t, q.Get("X-Amz-Credential"), "/eu-west-1/kafka-cluster/aws4_request")
	assert.Equal(t, "session", q.Get("X-Amz-Security-Token"))
	assert.Equal(t, "900", q.Get("X-Amz-Expires"))
	assert.NotEmpty(t, q.Get("X-Amz-Signature"))
	assert.Equal(t, int32(1), creds.calls.Load())
}

func TestMSKTokenIsReusedThenRefreshedBeforeExpiry(t *testing.T) {
	creds := &staticCreds{}
	p, err := newMSKTokenProvider("eu-west-1", creds)
	require.NoError(t, err)
	now := time.Now()
	p.now = func() time.Time { return now }

	_, err = p.Token()
	require.NoError(t, err)
	now = now.Add(5 * time.Minute) // a third of the 15-minute lifetime: reused
	_, err = p.Token()
	require.NoError(t, err)
	assert.Equal(t, int32(1), creds.calls.Load(), "a fresh token is signed again")

	now = now.Add(7*time.Minute + 30*time.Second) // 12.5 minutes: past 80%, still before expiry
	tok, err := p.Token()
	require.NoError(t, err)
	assert.Equal(t, int32(2), creds.calls.Load(), "a token near expiry is not refreshed")
	assert.NotEmpty(t, tok.Token)
}

func TestMSKTokenErrorNamesTheRegion(t *testing.T) {
	p, err := newMSKTokenProvider("eu-west-1", aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, nil // no credentials found
	}))
	require.NoError(t, err)
	_, err = p.Token()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AWS_MSK_IAM")
}

func TestMSKIAMSaramaConfig(t *testing.T) {
	creds := &staticCreds{}
	c := Cluster{Brokers: []string{"b-1.example:9098"}, Security: Security{TLS: true, Mechanism: MechanismAWSMSKIAM, Region: "eu-west-1", Credentials: creds}}
	cfg, err := c.Config("svc")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.True(t, cfg.Net.TLS.Enable)
	require.NotNil(t, cfg.Net.TLS.Config)
	assert.Nil(t, cfg.Net.TLS.Config.RootCAs, "system roots")
	assert.True(t, cfg.Net.SASL.Enable)
	assert.Equal(t, sarama.SASLMechanism(sarama.SASLTypeOAuth), cfg.Net.SASL.Mechanism)
	require.NotNil(t, cfg.Net.SASL.TokenProvider)
	tok, err := cfg.Net.SASL.TokenProvider.Token()
	require.NoError(t, err)
	assert.Equal(t, "kafka.eu-west-1.amazonaws.com", decodeToken(t, tok.Token).Host)
}

func TestNoneSecurityIsThePlainConfig(t *testing.T) {
	cfg, err := Cluster{Brokers: []string{"127.0.0.1:9092"}}.Config("svc")
	require.NoError(t, err)
	assert.Equal(t, baseConfig("svc").Net, cfg.Net)
}

// mskMockBroker is sarama's mock broker behind a TLS listener (kfake does not speak
// OAUTHBEARER), offering OAUTHBEARER and answering authentications with auth; it returns the
// broker and the CA file that trusts it.
func mskMockBroker(t *testing.T, auth *sarama.MockSaslAuthenticateResponse) (*sarama.MockBroker, string) {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert, err := issueLocalCert(caFile)
	require.NoError(t, err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})
	require.NoError(t, err)
	mb := sarama.NewMockBrokerListener(t, 1, ln)
	t.Cleanup(mb.Close)
	mb.SetHandlerByMap(map[string]sarama.MockResponse{
		"ApiVersionsRequest": sarama.NewMockApiVersionsResponse(t).SetApiKeys([]sarama.ApiVersionsResponseKey{
			{ApiKey: 3, MinVersion: 0, MaxVersion: 12}, // Metadata
			{ApiKey: 17, MinVersion: 0, MaxVersion: 1}, // SaslHandshake
			{ApiKey: 18, MinVersion: 0, MaxVersion: 3}, // ApiVersions
			{ApiKey: 36, MinVersion: 0, MaxVersion: 2}, // SaslAuthenticate
		}),
		"SaslHandshakeRequest":    sarama.NewMockSaslHandshakeResponse(t).SetEnabledMechanisms([]string{sarama.SASLTypeOAuth}),
		"SaslAuthenticateRequest": auth,
		"MetadataRequest":         sarama.NewMockMetadataResponse(t).SetBroker(mb.Addr(), mb.BrokerID()).SetController(mb.BrokerID()),
	})
	return mb, caFile
}

func mskCluster(mb *sarama.MockBroker, caFile string, creds aws.CredentialsProvider) Cluster {
	return Cluster{Brokers: []string{mb.Addr()}, Security: Security{TLS: true, CAFile: caFile, Mechanism: MechanismAWSMSKIAM, Region: "eu-west-1", Credentials: creds}}
}

// A sarama client configured for AWS_MSK_IAM opens TLS to the broker, asks for OAUTHBEARER and
// presents the signed token as its bearer.
func TestMSKIAMClientAuthenticatesWithTheTokenOverTLS(t *testing.T) {
	mb, caFile := mskMockBroker(t, sarama.NewMockSaslAuthenticateResponse(t))
	c := mskCluster(mb, caFile, &staticCreds{})
	cfg, err := c.Config("iam-client")
	require.NoError(t, err)
	client, err := sarama.NewClient(c.Brokers, cfg)
	require.NoError(t, err)
	require.NoError(t, client.Close())

	var handshake *sarama.SaslHandshakeRequest
	var auth *sarama.SaslAuthenticateRequest
	for _, rr := range mb.History() {
		switch r := rr.Request.(type) {
		case *sarama.SaslHandshakeRequest:
			handshake = r
		case *sarama.SaslAuthenticateRequest:
			auth = r
		}
	}
	require.NotNil(t, handshake, "no SASL handshake")
	assert.Equal(t, sarama.SASLTypeOAuth, handshake.Mechanism)
	require.NotNil(t, auth, "no SASL authentication")
	// RFC 7628 initial client response: n,,\x01auth=Bearer <token>\x01\x01
	msg := string(auth.SaslAuthBytes)
	require.True(t, strings.HasPrefix(msg, "n,,\x01auth=Bearer "), "%q", msg)
	tok := strings.TrimSuffix(strings.TrimPrefix(msg, "n,,\x01auth=Bearer "), "\x01\x01")
	u := decodeToken(t, tok)
	assert.Equal(t, "kafka.eu-west-1.amazonaws.com", u.Host)
	assert.True(t, strings.HasPrefix(u.Query().Get("X-Amz-Credential"), "AKIDEXAMPLE/"))
}

func TestMSKIAMRefusalFailsNamingTheSetting(t *testing.T) {
	mb, caFile := mskMockBroker(t, sarama.NewMockSaslAuthenticateResponse(t).SetError(sarama.ErrSASLAuthenticationFailed))
	_, err := NewProducer(mskCluster(mb, caFile, &staticCreds{}), "iam-refused")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AWS_MSK_IAM")
	assert.Contains(t, err.Error(), "AWS_REGION")
}
