package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
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
// signed by a certificate authority generated for it; the authority's certificate is written
// to certDir/ca.pem, which Embedded.Cluster names as the CA file.
func EmbeddedTLS(certDir string) EmbeddedOption {
	return func(c *embeddedConfig) error {
		caFile := filepath.Join(certDir, "ca.pem")
		cert, err := issueLocalCert(caFile)
		if err != nil {
			return fmt.Errorf("embedded kafka TLS: %w", err)
		}
		c.opts = append(c.opts, kfake.TLS(&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}))
		c.security.TLS = true
		c.security.CAFile = caFile
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

// issueLocalCert generates a certificate authority, writes its certificate to caFile and
// returns a server certificate it signed for 127.0.0.1, ::1 and localhost.
func issueLocalCert(caFile string) (tls.Certificate, error) {
	now := time.Now()
	caSerial, err := serial()
	if err != nil {
		return tls.Certificate{}, err
	}
	leafSerial, err := serial()
	if err != nil {
		return tls.Certificate{}, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	ca := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: "cantondex embedded kafka CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := &x509.Certificate{
		SerialNumber: leafSerial,
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, nil
}

func serial() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) }
