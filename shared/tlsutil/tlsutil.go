// Package tlsutil builds the mutual-TLS configurations of the report API:
// certificates are read again on every handshake after a Reload, and a
// peer is named by its certificate's common name and DNS names.
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Files are the PEM files of one side of a connection.
type Files struct {
	Cert, Key string
	// CA verifies the other side.
	CA string
}

// Config is a TLS configuration whose files can be read again, or
// replaced by others.
type Config struct {
	mu    sync.Mutex
	files Files
	cert  atomic.Pointer[tls.Certificate]
	pool  atomic.Pointer[x509.CertPool]
	// expiry are the files' certificates' ends: the own one's, and the
	// CA's that ends first.
	expiry atomic.Pointer[[2]time.Time]
}

// ExpiryWarning is how long before a certificate ends it is warned of.
const ExpiryWarning = 30 * 24 * time.Hour

// Expiry returns when the own certificate ends, and when the first of
// the CA certificates does.
func (c *Config) Expiry() (own, ca time.Time) {
	e := c.expiry.Load()
	return e[0], e[1]
}

// Warnings says which certificates end within ExpiryWarning of now.
func (c *Config) Warnings(now time.Time) []string {
	own, ca := c.Expiry()
	c.mu.Lock()
	f := c.files
	c.mu.Unlock()
	var out []string
	for _, x := range []struct {
		what string
		end  time.Time
	}{{"certificate " + f.Cert, own}, {"CA certificate " + f.CA, ca}} {
		if left := x.end.Sub(now); left < ExpiryWarning {
			out = append(out, fmt.Sprintf("%s ends in %d days (%s): renew it and reload", x.what, int(left.Hours()/24), x.end.UTC().Format(time.DateOnly)))
		}
	}
	return out
}

// Load reads the files; Reload reads them again.
func Load(f Files) (*Config, error) {
	c := &Config{}
	if err := c.Use(f); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again; on error the old ones stay in use.
func (c *Config) Reload() error {
	c.mu.Lock()
	f := c.files
	c.mu.Unlock()
	return c.Use(f)
}

// Use reads other files (a reload that names new paths) and uses them
// from the next handshake on; on error the old ones stay in use.
func (c *Config) Use(f Files) error {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", f.Cert, f.Key, err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return fmt.Errorf("TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("TLS CA %s: no PEM certificate in it", f.CA)
	}
	var ends [2]time.Time
	if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
		ends[0] = leaf.NotAfter
	}
	for rest := caPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if ca, err := x509.ParseCertificate(block.Bytes); err == nil && (ends[1].IsZero() || ca.NotAfter.Before(ends[1])) {
			ends[1] = ca.NotAfter
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files = f
	c.cert.Store(&cert)
	c.pool.Store(pool)
	c.expiry.Store(&ends)
	return nil
}

// Check reads the files as Load would, and says what is wrong with them.
func Check(f Files) error {
	_, err := Load(f)
	return err
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
