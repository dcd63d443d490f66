package kafka

import (
	"context"
	"encoding/base64"
	"net/url"
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
