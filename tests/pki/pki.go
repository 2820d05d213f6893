// Package pki makes a throw-away certificate authority for tests and the
// lab: a CA, server certificates by name and address, and client
// certificates by name.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/tlsutil"
)

// CA is a test certificate authority writing its files into Dir.
type CA struct {
	Dir    string
	CAFile string
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	serial int64
}

// New makes a CA in a temporary directory of t.
func New(t testing.TB) *CA {
	t.Helper()
	ca, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// NewDir makes a CA writing its files into dir.
func NewDir(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vmroute test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{Dir: dir, cert: cert, key: key, serial: 1}
	ca.CAFile = filepath.Join(ca.Dir, "ca.crt")
	return ca, write(ca.CAFile, "CERTIFICATE", der)
}

// Issue makes a certificate for name (its CN and DNS name), valid for
// servers at the given IPs and for clients, and returns its files.
func (ca *CA) Issue(t testing.TB, name string, ips ...net.IP) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, err := ca.IssueFiles(name, ips...)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// IssueFiles is Issue outside a test.
func (ca *CA) IssueFiles(name string, ips ...net.IP) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}, IPAddresses: ips,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(ca.Dir, name+".crt"), filepath.Join(ca.Dir, name+".key")
	if err := write(certFile, "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	return certFile, keyFile, write(keyFile, "PRIVATE KEY", kder)
}

func write(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// Handshake runs a mutual TLS handshake over an in-memory pipe between
// server and client, which expects the server to be serverName, and
// returns the client's names as the server sees them (tlsutil.Names). A
// failed handshake fails t.
func Handshake(t testing.TB, server, client *tls.Config, serverName string) []string {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	// With TLS 1.3 the client is done before the server has checked its
	// certificate; a server that refuses it then writes an alert nobody
	// reads. The deadline makes that a failure, not a hang.
	deadline := time.Now().Add(10 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	names := make(chan []string, 1)
	go func() {
		s := tls.Server(a, server)
		if err := s.Handshake(); err != nil {
			names <- nil
			return
		}
		st := s.ConnectionState()
		n, _ := tlsutil.Names(&st)
		names <- n
	}()
	cc := client.Clone()
	cc.ServerName = serverName
	if err := tls.Client(b, cc).Handshake(); err != nil {
		t.Fatalf("mutual TLS with %s: %v", serverName, err)
	}
	return <-names
}
