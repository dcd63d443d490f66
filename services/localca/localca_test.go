package localca_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/localca"
)

// A TLS server with the certificate is verified by a client trusting the CA file alone, for
// every loopback name, and refused by a client trusting another authority.
func TestServerVerifiedByItsCAOnly(t *testing.T) {
	dir := t.TempDir()
	f, err := localca.Write(dir, "test")
	require.NoError(t, err)
	other, err := localca.Write(dir, "other")
	require.NoError(t, err)

	pemCA, err := os.ReadFile(f.CAFile)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pemCA), "CA file is PEM")
	_, err = tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	require.NoError(t, err, "cert and key files pair up")
	block, _ := pem.Decode(pemCA)
	require.NotNil(t, block)
	assert.Equal(t, f.CA.Raw, block.Bytes)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{f.Cert}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, name := range []string{"127.0.0.1", "localhost"} {
		cfg := &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}
		c, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", port), cfg)
		if assert.NoError(t, err, "verified as %s", name) {
			c.Close()
		}
	}
	c, err := tls.Dial("tcp", ln.Addr().String(), f.ClientConfig())
	if assert.NoError(t, err, "ClientConfig trusts the CA") {
		c.Close()
	}
	_, err = tls.Dial("tcp", ln.Addr().String(), other.ClientConfig())
	assert.Error(t, err, "another authority must not verify the server")
	_, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "example.com", MinVersion: tls.VersionTLS12})
	assert.Error(t, err, "a name the certificate does not carry must not verify")
}
