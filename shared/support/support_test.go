package support

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoSecret writes a bundle of a router and a hostagent whose
// configurations name a BGP password, a vCenter password and a TLS key,
// and one that holds a password inline; commands whose output carries
// them (as a careless log line would). No secret is in the bundle, in
// any encoding, and the rest is.
func TestNoSecret(t *testing.T) {
	etc := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	files := map[string]string{
		"routeragent.toml":    "site = \"A\"\n[api]\nkey_file = \"/ETC/tls/routeragent.key\"\n[[bgp.neighbors]]\naddress = \"192.0.2.1\"\npassword_file = \"bgp-password\"\n",
		"hostagent.toml":      "[vcenter]\nurl = \"https://vc.example.net/sdk\"\npassword_file = \"vcenter-password\"\npassword = \"inline-s3cret\"\n",
		"bgp-password":        "bgp-s3cret\n",
		"vcenter-password":    "vc-s3cret",
		"tls/routeragent.key": string(keyPEM),
	}
	_ = os.MkdirAll(filepath.Join(etc, "tls"), 0o755)
	for name, c := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(strings.ReplaceAll(c, "/ETC", etc)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	items := []Item{
		{Name: "config/routeragent.toml", File: filepath.Join(etc, "routeragent.toml")},
		{Name: "config/hostagent.toml", File: filepath.Join(etc, "hostagent.toml")},
		{Name: "journal.txt", Commands: [][]string{{"journalctl"}, {"false"}}},
		{Name: "missing.toml", File: filepath.Join(etc, "none.toml")},
	}
	run := func(_ context.Context, argv []string) ([]byte, error) {
		if argv[0] == "false" {
			return nil, errors.New("exit status 1")
		}
		return []byte("session up\nmd5 password bgp-s3cret\nkey " + string(keyPEM) + "login with vc-s3cret\n"), nil
	}
	var b bytes.Buffer
	if err := Write(context.Background(), &b, items, MachineScrubs(etc), run); err != nil {
		t.Fatal(err)
	}
	all := untar(t, b.Bytes())
	body := strings.Join(mapValues(all), "\n")
	for _, secret := range []string{"bgp-s3cret", "vc-s3cret", "inline-s3cret", string(der[len(der)-16:])} {
		for enc, v := range map[string]string{"plain": secret, "base64": base64.StdEncoding.EncodeToString([]byte(secret)), "hex": hex.EncodeToString([]byte(secret))} {
			if strings.Contains(body, v) {
				t.Errorf("the bundle holds a secret (%s, %s):\n%s", enc, v, body)
			}
		}
	}
	for _, l := range strings.Split(string(keyPEM), "\n") {
		if len(l) > 8 && !strings.HasPrefix(l, "-----") && strings.Contains(body, l) {
			t.Errorf("the bundle holds a line of the TLS key")
		}
	}
	for name, want := range map[string]string{
		"vmroute-support/config/routeragent.toml": `address = "192.0.2.1"`,
		"vmroute-support/config/hostagent.toml":   `password = "<redacted>"`,
		"vmroute-support/journal.txt":             "session up\nmd5 password <redacted>",
		"vmroute-support/missing.toml":            "no such file",
	} {
		if !strings.Contains(all[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, all[name])
		}
	}
	if !strings.Contains(all["vmroute-support/journal.txt"], "$ false\n# exit status 1") {
		t.Errorf("a failed command is not noted:\n%s", all["vmroute-support/journal.txt"])
	}
}

func untar(t *testing.T, b []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		c, _ := io.ReadAll(tr)
		out[h.Name] = string(c)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
