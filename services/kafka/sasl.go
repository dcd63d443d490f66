package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/xdg-go/scram"
)

// scramClient is sarama's SCRAM client over xdg-go/scram.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func newSCRAMSHA512Client() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }

func (c *scramClient) Begin(user, password, authzID string) error {
	cl, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }

// tokenTimeout bounds the signing of one MSK token (credential retrieval included: the
// web-identity exchange with STS under IRSA).
const tokenTimeout = 10 * time.Second

// mskTokenProvider hands sarama MSK IAM tokens (SASL/OAUTHBEARER). It reuses a token until
// refreshFraction of its lifetime has passed, so every connection (and every re-authentication,
// KIP-368, that sarama does when the broker gives a session lifetime) presents a token that is
// far from expiry.
type mskTokenProvider struct {
	region string
	creds  aws.CredentialsProvider
	now    func() time.Time
	sign   func(ctx context.Context, region string, creds aws.CredentialsProvider) (string, int64, error)

	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

// refreshFraction of a token's lifetime after which a new one is signed.
const refreshFraction = 0.8

// newMSKTokenProvider signs tokens for region with creds, or with the default AWS credential
// chain (environment, IRSA web identity, instance role) when creds is nil.
func newMSKTokenProvider(region string, creds aws.CredentialsProvider) (*mskTokenProvider, error) {
	if creds == nil {
		ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
		defer cancel()
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("AWS_MSK_IAM: load the AWS configuration: %w", err)
		}
		creds = cfg.Credentials
	}
	return &mskTokenProvider{region: region, creds: creds, now: time.Now, sign: signer.GenerateAuthTokenFromCredentialsProvider}, nil
}

// Token returns the current token, signing a new one when the current one is past
// refreshFraction of its lifetime.
func (p *mskTokenProvider) Token() (*sarama.AccessToken, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.token != "" && now.Before(p.refreshAt) {
		return &sarama.AccessToken{Token: p.token}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	tok, expiresMs, err := p.sign(ctx, p.region, p.creds)
	if err != nil {
		return nil, fmt.Errorf("AWS_MSK_IAM: sign a token for %s=%s: %w", EnvAWSRegion, p.region, err)
	}
	expires := time.UnixMilli(expiresMs)
	p.token = tok
	p.refreshAt = now.Add(time.Duration(float64(expires.Sub(now)) * refreshFraction))
	return &sarama.AccessToken{Token: tok}, nil
}
