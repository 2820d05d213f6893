package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/tlsutil"
	testpki "github.com/vmroute/vmroute/tests/pki"
)

func parse(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssue(t *testing.T) {
	dir := t.TempDir() + "/pki"
	if _, err := Init(dir, 2*DefaultValidity); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, DefaultValidity); err == nil || !strings.Contains(err.Error(), "already holds a CA") {
		t.Errorf("a second Init: %v", err)
	}
	ca, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rcert, rkey, err := ca.Issue(Routeragent, "router-a.example.net", []string{"router-a.example.net", "127.0.0.1", "router-a"}, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	hcert, hkey, err := ca.Issue(Hostagent, "hostagent:/DC/host/Stretched", nil, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.Issue(Operator, "ops", []string{"x"}, DefaultValidity); err == nil {
		t.Error("an operator certificate took a SAN")
	}
	for _, key := range []string{rkey, hkey, dir + "/ca.key"} {
		if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", key, st.Mode().Perm(), err)
		}
	}
	r := parse(t, rcert)
	if !slices.Equal(r.DNSNames, []string{"router-a.example.net", "router-a"}) || len(r.IPAddresses) != 1 ||
		!slices.Contains(r.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(r.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("routeragent certificate: DNS %v, IPs %v, usages %v", r.DNSNames, r.IPAddresses, r.ExtKeyUsage)
	}
	if d := time.Until(r.NotAfter); d < DefaultValidity-time.Hour || d > DefaultValidity+time.Hour {
		t.Errorf("valid for %v, want a year", d)
	}
	h := parse(t, hcert)
	if h.Subject.CommonName != "hostagent:/DC/host/Stretched" || len(h.DNSNames) != 0 || slices.Contains(h.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("hostagent certificate: %v %v %v", h.Subject, h.DNSNames, h.ExtKeyUsage)
	}

	// They work together as the agents use them: mutual TLS, and the
	// hostagent named by its identity.
	server, err := tlsutil.Load(tlsutil.Files{Cert: rcert, Key: rkey, CA: ca.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	client, err := tlsutil.Load(tlsutil.Files{Cert: hcert, Key: hkey, CA: ca.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	if got := testpki.Handshake(t, server.Server(), client.Client(), "127.0.0.1"); !slices.Equal(got, []string{"hostagent:/DC/host/Stretched"}) {
		t.Errorf("the routeragent sees %v", got)
	}
}

func TestCertificateNeverOutlivesTheCA(t *testing.T) {
	ca, err := Init(t.TempDir(), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := ca.Issue(Operator, "ops", nil, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	if cert := parse(t, c); cert.NotAfter.After(ca.cert.NotAfter) {
		t.Errorf("valid until %v, after the CA's %v", cert.NotAfter, ca.cert.NotAfter)
	}
}

// Catches a CA without its path-length limit or a leaf that could sign:
// the CA signs leaves only (CertSign, path length 0), and a leaf signs
// handshakes only. A certificate that an intermediate below the CA
// signed must not verify.
func TestTheCASignsLeavesOnly(t *testing.T) {
	ca, err := Init(t.TempDir(), DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.cert
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero || c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("CA: is CA %v, path length %d (zero %v), key usage %v", c.IsCA, c.MaxPathLen, c.MaxPathLenZero, c.KeyUsage)
	}
	for _, kind := range []Kind{Routeragent, Hostagent, Operator} {
		certFile, _, err := ca.Issue(kind, "leaf-"+string(kind), nil, DefaultValidity)
		if err != nil {
			t.Fatal(err)
		}
		l := parse(t, certFile)
		if l.IsCA || l.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("%s certificate: is CA %v, key usage %v; want a leaf for signatures alone", kind, l.IsCA, l.KeyUsage)
		}
	}
	// An intermediate signed with the CA's key, and a leaf below it.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	im := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "rogue intermediate"}, NotBefore: now.Add(-time.Minute),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	imDER, err := x509.CreateCertificate(rand.Reader, im, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	imCert, _ := x509.ParseCertificate(imDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "router-x"}, DNSNames: []string{"router-x"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, imCert, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leafCert, _ := x509.ParseCertificate(leafDER)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca.cert)
	inter.AddCert(imCert)
	if _, err := leafCert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "router-x"}); err == nil {
		t.Error("a certificate signed by an intermediate below the CA verifies")
	}
}

// Catches certificates valid only from the second they were made: a
// machine whose clock is a little behind the CA's would refuse them. The
// CA and each leaf are valid from five minutes before.
func TestCertificatesAllowForClockSkew(t *testing.T) {
	ca, err := Init(t.TempDir(), DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	certFile, _, err := ca.Issue(Hostagent, "hostagent:c", nil, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{ca.cert, parse(t, certFile)} {
		if ahead := time.Until(c.NotBefore); ahead > -4*time.Minute {
			t.Errorf("%s valid from %s from now, want five minutes before", c.Subject.CommonName, ahead.Round(time.Second))
		}
	}
}

// Catches a file name that keeps a path's separators, or a key written
// over an existing file keeping that file's looser mode.
func TestIssuedFiles(t *testing.T) {
	for name, want := range map[string]string{
		"hostagent:/DC/host/Stretched cluster": "hostagent__DC_host_Stretched_cluster",
		`ops\desk`:                             "ops_desk",
		"router-a.example.net":                 "router-a.example.net",
	} {
		if got := fileName(name); got != want {
			t.Errorf("fileName(%q) = %q, want %q", name, got, want)
		}
	}
	ca, err := Init(t.TempDir(), DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	_, keyFile, err := ca.Issue(Operator, "ops", nil, DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, keyFile, err = ca.Issue(Operator, "ops", nil, DefaultValidity); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("a key issued again over a 0644 file: mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
}
