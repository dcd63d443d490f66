package kafka

import (
	"crypto/tls"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cantondex/platform/services/localca"
)

// Embedded is an in-process Kafka-protocol broker (kfake). State lives in memory unless dir
// is set, in which case it is persisted there.
type Embedded struct {
	cluster  *kfake.Cluster
	security Security
}

// EmbeddedOption configures StartEmbedded.
type EmbeddedOption func(*embeddedConfig) error

type embeddedConfig struct {
	opts     []kfake.Opt
	security Security
}

// EmbeddedTLS makes the broker serve TLS only, with a certificate for 127.0.0.1 and localhost
// signed by a certificate authority generated for it (services/localca); the authority's
// certificate is written to certDir/kafka-ca.pem, which Embedded.Cluster names as the CA file.
func EmbeddedTLS(certDir string) EmbeddedOption {
	return func(c *embeddedConfig) error {
		f, err := localca.Write(certDir, "kafka")
		if err != nil {
			return fmt.Errorf("embedded kafka TLS: %w", err)
		}
		c.opts = append(c.opts, kfake.TLS(&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{f.Cert}}))
		c.security.TLS = true
		c.security.CAFile = f.CAFile
		return nil
	}
}

// EmbeddedSASL makes the broker require SASL authentication with mechanism (PLAIN or
// SCRAM-SHA-512), user being its one (super)user.
func EmbeddedSASL(mechanism Mechanism, user, password string) EmbeddedOption {
	return func(c *embeddedConfig) error {
		if mechanism != MechanismPlain && mechanism != MechanismSCRAMSHA512 {
			return fmt.Errorf("embedded kafka: SASL mechanism %q not supported (PLAIN or SCRAM-SHA-512)", mechanism)
		}
		c.opts = append(c.opts, kfake.EnableSASL(), kfake.Superuser(string(mechanism), user, password))
		c.security.Mechanism = mechanism
		c.security.Username = user
		c.security.Password = password
		return nil
	}
}

// StartEmbedded starts a one-broker cluster on a free local port, plaintext without
// authentication unless options say otherwise.
func StartEmbedded(dir string, options ...EmbeddedOption) (*Embedded, error) {
	cfg := embeddedConfig{opts: []kfake.Opt{kfake.NumBrokers(1)}}
	if dir != "" {
		cfg.opts = append(cfg.opts, kfake.DataDir(dir))
	}
	for _, o := range options {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	c, err := kfake.NewCluster(cfg.opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	return &Embedded{cluster: c, security: cfg.security}, nil
}

// Brokers returns the addresses to connect to.
func (e *Embedded) Brokers() []string { return e.cluster.ListenAddrs() }

// Cluster returns the addresses and the security a client needs to connect.
func (e *Embedded) Cluster() Cluster { return Cluster{Brokers: e.Brokers(), Security: e.security} }

// Close stops the broker.
func (e *Embedded) Close() { e.cluster.Close() }
