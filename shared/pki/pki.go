// Package pki is vmroute's own small certificate authority, behind
// `vmroutectl pki`: a CA, and certificates for routeragents (servers, and
// clients of the other routeragents), hostagents (clients, one per
// cluster) and operators (clients that read status). Keys are ECDSA
// P-256, written with mode 0600.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Kind is what a certificate is for.
type Kind string

// Kinds of certificates.
const (
	Routeragent Kind = "routeragent"
	Hostagent   Kind = "hostagent"
	Operator    Kind = "operator"
)

// DefaultValidity is a year.
const DefaultValidity = 365 * 24 * time.Hour

// CA is a certificate authority kept in a directory: ca.crt and ca.key.
type CA struct {
	Dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// CAFile returns the CA certificate's path.
func (ca *CA) CAFile() string { return filepath.Join(ca.Dir, "ca.crt") }

// Init makes a CA in dir, which it creates; an existing CA there is an
// error, never overwritten.
func Init(dir string, validity time.Duration) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err == nil {
		return nil, fmt.Errorf("%s already holds a CA (ca.key): not overwritten", dir)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "vmroute CA"},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(validity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ca := &CA{Dir: dir, key: key}
	if ca.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, "ca.key"), key); err != nil {
		return nil, err
	}
	return ca, write(ca.CAFile(), "CERTIFICATE", der, 0o644)
}

// Load reads the CA in dir.
func Load(dir string) (*CA, error) {
	ca := &CA{Dir: dir}
	b, err := os.ReadFile(ca.CAFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no CA in %s: run vmroutectl pki init first", dir)
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", ca.CAFile())
	}
	if ca.cert, err = x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("%s: %w", ca.CAFile(), err)
	}
	kb, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, err
	}
	if block, _ = pem.Decode(kb); block == nil {
		return nil, fmt.Errorf("%s: no PEM key", filepath.Join(dir, "ca.key"))
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca.key: %w", err)
	}
	var ok bool
	if ca.key, ok = k.(*ecdsa.PrivateKey); !ok {
		return nil, errors.New("ca.key is not an ECDSA key")
	}
	return ca, nil
}

// Issue makes a certificate of kind for name, valid for validity (no
// longer than the CA), into NAME.crt and NAME.key in the CA's directory.
// A routeragent's certificate serves at the host names and addresses of
// sans and is a client too (of the other routeragents); a hostagent's and
// an operator's are clients. name is the certificate's identity: its
// common name, and for a routeragent also a DNS name.
func (ca *CA) Issue(kind Kind, name string, sans []string, validity time.Duration) (certFile, keyFile string, err error) {
	if name == "" || strings.ContainsAny(name, "\x00\n") {
		return "", "", fmt.Errorf("certificate name %q: want a non-empty line", name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(validity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	switch kind {
	case Routeragent:
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.DNSNames = []string{name}
		for _, s := range sans {
			if ip := net.ParseIP(s); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else if s != name {
				tmpl.DNSNames = append(tmpl.DNSNames, s)
			}
		}
	case Hostagent, Operator:
		if len(sans) > 0 {
			return "", "", fmt.Errorf("a %s certificate is a client's: it takes no --san", kind)
		}
	default:
		return "", "", fmt.Errorf("%q is not routeragent, hostagent or operator", kind)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", err
	}
	base := fileName(name)
	certFile, keyFile = filepath.Join(ca.Dir, base+".crt"), filepath.Join(ca.Dir, base+".key")
	if err := writeKey(keyFile, key); err != nil {
		return "", "", err
	}
	return certFile, keyFile, write(certFile, "CERTIFICATE", der, 0o644)
}

// fileName makes a file name of a certificate name: a hostagent's
// identity holds its cluster's inventory path.
func fileName(name string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' || r == '\\' {
			return '_'
		}
		return r
	}, name), "_")
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return write(path, "PRIVATE KEY", der, 0o600)
}

// write writes a PEM file with mode perm, also over an existing file.
func write(path, typ string, der []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), perm); err != nil {
		return err
	}
	return os.Chmod(path, perm)
}
