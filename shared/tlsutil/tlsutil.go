// Package tlsutil builds the mutual-TLS configurations of the report API:
// certificates are read again on every handshake after a Reload, and a
// peer is named by its certificate's common name and DNS names.
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
)

// Files are the PEM files of one side of a connection.
type Files struct {
	Cert, Key string
	// CA verifies the other side.
	CA string
}

// Config is a TLS configuration whose files can be read again.
type Config struct {
	files Files
	cert  atomic.Pointer[tls.Certificate]
	pool  atomic.Pointer[x509.CertPool]
}

// Load reads the files; Reload reads them again.
func Load(f Files) (*Config, error) {
	c := &Config{files: f}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again; on error the old ones stay in use.
func (c *Config) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.files.Cert, c.files.Key)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", c.files.Cert, c.files.Key, err)
	}
	pem, err := os.ReadFile(c.files.CA)
	if err != nil {
		return fmt.Errorf("TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("TLS CA %s: no PEM certificate in it", c.files.CA)
	}
	c.cert.Store(&cert)
	c.pool.Store(pool)
	return nil
}

// Server returns a server configuration that requires a client
// certificate signed by the CA.
func (c *Config) Server() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*c.cert.Load()},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    c.pool.Load(),
			}, nil
		},
	}
}

// Client returns a client configuration that presents the certificate
// and verifies the server against the CA.
func (c *Config) Client() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    c.pool.Load(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.cert.Load(), nil
		},
	}
}

// Names returns the common name and DNS names of a verified peer's
// certificate.
func Names(state *tls.ConnectionState) ([]string, error) {
	if state == nil || len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) == 0 {
		return nil, errors.New("no verified client certificate")
	}
	leaf := state.VerifiedChains[0][0]
	names := append([]string{}, leaf.DNSNames...)
	if leaf.Subject.CommonName != "" && !slices.Contains(names, leaf.Subject.CommonName) {
		names = append(names, leaf.Subject.CommonName)
	}
	return names, nil
}
