package tlsutil

import (
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/pki"
)

func TestExpiryAndRenewal(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.Init(dir, pki.DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Operator, "ops", nil, 10*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(Files{Cert: cert, Key: key, CA: ca.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	own, caEnd := c.Expiry()
	if d := time.Until(own); d < 9*24*time.Hour || d > 11*24*time.Hour {
		t.Errorf("own certificate ends in %v, want 10 days", d)
	}
	if d := time.Until(caEnd); d < 364*24*time.Hour {
		t.Errorf("CA ends in %v, want a year", d)
	}
	w := c.Warnings(time.Now())
	if len(w) != 1 || !strings.Contains(w[0], "certificate "+cert+" ends in 9 days") {
		t.Errorf("warnings %q, want the own certificate's, 9 full days left", w)
	}
	// Renewed in place: a reload reads the new one.
	if _, _, err := ca.Issue(pki.Operator, "ops", nil, pki.DefaultValidity); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(time.Now()); len(w) != 0 {
		t.Errorf("after renewal and reload: %q", w)
	}
}
