// Package localca makes what TLS needs on one machine: a fresh certificate authority and a
// server certificate it signs for the loopback addresses and localhost, written as PEM files.
// The in-process Kafka broker and the test Redis servers serve TLS with it, so clients are
// exercised with real certificate verification (a CA file, never InsecureSkipVerify).
package localca

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
)

// Validity is how long the certificates are valid (from an hour ago, for clock skew).
const Validity = 7 * 24 * time.Hour

// Files are a certificate authority and a server certificate it signed, as PEM files.
type Files struct {
	CAFile, CertFile, KeyFile string
	// CA is the authority's certificate; Cert the server certificate with its chain and key,
	// ready for a Go server's tls.Config.
	CA   *x509.Certificate
	Cert tls.Certificate
}

// ClientConfig trusts the authority alone.
func (f *Files) ClientConfig() *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(f.CA)
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// Write generates an authority and a server certificate for 127.0.0.1, ::1 and localhost,
// and writes them into dir as name-ca.pem, name-cert.pem and name-key.pem (mode 0600).
func Write(dir, name string) (*Files, error) {
	f, err := write(dir, name)
	if err != nil {
		return nil, fmt.Errorf("local CA %s: %w", name, err)
	}
	return f, nil
}

func write(dir, name string) (*Files, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: name + " local CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(Validity),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if caTmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(Validity),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	f := &Files{
		CAFile: filepath.Join(dir, name+"-ca.pem"), CertFile: filepath.Join(dir, name+"-cert.pem"),
		KeyFile: filepath.Join(dir, name+"-key.pem"), CA: ca,
		Cert: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key},
	}
	for _, w := range []struct {
		file  string
		block *pem.Block
	}{
		{f.CAFile, &pem.Block{Type: "CERTIFICATE", Bytes: caDER}},
		{f.CertFile, &pem.Block{Type: "CERTIFICATE", Bytes: der}},
		{f.KeyFile, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}},
	} {
		if err := os.WriteFile(w.file, pem.EncodeToMemory(w.block), 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func serial() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) }
